"""The backtest's policies: what each does at a decision point, as the simulator's decisions.

Every policy acts from the decision point on; before it, the car's race is the race as
it happened. A branch's decisions replace *all* the car's discretionary stops
(``sim.decisions``), so the car's own tire stops made before the point are carried
into every branch as decisions (``Setting.history``); forced stops (repairs,
penalties) stay in every branch by themselves.

- ``advice``: the recommended candidate of ``strategy.advise`` at the point, mapped by
  ``candidate_decisions``;
- ``stay_out``: never stop unless forced;
- ``first_caution``: stop at the first caution from the point on: on the car's first
  lap flagged ``FCY`` after the laps it has run (the caution's in-lap; under a caution
  out now, the next lap); no stop when no caution comes;
- ``fixed_lap``: stop on the mid-race lap: half the laps the car is expected to run
  (its laps so far plus ``candidates.laps_left`` at the point), rounded, or the next lap
  once that has passed;
- ``oracle``: every candidate (and every fixed policy) branched, the best finish in
  hindsight: the ceiling.

A candidate maps to one stop: ``pit_now`` on the car's next lap, ``pit_on_lap`` on its
lap, ``pit_next_caution`` as ``first_caution``; ``tires`` and ``tires_fuel`` are a tire
stop (the simulator has no refuelling and fills every car for the race), a
drive-through a drive-through. A stop on a lap beyond the race's lap limit is no stop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cognirace.sim import Decision, RaceResult
from cognirace.sim.decisions import DISCRETIONARY_REASONS, Service
from cognirace.strategy.candidates import Candidate

BoolArray = npt.NDArray[np.bool_]

FIXED_POLICIES = ("stay_out", "first_caution", "fixed_lap")
"""The rules the advice is measured against."""

POLICIES = ("advice", *FIXED_POLICIES, "oracle")
"""Every policy a decision point scores."""

Decisions = tuple[Decision, ...]


@dataclass(frozen=True)
class Setting:
    """What a policy knows of the car at a decision point.

    Attributes:
        car_number: The car.
        car_laps: Laps it has completed at the point.
        history: Its discretionary stops before the point, as decisions.
        first_caution_lap: Its first lap flagged ``FCY`` after ``car_laps`` as the race
            ran (None: none came); the lap a caution policy stops on.
        fixed_lap: The ``fixed_lap`` policy's in-lap.
        max_laps: The race's lap limit (the branch arrays' length).
    """

    car_number: str
    car_laps: int
    history: Decisions
    first_caution_lap: int | None
    fixed_lap: int
    max_laps: int


def setting_of(base: RaceResult, car: int, car_laps: int, expected_laps: int) -> Setting:
    """The setting of car index ``car`` after ``car_laps`` laps of the race ``base``.

    Args:
        base: The race as it ran (no decisions).
        car: The car's index.
        car_laps: Laps it has completed at the point.
        expected_laps: Laps the car is expected to run in all (for ``fixed_lap``).
    """
    number = base.drivers[car].car_number
    history = tuple(Decision.pit(number, p.lap, "tires") for p in base.pit_stops
                    if p.car == car and p.lap <= car_laps
                    and p.reason in DISCRETIONARY_REASONS)
    flagged = np.flatnonzero(base.caution_lap[car_laps:, car])
    first = int(flagged[0]) + car_laps + 1 if flagged.size else None
    return Setting(number, car_laps, history, first,
                   max(round(expected_laps / 2), car_laps + 1), base.lap_time_s.shape[0])


def stop_at(setting: Setting, lap: int | None, service: Service = "tires") -> Decisions:
    """The branch's decisions: the history and a stop on ``lap`` (None: no stop)."""
    if lap is None or lap > setting.max_laps or lap <= setting.car_laps:
        return setting.history or (Decision.stay_out(setting.car_number),)
    return (*setting.history, Decision.pit(setting.car_number, lap, service))


def candidate_decisions(candidate: Candidate, setting: Setting) -> Decisions:
    """The decisions a candidate makes at the point (see the module docstring)."""
    service: Service = "drive_through" if candidate.service == "drive_through" else "tires"
    if candidate.kind == "stay_out":
        return stop_at(setting, None)
    if candidate.kind == "pit_now":
        return stop_at(setting, setting.car_laps + 1, service)
    if candidate.kind == "pit_on_lap":
        return stop_at(setting, candidate.lap, service)
    return stop_at(setting, setting.first_caution_lap, service)


def fixed_decisions(policy: str, setting: Setting) -> Decisions:
    """The decisions of a fixed policy (``FIXED_POLICIES``)."""
    if policy == "stay_out":
        return stop_at(setting, None)
    if policy == "first_caution":
        return stop_at(setting, setting.first_caution_lap)
    if policy == "fixed_lap":
        return stop_at(setting, setting.fixed_lap)
    raise ValueError(f"unknown fixed policy {policy!r}; use one of {FIXED_POLICIES}")


def stop_lap(decisions: Decisions, setting: Setting) -> int | None:
    """The in-lap of the decided stop after the point, or None."""
    laps = [d.lap for d in decisions if d.action == "pit" and d.lap is not None
            and d.lap > setting.car_laps]
    return laps[0] if laps else None


__all__ = ["FIXED_POLICIES", "POLICIES", "Decisions", "Setting", "candidate_decisions",
           "fixed_decisions", "setting_of", "stop_at", "stop_lap"]
