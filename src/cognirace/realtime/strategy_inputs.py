"""The strategy's race snapshot from a live engine's state: ``snapshot_from_engine``.

The engine already holds every answer the snapshot needs (``RaceEngine`` asks each
model as the laps complete), so nothing is asked again here: the tower gives positions,
laps, race times, stops and the clock, and each car's latest answers the rest. The rules
are ``strategy.snapshot_at``'s, so a live snapshot and one built from the lake at the
same moment agree (``tests/realtime/test_strategy_inputs.py`` says on which fields):

- a car with no lap done yet is left out (it has no lap row, so no answer), and named;
  so is a car out of the race without lap-time quantiles (it stopped before its first
  green lap);
- a pass probability is kept only from the graph of the line before the leader's lap
  (an older one belongs to another race order); the leader has no car to pass;
- a fuel burn is kept only when the car's last lap was raced under green (a caution or
  pit lap burns less); fuel left only when every lap of the race so far was answered
  (the engine's sum would otherwise be short);
- the hazard of the laps ahead is ``answers.caution_hazard`` of the engine's latest
  ``fcy`` answer; none once the clock has run out;
- the lap-time quantiles, the pit losses and the hazard are required: without them a
  ``DataError`` names the model.

The tower counts a car's tire age as ``snapshot_at`` does: laps run on the set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cognirace.domain.formats import FLAG_CAUTION
from cognirace.errors import DataError
from cognirace.realtime.tower import CarState, Tower
from cognirace.strategy.answers import FuelStart, caution_hazard, finite_or_none, start_fill
from cognirace.strategy.snapshot import CarSnapshot, RaceSnapshot
from cognirace.strategy.snapshot_at import STOPPED_BEST_LAPS

if TYPE_CHECKING:
    from cognirace.realtime.engine import RaceEngine

_NEED_HINT = ("load the task's production model into the engine; it answers from the "
              "next crossing on")


def _required(name: str, what: str, detail: str = "") -> DataError:
    return DataError(f"a race snapshot needs the {name!r} model for {what}{detail}",
                     value=name, hint=_NEED_HINT)


def _running(tower: Tower, car: CarState) -> bool:
    """The tower's rule: no crossing for ``STOPPED_BEST_LAPS`` best laps is out."""
    if tower.clock is None or car.last_crossing is None or car.best_lap_s is None:
        return True
    quiet_s = (tower.clock - car.last_crossing).total_seconds()
    return quiet_s <= STOPPED_BEST_LAPS * car.best_lap_s


def _last_lap_green(car: CarState) -> bool:
    """Whether the car's last lap was raced under green, by the tower's rule: the tower
    keeps such laps' times (``green_laps``), and nothing else, as they come."""
    return bool(car.green_laps) and car.last_lap_s is not None \
        and car.green_laps[-1] == car.last_lap_s


def _tire_age(car: CarState) -> int:
    """Laps run on the current set (see the module docstring)."""
    return car.tire_age_laps


def _pit_losses(cars: list[CarState]) -> tuple[float, float]:
    for car in cars:
        stops = car.predictions.get("pitloss")
        if stops and "pit_loss_green_s" in stops and "pit_loss_caution_s" in stops:
            return float(stops["pit_loss_green_s"]), float(stops["pit_loss_caution_s"])
    raise _required("pitloss", "pit losses")


def _hazard(engine: RaceEngine, lap: int, time_left_s: float, notes: list[str]
            ) -> tuple[float, ...]:
    if time_left_s <= 0.0:
        notes.append("fcy: the clock has run out; no caution can start (hazard 0)")
        return (0.0,)
    answer = engine.predictions.get("fcy")
    if answer is None:
        raise _required("fcy", "caution hazard", " (no answer yet: before the first green "
                        "leader lap, or the model is not loaded)")
    if answer.get("lap") is not None and int(answer["lap"]) != lap:
        notes.append(f"fcy: hazard of leader lap {int(answer['lap'])}, its last lap with "
                     "a row (a caution is out)")
    return caution_hazard(answer)


def _fuel(engine: RaceEngine, car: CarState, fuel_start_l: FuelStart
          ) -> tuple[float | None, float | None]:
    """Burn of a green lap and fuel left, l (see the module docstring)."""
    answer = car.predictions.get("fuel")
    burn = None if answer is None or not _last_lap_green(car) \
        else finite_or_none(answer["fuel_used_pred_l"])
    short = any(engine.model_skips.get(k) for k in ("fuel", "fuel:not_loaded"))
    start = car.fuel_start_l if fuel_start_l is None else start_fill(fuel_start_l,
                                                                     car.car_number)
    left = None if start is None or short else start - car.fuel_used_l
    return burn, left


