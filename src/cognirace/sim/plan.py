"""What a race decides before the green flag: cautions, faults, stops and retirements.

Drawn once per race from its generator, so that the lap-by-lap engine only plays the
plan out: the cautions of ``events.draw_cautions`` (their number per track), each
caution's victim (retired, into the pits for repairs, or back on track), mechanical
retirements, drive-through penalties (served under green) and the cars that gamble on
fresh tyres under a yellow.

How many cars stop in a caution is held to the 2025 season's timing files: 16
cautions, 7 stops by the 433 cars running at their starts (1.6%, 95% interval 0.8% to
3.3%; ``strategy.caution_record`` counts them, ``bench/calibrate.py`` compares).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cognirace.sim.config import RaceConfig
from cognirace.sim.events import (
    CAUTIONS_PER_RACE,
    P_CAUTION_PRECURSOR,
    P_MECHANICAL_DNF,
    P_PENALTY,
    PRECURSOR_LOSS_S,
    Caution,
    Fault,
    draw_cautions,
    draw_faults,
)

TYRE_CHANGE_S = (24.0, 34.0)
"""Stationary time of a tyre change, s."""

REPAIR_S = (25.0, 70.0)
"""Stationary time of a damage repair (with new tyres), s."""

P_TYRE_GAMBLE = 0.005
"""Probability that a car stops for fresh tyres under a yellow, per car and caution: in
the real cautions, besides the repairs of several minutes, two cars stopped for about a
minute (pit times 56 s and 63 s) in 16 cautions of 22 to 31 cars."""

CAUSE_FATE_P = (0.5, 0.2, 0.3)
"""What becomes of the car whose incident causes a caution: retired, into the pits for
a repair, back on track. Real races lose 9.5% of their starters (the simulator 3.7% with
this split, 3.0% with the former 30% / 50% / 20%; ``bench/attrition.py``) and see four
long stops (pit times of 2 to 5 minutes) in 16 cautions."""

P_GREEN_STOP = 0.08
"""Probability that a car stops under green for damage from contact or a mechanical
check (fresh tyres fitted), per car and race: the real races without a caution still saw
one to nine laps end in the pit lane."""

INCIDENT_LOSS_S = (8.0, 30.0)
"""Time the car that causes a caution loses on the lap of its incident, s."""


@dataclass
class PitStop:
    """A stop: in-lap (1-based; the car crosses the line in the pit lane), reason, times.

    The plan sets the first five fields; the engine fills the rest as the race runs.

    Attributes:
        car: Car index in the race.
        lap: In-lap, 1-based.
        reason: ``damage`` (a repair with new tyres), ``drive_through`` (a penalty) or
            ``tyres`` (a tyre change the team chose, the only discretionary kind).
        stationary_s: Time standing in the box, s (0 for a drive-through).
        new_tyres: New tyres fitted.
        pit_time_s: Pit-lane time, entry to exit, s.
        decided: The stop came from a ``decisions.Decision``, not from the plan.
        position_before: Position at the crossing before the in-lap (the grid slot for a
            lap-1 stop).
        rejoin_position: Position at the first crossing after the stop (the end of the
            out-lap); None when the car ran no out-lap.
        pit_exit_s: Race time at which the car left the pit lane, s.
        gap_ahead_s: At the pit exit, how long before the car the car just ahead of it
            in race order passed that point of the track, s; None when none did.
        gap_behind_s: How long after the car the car just behind it in race order
            passed the pit exit, s; None when none did.
    """

    car: int
    lap: int
    reason: str
    stationary_s: float
    new_tyres: bool
    pit_time_s: float = 0.0
    decided: bool = False
    position_before: int | None = None
    rejoin_position: int | None = None
    pit_exit_s: float | None = None
    gap_ahead_s: float | None = None
    gap_behind_s: float | None = None


@dataclass
class RacePlan:
    """Everything drawn before the green flag.

    Attributes:
        cautions: The full-course yellows, in order.
        faults: Sensor and mechanical faults.
        pits: Planned stops by ``(in-lap, car)``.
        dnf_lap: Lap (1-based) at whose start a car retires, by car.
        incident_loss: Extra time on ``(lap index, car)`` from the incident behind a
            caution or the limp before it, s.
    """

    cautions: list[Caution]
    faults: list[Fault]
    pits: dict[tuple[int, int], PitStop]
    dnf_lap: dict[int, int]
    incident_loss: dict[tuple[int, int], float]


def plan_race(config: RaceConfig, n_laps: int, lap_s: float, rng: np.random.Generator
              ) -> RacePlan:
    """Draw a race's plan.

    Args:
        config: The race.
        n_laps: Laps the leader is expected to run.
        lap_s: A green lap at the track, s.
        rng: The race's generator.
    """
    n = config.n_cars
    cautions = draw_cautions(n_laps, n, rng, mean_count=CAUTIONS_PER_RACE[config.track],
                             lap_s=lap_s)
    faults = draw_faults(n_laps, n, rng)
    pits: dict[tuple[int, int], PitStop] = {}
    dnf: dict[int, int] = {}
    loss: dict[tuple[int, int], float] = {}
    for c in cautions:
        loss[(c.start_lap - 1, c.cause_car)] = float(rng.uniform(*INCIDENT_LOSS_S))
        if c.start_lap > 3 and rng.random() < P_CAUTION_PRECURSOR:
            # completed before the leader's line two laps ahead of the yellow: visible
            loss[(c.start_lap - 3, c.cause_car)] = float(rng.uniform(*PRECURSOR_LOSS_S))
        fate = rng.random()
        if fate < CAUSE_FATE_P[0]:
            dnf[c.cause_car] = c.start_lap + 1
        elif fate < CAUSE_FATE_P[0] + CAUSE_FATE_P[1]:
            pits[(c.start_lap, c.cause_car)] = PitStop(
                c.cause_car, c.start_lap, "damage", float(rng.uniform(*REPAIR_S)), True)
    for car in range(n):
        if rng.random() < P_MECHANICAL_DNF and car not in dnf:
            dnf[car] = int(rng.integers(2, n_laps))
        if rng.random() < P_PENALTY:
            lap = _green_lap(int(rng.integers(2, max(n_laps - 2, 3))), cautions)
            pits.setdefault((lap, car), PitStop(car, lap, "drive_through", 0.0, False))
        if rng.random() < P_GREEN_STOP:
            lap = int(rng.integers(1, max(n_laps - 1, 2)))
            pits.setdefault((lap, car), PitStop(car, lap, "damage",
                                                float(rng.uniform(*REPAIR_S)), True))
    for c in cautions:
        if c.start_lap < 3 or n_laps - c.start_lap < 5:
            continue
        for car in range(n):
            if rng.random() < P_TYRE_GAMBLE and (c.start_lap, car) not in pits:
                pits[(c.start_lap, car)] = PitStop(car, c.start_lap, "tyres",
                                                   float(rng.uniform(*TYRE_CHANGE_S)), True)
    return RacePlan(cautions, faults, pits, dnf, loss)


def _green_lap(lap: int, cautions: list[Caution]) -> int:
    """``lap``, or the first lap after the caution it falls in: a penalty is served under
    green (the race director holds it while the yellow is out)."""
    for c in cautions:
        if c.start_lap <= lap <= c.end_lap:
            return c.end_lap + 1
    return lap


__all__ = ["CAUSE_FATE_P", "REPAIR_S", "TYRE_CHANGE_S", "PitStop", "RacePlan", "plan_race"]
