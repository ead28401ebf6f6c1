"""Where a car comes out of the pit lane: a deterministic estimate from the snapshot.

The cheap model beside the Monte Carlo, and the one a strategist can check by hand:
every car laps at its P50 plus its wear, less the fuel it burns; the stopping car adds
the stop's loss to its in-lap and runs its out-lap on new tires (none for a
drive-through, ``new_tires=False``). Its position on rejoining is its place among the
cars completing the same lap (its out-lap) at its projected crossing, as a lap chart
ranks them (a car a lap down ranks behind, on its own lap count); the gaps are to the
cars just ahead and behind on that lap, at the line that ends the out-lap (a pit wall
reads them there; they differ from the gaps at the pit exit by the out-lap's pace
difference).

A car already in the pit lane at the snapshot (its last crossing was its in-lap, in the
lane) still has its standing time and the rest of the lane ahead of it: its next lap
carries the rest of its stop (``stop_left_s``). Without it, a car stopping a moment
earlier is counted ahead of the stopping car it will in fact come out behind.

Under a caution (the snapshot's ``caution``, for a stop on the next lap) the caution is
taken to start at the snapshot and last to the end of the out-lap, without the Monte
Carlo's noise: every car runs the rest of its lap and the laps after at its catch-up
pace (``CAUTION_CATCH_RATIO``) but no closer than ``CAUTION_GAP_S`` behind the car
ahead of it on the road at each line crossing; the queue's head laps at the caution
pace; nobody passes. The crossings are worked out lap number by lap number, so the car
just behind the line (a crossing short of the leader who has just crossed it) is held
behind the leader, as on the road. The stopping car loses ``pit_loss_s`` (the caution
loss) on its in-lap, leaving its slot, and leaves the pit lane at the caution's pace
(it may not race to close up under the yellow), behind the queue that went by; a car in
the pit lane at the snapshot runs its lap at the caution's pace plus the rest of its
stop, neither holding a slot nor held by one.

The estimate assumes the other cars do not stop (nobody knows, at the call, who else
will), and that every car the snapshot shows running finishes the out-lap. Checked
against the simulator on tuning seasons (``bench/rejoin.py --seeds 6001-6020``, each
stop with the ``pitloss`` loss of its kind: tire change, repair or drive-through): 92.4%
of 786 stops within one place, 91.6% under green and 95.5% under caution (90.3% of 901
while the simulator's cautions saw three times the real races' stops). The misses grow
with the other cars that stop in the same laps (the bench splits the stops by them: 81.4%
under green with two or more), and a stop under caution rejoins inside the field as it
bunches up, where a second or two of the crew's stand, unknown before the stop, is a
place or two.

A car whose pace is the field's rather than the ``laptime`` model's
(``CarSnapshot.pace_fallback``) is carried at that pace, and the answer says so
(``Rejoin.pace_fallback`` and its notes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
        pace_fallback: A running car's pace (the stopping car's or another's) is the
            field's, not the ``laptime`` model's (``CarSnapshot.pace_fallback``).
        notes: What the estimate assumed where the snapshot falls short.
    """

    position: int
    gap_ahead_s: float | None
    gap_behind_s: float | None
    out_lap: int
    time_s: float
    pace_fallback: bool = False
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, object]:
        return {"position": self.position, "gap_ahead_s": self.gap_ahead_s,
                "gap_behind_s": self.gap_behind_s, "out_lap": self.out_lap,
                "time_s": self.time_s, "pace_fallback": self.pace_fallback,
                "notes": list(self.notes)}


def p50_lap_s(car: CarSnapshot, k: int) -> float:
    """The car's ``k``-th lap from the snapshot (1 = next) at P50, wear and fuel, s."""
    wear = (car.deg_s_per_lap or 0.0) * (k - 1)
    fuel = fuel_s_per_l(car.lap_time_p50_s) * (car.fuel_burn_l_per_lap or 0.0) * (k - 1)
    return car.lap_time_p50_s + wear - fuel


def stop_left_s(car: CarSnapshot, stop_loss_s: float) -> float:
    """The rest of a stop the car is making at the snapshot, s (0 when it is not).

    A car whose last crossing was in the pit lane (``in_pit``) has its standing time and
    the rest of the lane still ahead of it. The snapshot says neither what kind of stop
    it is making nor how much its in-lap already lost, so the rest is taken as a whole
    tire stop's loss (``stop_loss_s``): late by the in-lap's share for a tire stop, by
    more for a drive-through (no standing time), early for a long repair.
    """
    return stop_loss_s if car.in_pit and car.running else 0.0


def crossing_s(car: CarSnapshot, lap: int, stop_left: float = 0.0) -> float:
    """Projected race time at which the car completes lap number ``lap``, s (laps it
    has already completed are placed back at its P50); ``stop_left`` (s, the rest of a
    stop it is making, ``stop_left_s``) is added to its next lap."""
    ahead = lap - car.laps
    if ahead <= 0:
        return car.race_time_s + ahead * car.lap_time_p50_s
    return car.race_time_s + stop_left + sum(p50_lap_s(car, k) for k in range(1, ahead + 1))


