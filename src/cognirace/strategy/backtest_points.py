"""The backtest's decision points: where in a race as it happened a pit wall decides.

A decision point is a car and the moment the pit wall looks at it: the leader's
crossing of a lap (``leader_lap``), where ``snapshot_at`` takes the race. Each is found
from the race's truth (``RaceTrace``, read off the simulator's ``RaceResult``) *up to
that moment only*; nothing after the car's triggering crossing is read to find it:

- ``caution``: a full-course yellow starts. The caution's first lap flagged ``FCY``
  for the leader (``Caution.start_lap``) is the leader lap; every chosen car still
  running there has a decision point (pit under the yellow, the cheap stop, or not).
- ``fault``: a mechanical fault (brake fade, power loss, gearbox: the faults that cost
  lap time) starts: the car's crossing that ends the fault's first lap.
- ``damage``: the car's crossing before a forced repair's in-lap (the moment the pit
  wall calls the damaged car in, as ``bench/rejoin.py`` takes it). The repair is forced:
  it stays in every branch, so this point asks only whether anything else is worth
  doing.
- ``low_fuel``: the car's first crossing where the fuel left is less than its green
  burn (median of its green laps so far) times the laps the clock leaves it plus
  ``LOW_FUEL_MARGIN_LAPS``. The simulator fills every car for the race plus about two
  laps and 8%, so this is rare.
- ``worn_tires``: the car's first crossing where tire wear costs it at least
  ``WORN_TIRE_S`` a lap (the truth's ``tyre`` lap-time term, on a stint at least
  ``MIN_WORN_AGE_LAPS`` old so a cold out-lap does not count).

A car's crossing maps to the leader's first crossing at or after it (the pit wall
decides at the next leader crossing the snapshot is taken at). Points of one car at
the same leader lap merge, keeping every reason. A leader lap below ``MIN_LEADER_LAP``
is dropped: before every car has run a green lap there is no pace to simulate from; so
is a leader lap crossed after the clock ran out: the flag has fallen and every car
finishes at its next crossing, with nothing left to decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cognirace.sim import RaceResult
from cognirace.sim.events import MECHANICAL_FAULTS

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

KINDS = ("caution", "fault", "damage", "low_fuel", "worn_tires")
"""Reasons of a decision point, in the order a report lists them."""

WORN_TIRE_S = 0.5
"""Lap time lost to tire wear at which the tires count as worn, s (a GR86 stint wears
about 0.035 s a lap: some 14 laps of one stint)."""

MIN_WORN_AGE_LAPS = 3
"""Youngest stint, laps, whose tire term counts as wear (lap 1 of a stint is cold)."""

LOW_FUEL_MARGIN_LAPS = 1.0
"""Laps of fuel beyond the clock's laps below which a car is low on fuel."""

MIN_LEADER_LAP = 2
"""Earliest leader lap of a decision point (a lap-1 snapshot has no green pace)."""


@dataclass(frozen=True)
class RaceTrace:
    """A race as it happened, as the decision points read it; arrays are ``[lap, car]``.

    Attributes:
        car_numbers: The cars' numbers in car order.
        end_s: Race time at each crossing, s (NaN: lap not run).
        lap_time_s: Lap times, s (NaN: not run).
        caution_lap: The lap was flagged ``FCY`` as the car crossed.
        tire_wear_s: Lap time lost to tire wear, s.
        tire_age_laps: Age of the tires on the lap, laps.
        fuel_left_l: Fuel left at the crossing, l.
        fuel_used_l: Fuel burnt on the lap, l.
        caution_starts: Leader laps on which a caution starts (first lap flagged FCY).
        faults: ``(car, first lap)`` of each mechanical fault.
        repairs: ``(car, in-lap)`` of each forced repair stop.
        duration_s: The race's timed length, s.
    """

    car_numbers: tuple[str, ...]
    end_s: FloatArray
    lap_time_s: FloatArray
    caution_lap: BoolArray
    tire_wear_s: FloatArray
    tire_age_laps: IntArray
    fuel_left_l: FloatArray
    fuel_used_l: FloatArray
    caution_starts: tuple[int, ...]
    faults: tuple[tuple[int, int], ...]
    repairs: tuple[tuple[int, int], ...]
    duration_s: float

    def laps_done(self, car: int) -> int:
        """Laps the car completed in the race."""
        return int(np.isfinite(self.end_s[:, car]).sum())


def trace_of(result: RaceResult) -> RaceTrace:
    """The trace of a simulated race (its truth)."""
    return RaceTrace(
        car_numbers=tuple(d.car_number for d in result.drivers), end_s=result.end_s,
        lap_time_s=result.lap_time_s, caution_lap=result.caution_lap,
        tire_wear_s=result.terms["tyre"], tire_age_laps=result.tyre_age_laps,
        fuel_left_l=result.fuel_left_l, fuel_used_l=result.fuel_used_l,
        caution_starts=tuple(sorted({c.start_lap for c in result.cautions})),
        faults=tuple((f.car, f.start_lap) for f in result.faults
                     if f.kind in MECHANICAL_FAULTS),
        repairs=tuple((p.car, p.lap) for p in result.pit_stops if p.reason == "damage"),
        duration_s=float(result.config.duration_s))


