"""The snapshot's cars as arrays, with every gap in the data filled by a named rule.

The Monte Carlo works on arrays indexed by car (the snapshot's position order). This
module turns a ``RaceSnapshot`` into them once, so the run itself has no ``None`` to
handle: a missing wear slope becomes no wear, a missing burn no fuel effect, a missing
pass chance the track's fallback; and each such fill is written into ``notes``, which
the result carries, so nothing is silent. Fuel left stays NaN when unknown: running dry
is then unknown (``None``), not impossible.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cognirace.domain.tracks import TRACKS
from cognirace.errors import StrategyError
from cognirace.strategy.assumptions import (
    CAUTION_CATCH_RATIO,
    CAUTION_PACE_RATIO,
    PASS_FALLBACK_P,
    Z_QUANTILE_90,
    fuel_s_per_l,
)
from cognirace.strategy.snapshot import RaceSnapshot

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Field:
    """Per-car inputs of a run, ``[car]`` in the snapshot's position order.

    Attributes:
        car_numbers: Race numbers.
        p50_s: Median green lap, s.
        sigma_lo_s, sigma_hi_s: The split normal's σ below and above P50, s.
        deg_s_per_lap: Wear slope, s per lap of tire age (0 when unknown).
        tire_age_laps: Laps on the current set at the snapshot.
        burn_l: Green-lap burn, l (0 when unknown: no fuel effect, no running dry).
        fuel_l: Fuel left, l (NaN when unknown).
        fuel_s_per_l: Lap time one litre costs, s/l.
        p_attack: Chance to pass the car ahead when the pace allows it.
        p_defend: Chance to be passed by the car behind when its pace allows it.
        has_attack, has_defend: Whether those came from the traffic model.
        laps: Laps completed at the snapshot.
        race_time_s: Last crossing, s since the green flag.
        running: Still in the race.
        catch_lap_s: Lap while closing up on a caution queue, s.
        caution_lap_s: The queue's lap, s.
        now_s: The snapshot's moment: its latest crossing, s.
        pass_fallback_p: The pass chance used where the traffic model gave none.
        p_pass: ``pair_pass_matrix``: attacker (row) past defender (column), ``[cars, cars]``.
        notes: What was filled and how.
    """

    car_numbers: tuple[str, ...]
    p50_s: FloatArray
    sigma_lo_s: FloatArray
    sigma_hi_s: FloatArray
    deg_s_per_lap: FloatArray
    tire_age_laps: FloatArray
    burn_l: FloatArray
    fuel_l: FloatArray
    fuel_s_per_l: FloatArray
    p_attack: FloatArray
    p_defend: FloatArray
    has_attack: BoolArray
    has_defend: BoolArray
    laps: IntArray
    race_time_s: FloatArray
    running: BoolArray
    catch_lap_s: FloatArray
    caution_lap_s: float
    now_s: float
    pass_fallback_p: float
    notes: tuple[str, ...]
    p_pass: FloatArray

    @property
    def n_cars(self) -> int:
        return len(self.car_numbers)

    def index(self, car_number: str) -> int:
        """The car's column.

        Raises:
            StrategyError: No such car, or it is out of the race.
        """
        if car_number not in self.car_numbers:
            raise StrategyError(f"no car {car_number!r} in the snapshot", value=car_number,
                                hint="car numbers are text, as in the snapshot's cars")
        i = self.car_numbers.index(car_number)
        if not self.running[i]:
            raise StrategyError(f"car {car_number!r} is out of the race: it has no strategy",
                                value=car_number, hint="ask about a running car")
        return i


def _listed(numbers: list[str]) -> str:
    return ", ".join(numbers[:8]) + (f" and {len(numbers) - 8} more" if len(numbers) > 8 else "")


def pass_fallback(track: str) -> tuple[float, str]:
    """The pass chance where the traffic model gave none, and how it was chosen."""
    known = TRACKS.get(track)
    if known is None:
        return PASS_FALLBACK_P, f"the strategy's default {PASS_FALLBACK_P:.2f} (unknown track)"
    p = 1.0 - known.overtake_difficulty
    return p, f"{p:.2f}, one minus {known.key}'s overtake difficulty"


def build_field(snap: RaceSnapshot) -> Field:
    """The snapshot's cars as arrays, gaps filled by the rules in the module docstring.

    Raises:
        StrategyError: No car is running.
    """
    cars = sorted(snap.cars, key=lambda c: c.position)
    running = np.array([c.running for c in cars], dtype=bool)
    if not running.any():
        raise StrategyError("no car is running: the race has no rest to simulate",
                            hint="check the snapshot's running flags")
    notes = list(snap.notes)
    p10 = np.array([c.lap_time_p10_s for c in cars], dtype=np.float64)
    p50 = np.array([c.lap_time_p50_s for c in cars], dtype=np.float64)
    p90 = np.array([c.lap_time_p90_s for c in cars], dtype=np.float64)
    no_deg = [c.car_number for c in cars if c.deg_s_per_lap is None and c.running]
    if no_deg:
        notes.append(f"no wear slope for car(s) {_listed(no_deg)}: their tires do not wear")
    no_burn = [c.car_number for c in cars if c.fuel_burn_l_per_lap is None and c.running]
    if no_burn:
        notes.append(f"no fuel burn for car(s) {_listed(no_burn)}: no fuel-mass effect, "
                     "and running dry is unknown")
    no_fuel = [c.car_number for c in cars if c.fuel_left_l is None and c.running
               and c.fuel_burn_l_per_lap is not None]
    if no_fuel:
        notes.append(f"no fuel left for car(s) {_listed(no_fuel)}: running dry is unknown")
    in_pit = [c.car_number for c in cars if c.in_pit and c.running]
    if in_pit:
        notes.append(f"car(s) {_listed(in_pit)} in the pit lane: the rest of their stop is "
                     "not added (the snapshot does not say how much of it is left)")
    fallback, why = pass_fallback(snap.track)
    no_pass = [c.car_number for c in cars if c.running
               and c.p_pass_ahead is None and c.p_passed is None]
    if no_pass:
        notes.append(f"no pass chance for car(s) {_listed(no_pass)}: used {why}")
    green = [c.lap_time_p50_s for c in cars if c.running]
    if snap.caution_lap_s is None:
        caution_lap = CAUTION_PACE_RATIO * statistics.median(green)
        notes.append(f"no caution lap time: used {CAUTION_PACE_RATIO} × the field's median "
                     f"green lap ({caution_lap:.1f} s)")
    else:
        caution_lap = snap.caution_lap_s
    burn = np.array([c.fuel_burn_l_per_lap or 0.0 for c in cars], dtype=np.float64)
    fuel = np.array([np.nan if c.fuel_left_l is None or c.fuel_burn_l_per_lap is None
                     else c.fuel_left_l for c in cars], dtype=np.float64)
    race_time = np.array([c.race_time_s for c in cars], dtype=np.float64)
    laps = np.array([c.laps for c in cars], dtype=np.int64)
    p_attack = np.array([c.p_pass_ahead or 0.0 for c in cars], dtype=np.float64)
    p_defend = np.array([c.p_passed or 0.0 for c in cars], dtype=np.float64)
    has_attack = np.array([c.p_pass_ahead is not None for c in cars], dtype=bool)
    has_defend = np.array([c.p_passed is not None for c in cars], dtype=bool)
    return Field(
        car_numbers=tuple(c.car_number for c in cars),
        p50_s=p50,
        sigma_lo_s=(p50 - p10) / Z_QUANTILE_90,
        sigma_hi_s=(p90 - p50) / Z_QUANTILE_90,
        deg_s_per_lap=np.array([c.deg_s_per_lap or 0.0 for c in cars], dtype=np.float64),
        tire_age_laps=np.array([c.tire_age_laps for c in cars], dtype=np.float64),
        burn_l=burn,
        fuel_l=fuel,
        fuel_s_per_l=np.array([fuel_s_per_l(p) for p in p50], dtype=np.float64),
        p_attack=p_attack,
        p_defend=p_defend,
        has_attack=has_attack,
        has_defend=has_defend,
        laps=laps,
        race_time_s=race_time,
        running=running,
        catch_lap_s=np.minimum(CAUTION_CATCH_RATIO * p50, caution_lap),
        caution_lap_s=float(caution_lap),
        now_s=float(race_time[running].max()),
        pass_fallback_p=fallback,
        notes=tuple(notes),
        p_pass=pair_pass_matrix(p_attack, has_attack, p_defend, has_defend, laps, fallback),
    )


def pair_pass_matrix(p_attack: FloatArray, has_attack: BoolArray, p_defend: FloatArray,
                     has_defend: BoolArray, laps: IntArray, fallback: float) -> FloatArray:
    """Chance the attacker (row) gets past the defender (column) on a lap its pace
    allows it, ``[cars, cars]``.

    The mean of the attacker's ``p_pass_ahead`` and the defender's ``p_passed`` where
    both are known, the one known otherwise, the fallback where neither is; 1 when the
    defender is a lap or more down (blue flag: it must let the faster car by).
    """
    a_known = has_attack[:, None].astype(np.float64)
    d_known = has_defend[None, :].astype(np.float64)
    n = a_known + d_known
    total = p_attack[:, None] * a_known + p_defend[None, :] * d_known
    p = np.where(n > 0, total / np.maximum(n, 1.0), fallback)
    lapping = laps[:, None] > laps[None, :]
    return np.where(lapping, 1.0, p)


__all__ = ["Field", "build_field", "pair_pass_matrix", "pass_fallback"]