def queue_crossings_s(snap: RaceSnapshot, car_number: str, pit_loss_s: float,
                      lap: int) -> dict[str, float]:
    """Under caution: each running car's crossing of lap number ``lap`` when
    ``car_number`` stops on its next lap (see the module docstring), s.

    Crossings are worked out lap number by lap number, so that a car is held behind the
    car ahead of it on the road at the same line crossing, whatever their lap counts at
    the snapshot (the car just behind the line is one crossing short of the leader who
    has just crossed it, and right behind it on the road).
    """
    run_field = build_field(snap)
    stopper = run_field.car_numbers.index(car_number)
    by_number = {c.car_number: c for c in snap.cars}
    in_lane = [stop_left_s(by_number[n], snap.pit_loss_caution_s)
               for n in run_field.car_numbers]
    laps, caution_s = run_field.laps, run_field.caution_lap_s
    now = run_field.now_s
    run = np.flatnonzero(run_field.running)
    left = 1.0 - np.clip((now - run_field.race_time_s) / run_field.p50_s, 0.0, 1.0)
    crossing: dict[tuple[int, int], float] = {(int(i), int(laps[i])):
                                              float(run_field.race_time_s[i]) for i in run}
    for n in range(int(laps[run].min()) + 1, lap + 1):
        # cars still to cross lap n, in the order they crossed lap n - 1
        going = sorted((int(i) for i in run if laps[i] < n), key=lambda i: crossing[(i, n - 1)])
        ahead_s = max((t for (i, m), t in crossing.items() if m == n), default=-np.inf)
        head = not np.isfinite(ahead_s)
        for i in going:
            first = laps[i] == n - 1
            if first and in_lane[i] and i != stopper:  # in the lane: neither holds nor is held
                crossing[(i, n)] = now + left[i] * caution_s + in_lane[i]
                continue
            pace = caution_s if head or (i == stopper and n == laps[i] + 2) \
                else float(run_field.catch_lap_s[i])
            free = now + left[i] * pace if first else crossing[(i, n - 1)] + pace
            end = max(free, ahead_s + CAUTION_GAP_S)
            if i == stopper and first:
                crossing[(i, n)] = end + pit_loss_s  # leaves its slot for the pit lane
                continue
            crossing[(i, n)] = end
            ahead_s, head = end, False
    return {run_field.car_numbers[i]: crossing[(int(i), lap)] for i in run
            if (int(i), lap) in crossing}


def projected_crossings_s(snap: RaceSnapshot, car_number: str, pit_loss_s: float, *,
                          in_lap: int, new_tires: bool = True
                          ) -> tuple[float, dict[str, float]]:
    """The stopping car's crossing of its out-lap and each other running car's crossing
    of the same lap number, s (the estimate's working; see the module docstring)."""
    car = snap.car(car_number)
    out_lap = in_lap + 1
    if snap.caution and in_lap == car.laps + 1:
        others = queue_crossings_s(snap, car_number, pit_loss_s, out_lap)
        return others.pop(car_number), others
    stop_loss_s = snap.pit_loss_caution_s if snap.caution else snap.pit_loss_green_s
    others = {c.car_number: crossing_s(c, out_lap, stop_left_s(c, stop_loss_s))
              for c in snap.cars if c.running and c is not car}
    fresh = (car.deg_s_per_lap or 0.0) * (out_lap - car.laps - 1 + car.tire_age_laps) \
        if new_tires else 0.0
    return crossing_s(car, out_lap) + pit_loss_s - fresh, others


def _notes(snap: RaceSnapshot) -> tuple[bool, tuple[str, ...]]:
    """Whether a running car's pace is a fallback, and the notes the answer carries."""
    running = [c for c in snap.cars if c.running]
    notes = []
    fallback = [c.car_number for c in running if c.pace_fallback]
    if fallback:
        notes.append(f"car(s) {', '.join(fallback)} carried at the field's pace (the "
                     "laptime model has none for them yet): a fallback")
    lane = [c.car_number for c in running if c.in_pit]
    if lane:
        notes.append(f"car(s) {', '.join(lane)} in the pit lane: the rest of their stop "
                     "taken as a whole tire stop's loss")
    return bool(fallback), tuple(notes)


def estimate_rejoin(snap: RaceSnapshot, car_number: str, pit_loss_s: float, *,
                    in_lap: int | None = None, new_tires: bool = True) -> Rejoin:
    """Where the car rejoins if it stops on ``in_lap`` (default: its next lap).

    Args:
        snap: The race now.
        car_number: The stopping car.
        pit_loss_s: The stop's loss, s (the caution value under a caution).
        in_lap: The in-lap's number (the car's lap count as it completes it).
        new_tires: The stop fits new tires (False for a drive-through: the out-lap is
            run on the tires the car came in on).

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
    mine, others = projected_crossings_s(snap, car_number, pit_loss_s, in_lap=in_lap,
                                         new_tires=new_tires)
    ahead = [t for t in others.values() if t < mine]
    behind = [t for t in others.values() if t >= mine]
    fallback, notes = _notes(snap)
    return Rejoin(position=1 + len(ahead),
                  gap_ahead_s=round(float(mine - max(ahead)), 3) if ahead else None,
                  gap_behind_s=round(float(min(behind) - mine), 3) if behind else None,
                  out_lap=in_lap + 1, time_s=round(float(mine), 3), pace_fallback=fallback,
                  notes=notes)


__all__ = ["Rejoin", "crossing_s", "estimate_rejoin", "p50_lap_s", "projected_crossings_s",
           "queue_crossings_s", "stop_left_s"]
