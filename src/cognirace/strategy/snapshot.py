"""The race as the strategy sees it at one moment: what the Monte Carlo starts from.

A ``RaceSnapshot`` holds, per car, where it is and what the models expect of it next,
and for the race the clock, the caution state and the caution hazard ahead. It is
built from the live engine's state (``cognirace.realtime``) or from a lake race at a
lap (``snapshot_at``), and answered by ``simulate_rest``; the API takes and gives it as
JSON (``to_json`` / ``from_json``), every number with its unit in its name.

Nothing here is made up: an input a model could not give is ``None`` (fuel left without
the start fill, a car's pass probability before it has a car ahead), and the Monte
Carlo says what it does with one, never a silent default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from cognirace.errors import DataError


@dataclass(frozen=True)
class CarSnapshot:
    """One car at the snapshot.

    Attributes:
        car_number: Race number as text (``"021"`` and ``"21"`` are two cars).
        position: Position at its last crossing (1 = leader).
        laps: Laps completed.
        race_time_s: Time of its last crossing since the green flag, s.
        lap_time_p10_s, lap_time_p50_s, lap_time_p90_s: The ``laptime`` model's next
            green lap quantiles, s.
        tire_age_laps: Laps on the current set.
        deg_s_per_lap: The ``tire`` model's wear slope (s lost per lap of age), or None.
        fuel_left_l: Fuel left, l, or None (no start fill known).
        fuel_burn_l_per_lap: The ``fuel`` model's burn of a green lap, l, or None.
        p_pass_ahead: The ``traffic`` model's chance to pass the car ahead next lap.
        p_passed: Its chance to be passed by the car behind next lap.
        in_pit: In the pit lane now.
        running: Still in the race (False once retired).
        stops: Stops made so far.
        pace_fallback: The lap-time quantiles are not the ``laptime`` model's but the
            field's pace, given because the model has none for the car yet (before its
            first green lap; ``snapshot_at``'s ``pace_fallback``). What reads them says
            so (``Rejoin.pace_fallback``, the notes).
    """

    car_number: str
    position: int
    laps: int
    race_time_s: float
    lap_time_p10_s: float
    lap_time_p50_s: float
    lap_time_p90_s: float
    tire_age_laps: int
    deg_s_per_lap: float | None = None
    fuel_left_l: float | None = None
    fuel_burn_l_per_lap: float | None = None
    p_pass_ahead: float | None = None
    p_passed: float | None = None
    in_pit: bool = False
    running: bool = True
    stops: int = 0
    pace_fallback: bool = False


@dataclass(frozen=True)
class RaceSnapshot:
    """The race at the snapshot.

    Attributes:
        race_id: The race (as in the lake or the live engine).
        track: Track key (``barber``).
        lap: The leader's laps completed.
        time_left_s: Time left on the race clock, s (the race ends when the leader
            crosses after it runs out).
        caution: A full-course yellow is out now.
        caution_hazard: The ``fcy`` model's chance that a caution starts on each of the
            leader's next laps (index 0 = the next lap); the last value holds for the
            laps beyond.
        pit_loss_green_s: The ``pitloss`` model's loss of a tire change under green, s.
        pit_loss_caution_s: The same under a caution, s.
        caution_lap_s: A lap behind the safety car, s (the field's pace under caution),
            or None (the Monte Carlo then uses the track's typical ratio, and says so).
        cars: Every car, in position order.
    """

    race_id: str
    track: str
    lap: int
    time_left_s: float
    caution: bool
    caution_hazard: tuple[float, ...]
    pit_loss_green_s: float
    pit_loss_caution_s: float
    cars: tuple[CarSnapshot, ...]
    caution_lap_s: float | None = None
    notes: tuple[str, ...] = field(default=())
    """What the snapshot could not fill and how (for the strategy's answer)."""

    def __post_init__(self) -> None:
        check_snapshot(self)

    def car(self, car_number: str) -> CarSnapshot:
        """The car, by number as text.

        Raises:
            DataError: No such car.
        """
        for car in self.cars:
            if car.car_number == car_number:
                return car
        raise DataError(f"no car {car_number!r} in race {self.race_id!r}",
                        value=car_number, hint="car numbers are text, e.g. \"021\"; cars: "
                        + ", ".join(c.car_number for c in self.cars[:40]))

    def to_json(self) -> dict[str, Any]:
        """As the API gives it."""
        out = asdict(self)
        out["caution_hazard"] = list(self.caution_hazard)
        out["notes"] = list(self.notes)
        return out

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> RaceSnapshot:
        """From the API's JSON (``to_json``'s shape).

        Raises:
            DataError: A field is missing or out of range (named).
        """
        try:
            cars = tuple(CarSnapshot(**car) for car in body["cars"])
            rest = {k: v for k, v in body.items() if k != "cars"}
            rest["caution_hazard"] = tuple(rest.get("caution_hazard", ()))
            rest["notes"] = tuple(rest.get("notes", ()))
            return cls(**rest, cars=cars)
        except (KeyError, TypeError) as exc:
            raise DataError(f"not a race snapshot: {exc}",
                            hint="see RaceSnapshot in the API's schema") from None


def _finite(value: float | None, name: str, low: float, high: float) -> None:
    if value is None:
        return
    if not math.isfinite(value) or not low <= value <= high:
        raise DataError(f"{name} must be within {low}..{high}", column=name, value=value)


def check_snapshot(snap: RaceSnapshot) -> None:
    """Refuse a snapshot the Monte Carlo cannot start from, naming the field.

    Raises:
        DataError: A value out of range, no cars, a car twice, positions not 1..n.
    """
    if not snap.cars:
        raise DataError("a snapshot needs at least one car", column="cars")
    _finite(snap.time_left_s, "time_left_s", -3600.0, 6 * 3600.0)
    _finite(snap.pit_loss_green_s, "pit_loss_green_s", 0.0, 600.0)
    _finite(snap.pit_loss_caution_s, "pit_loss_caution_s", 0.0, 600.0)
    _finite(snap.caution_lap_s, "caution_lap_s", 1.0, 1000.0)
    if not snap.caution_hazard:
        raise DataError("caution_hazard needs at least one lap's chance",
                        column="caution_hazard")
    for i, p in enumerate(snap.caution_hazard):
        _finite(p, f"caution_hazard[{i}]", 0.0, 1.0)
    numbers = [c.car_number for c in snap.cars]
    if len(set(numbers)) != len(numbers):
        raise DataError("a car is in the snapshot twice", column="cars.car_number",
                        value=sorted(n for n in numbers if numbers.count(n) > 1)[0])
    for i, car in enumerate(snap.cars):
        where = f"cars[{i}]"
        if not isinstance(car.car_number, str):
            raise DataError("car numbers are text", column=f"{where}.car_number",
                            value=car.car_number)
        _finite(car.race_time_s, f"{where}.race_time_s", 0.0, 10 * 3600.0)
        low = car.lap_time_p10_s
        if not (math.isfinite(low) and 1.0 <= low <= car.lap_time_p50_s
                <= car.lap_time_p90_s <= 1000.0):
            raise DataError("lap time quantiles must be finite and P10 <= P50 <= P90",
                            column=f"{where}.lap_time_p50_s",
                            value=(car.lap_time_p10_s, car.lap_time_p50_s,
                                   car.lap_time_p90_s))
        _finite(car.deg_s_per_lap, f"{where}.deg_s_per_lap", -1.0, 2.0)
        _finite(car.fuel_left_l, f"{where}.fuel_left_l", 0.0, 200.0)
        _finite(car.fuel_burn_l_per_lap, f"{where}.fuel_burn_l_per_lap", 0.0, 20.0)
        _finite(car.p_pass_ahead, f"{where}.p_pass_ahead", 0.0, 1.0)
        _finite(car.p_passed, f"{where}.p_passed", 0.0, 1.0)
        if car.laps < 0 or car.tire_age_laps < 0:
            raise DataError("laps and tire age are never negative", column=where,
                            value=(car.laps, car.tire_age_laps))
    positions = sorted(c.position for c in snap.cars)
    if positions != list(range(1, len(positions) + 1)):
        raise DataError("positions must be 1..n, each once", column="cars.position",
                        value=positions[:10])


def ordered(cars: Sequence[CarSnapshot]) -> tuple[CarSnapshot, ...]:
    """Cars in position order."""
    return tuple(sorted(cars, key=lambda c: c.position))


__all__ = ["CarSnapshot", "RaceSnapshot", "check_snapshot", "ordered"]