@dataclass(frozen=True)
class DecisionPoint:
    """One car at one leader crossing, and why the pit wall looks at it.

    Attributes:
        car: The car's index in car order.
        car_number: Its number.
        leader_lap: The leader's lap the snapshot is taken at.
        kinds: The reasons (``KINDS``), in that order.
    """

    car: int
    car_number: str
    leader_lap: int
    kinds: tuple[str, ...]


def leader_ends(trace: RaceTrace) -> FloatArray:
    """The leader's crossing of each lap, s (``inf``: nobody completed it)."""
    finite = np.where(np.isfinite(trace.end_s), trace.end_s, np.inf)
    return np.asarray(finite.min(axis=1), dtype=np.float64)


def leader_lap_at(trace: RaceTrace, car: int, car_lap: int) -> int | None:
    """The leader's first lap crossed at or after the car's crossing of ``car_lap``."""
    crossed = trace.end_s[car_lap - 1, car]
    if not np.isfinite(crossed):
        return None
    later = np.flatnonzero(leader_ends(trace) >= crossed)
    return int(later[0]) + 1 if later.size else None


def car_laps_at(trace: RaceTrace, car: int, leader_lap: int) -> int:
    """Laps the car had completed when the leader crossed ``leader_lap``."""
    cut = leader_ends(trace)[leader_lap - 1]
    return int((trace.end_s[:, car] <= cut).sum())


def _worn(trace: RaceTrace, car: int) -> int | None:
    hit = np.flatnonzero((trace.tire_wear_s[:, car] >= WORN_TIRE_S)
                         & (trace.tire_age_laps[:, car] >= MIN_WORN_AGE_LAPS))
    return int(hit[0]) + 1 if hit.size else None


def _low_fuel(trace: RaceTrace, car: int) -> int | None:
    """The car's first lap ending with less fuel than the clock's laps need (see module)."""
    green = ~trace.caution_lap[:, car] & np.isfinite(trace.lap_time_s[:, car])
    for lap in range(1, trace.laps_done(car) + 1):
        seen = green[:lap]
        if not seen.any():
            continue
        burn = float(np.median(trace.fuel_used_l[:lap, car][seen]))
        pace = float(np.median(trace.lap_time_s[:lap, car][seen]))
        time_left = max(trace.duration_s - float(trace.end_s[lap - 1, car]), 0.0)
        need = burn * (np.floor(time_left / pace) + 1 + LOW_FUEL_MARGIN_LAPS)
        if trace.fuel_left_l[lap - 1, car] < need:
            return lap
    return None


def _car_triggers(trace: RaceTrace, car: int) -> list[tuple[str, int]]:
    """``(kind, car lap)`` of each of the car's own triggers."""
    out = [("fault", lap) for c, lap in trace.faults if c == car]
    out += [("damage", lap - 1) for c, lap in trace.repairs if c == car and lap >= 2]
    for kind, lap in (("low_fuel", _low_fuel(trace, car)), ("worn_tires", _worn(trace, car))):
        if lap is not None:
            out.append((kind, lap))
    return out


def decision_points(trace: RaceTrace, cars: Sequence[int]) -> list[DecisionPoint]:
    """Every decision point of the chosen cars, by leader lap then car (see module)."""
    found: dict[tuple[int, int], set[str]] = {}
    flagged = leader_ends(trace) >= trace.duration_s
    last = int(np.argmax(flagged)) if flagged.any() else len(flagged)  # leader laps before
    for car in cars:
        done = trace.laps_done(car)
        for lap in trace.caution_starts:
            if lap >= MIN_LEADER_LAP and car_laps_at(trace, car, lap) < done:
                found.setdefault((lap, car), set()).add("caution")
        for kind, car_lap in _car_triggers(trace, car):
            if not 1 <= car_lap < done:  # a running car: it has a lap still to run
                continue
            leader = leader_lap_at(trace, car, car_lap)
            if leader is not None and leader >= MIN_LEADER_LAP:
                found.setdefault((leader, car), set()).add(kind)
    return [DecisionPoint(car, trace.car_numbers[car], lap,
                          tuple(k for k in KINDS if k in kinds))
            for (lap, car), kinds in sorted(found.items()) if lap <= last]


def choose_cars(n_cars: int, k: int, rng: np.random.Generator) -> list[int]:
    """``k`` cars of ``n_cars`` drawn without replacement, in car order (0: every car)."""
    if k <= 0 or k >= n_cars:
        return list(range(n_cars))
    return sorted(int(c) for c in rng.choice(n_cars, size=k, replace=False))


__all__ = ["KINDS", "LOW_FUEL_MARGIN_LAPS", "MIN_LEADER_LAP", "MIN_WORN_AGE_LAPS",
           "WORN_TIRE_S", "DecisionPoint", "RaceTrace", "car_laps_at", "choose_cars",
           "decision_points", "leader_ends", "leader_lap_at", "trace_of"]