def _passes(answer: Mapping[str, Any] | None, line: int, position: int
            ) -> tuple[float | None, float | None]:
    if answer is None or answer.get("lap") is None or int(answer["lap"]) != line:
        return None, None
    ahead = None if position == 1 else finite_or_none(answer.get("p_pass_ahead"))
    return ahead, finite_or_none(answer.get("p_passed"))


def _missing_notes(engine: RaceEngine, cars: list[CarState]) -> list[str]:
    """Which optional answers are missing, and why, in ``snapshot_at``'s words."""
    notes = []
    for name, what in (("tire", "wear slope"), ("fuel", "fuel burn"),
                       ("traffic", "pass probabilities")):
        lacking = [c.car_number for c in cars if name not in c.predictions]
        if engine.model_skips.get(f"{name}:not_loaded"):
            notes.append(f"{name}: model not loaded; {what} unknown")
        elif lacking:
            notes.append(f"{name}: no answer for {len(lacking)} car(s); {what} unknown")
    return notes


def snapshot_from_engine(engine: RaceEngine, *, fuel_start_l: FuelStart = None
                         ) -> RaceSnapshot:
    """The race as the engine holds it now (see the module docstring).

    Args:
        engine: A live ``RaceEngine`` with models.
        fuel_start_l: Fuel at the start, l (one fill, or per car number); default the
            entry list's (``Entry.fuel_start_l``).

    Raises:
        DataError: No lap done yet, or a required answer (lap-time quantiles, pit
            losses, caution hazard) is missing: the message names the model.
    """
    tower = engine.tower
    cars = sorted((c for c in tower.cars.values() if c.laps > 0),
                  key=lambda c: c.position or 10**6)
    time_left_s = tower.time_left_s
    if not cars or tower.start is None or time_left_s is None:
        raise DataError(f"race {engine.info.race_id!r} has no lap done yet",
                        hint="ask again once the leader has crossed the line")
    waiting = sorted(c.car_number for c in tower.cars.values() if not c.laps)
    notes = [f"car(s) {', '.join(waiting)} with no lap done left out"] if waiting else []
    lacking = [c for c in cars if "laptime" not in c.predictions]
    if any(_running(tower, c) for c in lacking):
        numbers = ", ".join(c.car_number for c in lacking if _running(tower, c))
        raise _required("laptime", "lap-time quantiles", f" of car(s) {numbers}")
    if lacking:
        notes.append(f"car(s) {', '.join(c.car_number for c in lacking)} out of the race "
                     "without lap-time quantiles: left out")
        cars = [c for c in cars if "laptime" in c.predictions]
    green_s, caution_s = _pit_losses(cars)
    hazard = _hazard(engine, tower.leader_laps, time_left_s, notes)
    notes += _missing_notes(engine, cars)
    snaps = [_car(engine, car, position, fuel_start_l)
             for position, car in enumerate(cars, start=1)]
    return RaceSnapshot(
        race_id=engine.info.race_id, track=engine.info.track, lap=tower.leader_laps,
        time_left_s=time_left_s, caution=tower.flag == FLAG_CAUTION, caution_hazard=hazard,
        pit_loss_green_s=green_s, pit_loss_caution_s=caution_s, cars=tuple(snaps),
        notes=tuple(notes))


def _car(engine: RaceEngine, car: CarState, position: int, fuel_start_l: FuelStart
         ) -> CarSnapshot:
    tower = engine.tower
    assert tower.start is not None and car.last_crossing is not None
    laptime = car.predictions["laptime"]
    burn, left = _fuel(engine, car, fuel_start_l)
    ahead, passed = _passes(car.predictions.get("traffic"), tower.leader_laps - 1, position)
    tire = car.predictions.get("tire")
    return CarSnapshot(
        car_number=car.car_number, position=position, laps=car.laps,
        race_time_s=(car.last_crossing - tower.start).total_seconds(),
        lap_time_p10_s=float(laptime["lap_time_p10_s"]),
        lap_time_p50_s=float(laptime["lap_time_p50_s"]),
        lap_time_p90_s=float(laptime["lap_time_p90_s"]), tire_age_laps=_tire_age(car),
        deg_s_per_lap=None if tire is None else finite_or_none(tire.get("deg_s_per_lap")),
        fuel_left_l=left, fuel_burn_l_per_lap=burn, p_pass_ahead=ahead, p_passed=passed,
        in_pit=car.in_pit, running=_running(tower, car), stops=car.stops)


__all__ = ["snapshot_from_engine"]
