"""Where a car comes out of the pit lane: a deterministic estimate from the snapshot.

The cheap model beside the Monte Carlo, and the one a strategist can check by hand:
every car laps at its P50 plus its wear, less the fuel it burns; the stopping car adds
the stop's loss to its in-lap and runs its out-lap on new tires. Its position on
rejoining is its place among the cars completing the same lap (its out-lap) at its
projected crossing, as a lap chart ranks them (a car a lap down ranks behind, on its
own lap count); the gaps are to the cars just ahead and behind on that lap, at the line
that ends the out-lap (a pit wall reads them there; they differ from the gaps at the
pit exit by the out-lap's pace difference).

Under a caution (the snapshot's ``caution``, for a stop on the next lap) the caution is
taken to start at the snapshot and last to the end of the out-lap, without the Monte
Carlo's noise: every car runs the rest of its lap and the laps after at its catch-up
pace (``CAUTION_CATCH_RATIO``) but no closer than ``CAUTION_GAP_S`` behind the car
ahead of it on the road at each line crossing; the queue's head laps at the caution
pace; nobody passes. The crossings are worked out lap number by lap number, so the car
just behind the line (a crossing short of the leader who has just crossed it) is held
behind the leader, as on the road. The stopping car loses ``pit_loss_s`` (the caution
loss) on its in-lap, leaving its slot, and closes up on the queue again on its out-lap.
(Validated against the simulator on tuning seasons, ``bench/rejoin.py --seeds 6001-6010``:
86.6% of caution stops within one place, against 83.8% for the Monte Carlo's own
queue, which orders each lap by when the cars started it.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cognirace.errors import StrategyError
from cognirace.strategy.assumptions import CAUTION_GAP_S, fuel_s_per_l
from cognirace.strategy.field import build_field
from cognirace.strategy.snapshot import CarSnapshot, RaceSnapshot


@dataclass(frozen=True)
class Rejoin:
    """Where the car comes out.

    Attributes:
        position: Its place at the end of its out-lap.
        gap_ahead_s: To the car just ahead on that lap, s (None: it leads).
        gap_behind_s: To the car just behind on that lap, s (None: nobody behind).
        out_lap: The out-lap's number (the car's lap count as it completes it).
        time_s: Projected race time of that crossing, s.
    """

    position: int
    gap_ahead_s: float | None
    gap_behind_s: float | None
    out_lap: int
    time_s: float

    def to_json(self) -> dict[str, object]:
        return {"position": self.position, "gap_ahead_s": self.gap_ahead_s,
                "gap_behind_s": self.gap_behind_s, "out_lap": self.out_lap,
                "time_s": self.time_s}


def p50_lap_s(car: CarSnapshot, k: int) -> float:
    """The car's ``k``-th lap from the snapshot (1 = next) at P50, wear and fuel, s."""
    wear = (car.deg_s_per_lap or 0.0) * (k - 1)
    fuel = fuel_s_per_l(car.lap_time_p50_s) * (car.fuel_burn_l_per_lap or 0.0) * (k - 1)
    return car.lap_time_p50_s + wear - fuel


def crossing_s(car: CarSnapshot, lap: int) -> float:
    """Projected race time at which the car completes lap number ``lap``, s (laps it
    has already completed are placed back at its P50)."""
    ahead = lap - car.laps
    if ahead <= 0:
        return car.race_time_s + ahead * car.lap_time_p50_s
    return car.race_time_s + sum(p50_lap_s(car, k) for k in range(1, ahead + 1))


def queue_crossings_s(snap: RaceSnapshot, car_number: str, pit_loss_s: float,
                      lap: int) -> dict[str, float]:
    """Under caution: each running car's crossing of lap number ``lap`` when
    ``car_number`` stops on its next lap (see the module docstring), s.

    Crossings are worked out lap number by lap number, so that a car is held behind the
    car ahead of it on the road at the same line crossing, whatever their lap counts at
    the snapshot (the car just behind the line is one crossing short of the leader who
    has just crossed it, and right behind it on the road).
    """
    field = build_field(snap)
    stopper = field.car_numbers.index(car_number)
    now = field.now_s
    run = np.flatnonzero(field.running)
    left = 1.0 - np.clip((now - field.race_time_s) / field.p50_s, 0.0, 1.0)  # lap to run
    crossing: dict[tuple[int, int], float] = {(int(i), int(field.laps[i])):
                                              float(field.race_time_s[i]) for i in run}
    for n in range(int(field.laps[run].min()) + 1, lap + 1):
        # cars still to cross lap n, in the order they crossed lap n - 1
        going = sorted((int(i) for i in run if field.laps[i] < n),
                       key=lambda i: crossing[(i, n - 1)])
        ahead_s = max((t for (i, m), t in crossing.items() if m == n), default=-np.inf)
        head = not np.isfinite(ahead_s)
        for i in going:
            first = field.laps[i] == n - 1
            pace = field.caution_lap_s if head else float(field.catch_lap_s[i])
            free = now + left[i] * pace if first else crossing[(i, n - 1)] + pace
            end = max(free, ahead_s + CAUTION_GAP_S)
            if i == stopper and first:
                crossing[(i, n)] = end + pit_loss_s  # leaves its slot for the pit lane
                continue
            crossing[(i, n)] = end
            ahead_s, head = end, False
    return {field.car_numbers[i]: crossing[(int(i), lap)] for i in run
            if (int(i), lap) in crossing}


def estimate_rejoin(snap: RaceSnapshot, car_number: str, pit_loss_s: float, *,
                    in_lap: int | None = None) -> Rejoin:
    """Where the car rejoins if it stops on ``in_lap`` (default: its next lap).

    Args:
        snap: The race now.
        car_number: The stopping car.
        pit_loss_s: The stop's loss, s (the caution value under a caution).
        in_lap: The in-lap's number (the car's lap count as it completes it).

    Raises:
        DataError: No such car.
        StrategyError: The car is out of the race, or the in-lap is not ahead of it.
    """
    car = snap.car(car_number)
    if not car.running:
        raise StrategyError(f"car {car_number!r} is out of the race", value=car_number,
                            hint="ask about a running car")
    in_lap = car.laps + 1 if in_lap is None else in_lap
    if in_lap <= car.laps:
        raise StrategyError(f"the in-lap must be ahead of car {car_number!r}'s {car.laps} laps",
                            value=in_lap, hint=f"use a lap from {car.laps + 1} on")
    out_lap = in_lap + 1
    running = [c for c in snap.cars if c.running]
    if snap.caution and in_lap == car.laps + 1:
        others = queue_crossings_s(snap, car_number, pit_loss_s, out_lap)
        mine = others.pop(car_number)
    else:
        others = {c.car_number: crossing_s(c, out_lap) for c in running if c is not car}
        new_tires = (car.deg_s_per_lap or 0.0) * (out_lap - car.laps - 1 + car.tire_age_laps)
        mine = crossing_s(car, out_lap) + pit_loss_s - new_tires
    ahead = [t for t in others.values() if t < mine]
    behind = [t for t in others.values() if t >= mine]
    return Rejoin(position=1 + len(ahead),
                  gap_ahead_s=round(float(mine - max(ahead)), 3) if ahead else None,
                  gap_behind_s=round(float(min(behind) - mine), 3) if behind else None,
                  out_lap=out_lap, time_s=round(float(mine), 3))


__all__ = ["Rejoin", "crossing_s", "estimate_rejoin", "p50_lap_s", "queue_crossings_s"]
