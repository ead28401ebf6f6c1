"""Traffic on one lap: dirty air, being held up, overtakes and the yellow-flag queue.

Cars are placed one by one in the order they started the lap. A car close behind
another loses time in its dirty air; a car that would cross the line ahead of a slower
car it started behind passes it with a probability that grows with its pace advantage
and racecraft and shrinks with the track's ``overtake_difficulty``, else it is held up
just behind. Under a full-course yellow nobody passes: cars close up to the queue at up
to ``CAUTION_CATCH_FACTOR`` times a perfect lap.

How many random numbers a lap needs depends on where the cars are, so ``resolve_order``
takes them from a ``TrafficDraws`` that names each one (the car and the car it tries to
pass): ``GeneratorDraws`` takes them from the race's generator in call order, and a
branched race (``tape``) gives each named draw the value it had in the race it branches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

CAUTION_CATCH_FACTOR = 1.12
"""Fastest a car may lap under yellow while catching the queue, × perfect lap."""

CAUTION_GAP_S = (0.5, 1.0)
"""Gap to the car ahead in the yellow queue, s."""

DIRTY_AIR_S = 0.3
"""Time lost per lap running right behind another car (falls to 0 at a 1 s gap), s."""

FOLLOW_GAP_S = 0.3
"""Closest a car that cannot pass crosses the line behind the car ahead, s."""

PASS_COST_S = 0.15
"""Time the car being passed loses, s."""


@dataclass(frozen=True, slots=True)
class LapTraffic:
    """What traffic did on one lap, per car.

    Attributes:
        ends: Race time at the line, s (NaN for cars out of the race).
        traffic_s: Time lost to traffic or the yellow queue, s.
        overtakes: Passes made.
        overtaken: Passes suffered.
    """

    ends: FloatArray
    traffic_s: FloatArray
    overtakes: IntArray
    overtaken: IntArray


class TrafficDraws(Protocol):
    """The random numbers of one lap's traffic, each named by the cars it concerns."""

    def queue_gap_s(self, car: int) -> float:
        """Gap ``car`` leaves to the car ahead in the yellow queue, s (``CAUTION_GAP_S``)."""
        ...

    def pass_roll(self, car: int, other: int) -> float:
        """Uniform 0..1 deciding whether ``car`` passes ``other`` on this lap."""
        ...


@dataclass(frozen=True, slots=True)
class GeneratorDraws:
    """Traffic draws straight from a generator, in the order ``resolve_order`` asks."""

    rng: np.random.Generator

    def queue_gap_s(self, car: int) -> float:
        """Gap to the car ahead in the yellow queue, s."""
        return float(self.rng.uniform(*CAUTION_GAP_S))

    def pass_roll(self, car: int, other: int) -> float:
        """Uniform 0..1 for a pass attempt."""
        return float(self.rng.random())


def _p_pass(adv_s: float, difficulty: float, craft_car: float, craft_other: float) -> float:
    """Chance to pass on this lap with a pace advantage of ``adv_s`` seconds.

    Grows from 0 at 0.1 s towards certainty (a car seconds faster, the one ahead having
    gone off, gets by), more slowly where passing is hard; racecraft of the attacker
    shortens the scale, the defender's lengthens it.
    """
    scale = (0.4 + 1.2 * difficulty) * (1.2 - 0.4 * craft_car + 0.2 * craft_other)
    return min(1.0 - math.exp(-max(adv_s - 0.1, 0.0) / scale), 0.99)


def resolve_order(
    prev_end: FloatArray, own_end: FloatArray, free: FloatArray, alive: BoolArray,
    pitting: BoolArray, *, caution: bool, base_s: float, difficulty: float,
    craft: FloatArray, draws: TrafficDraws,
) -> LapTraffic:
    """Place every running car at the line.

    Args:
        prev_end: Race time of each car's previous crossing, s.
        own_end: Crossing time each car would reach on a free track, s.
        free: Each car's lap time on a free track (its pace this lap), s; a car behind
            compares it with the lap the car ahead actually runs (held up or not).
        alive: Cars still in the race.
        pitting: Cars in the pit lane this lap (neither pass nor are held up).
        caution: The lap runs under a full-course yellow.
        base_s: A perfect green lap, s.
        difficulty: The track's ``overtake_difficulty``.
        craft: Each driver's racecraft, 0..1.
        draws: The lap's random numbers (``GeneratorDraws(rng)`` for a plain race).
    """
    n = len(own_end)
    order = [int(c) for c in np.argsort(prev_end, kind="stable") if alive[c]]
    ends = own_end.copy()
    traffic = np.zeros(n)
    made = np.zeros(n, dtype=np.int64)
    suffered = np.zeros(n, dtype=np.int64)
    placed: list[int] = []
    for car in order:
        t = float(ends[car])
        on_track = [c for c in placed if not pitting[c]]
        if on_track and not pitting[car]:
            ahead = max(on_track, key=lambda c: ends[c])
            if caution:
                catch = prev_end[car] + CAUTION_CATCH_FACTOR * base_s
                queue = ends[ahead] + draws.queue_gap_s(car)
                t_new = max(queue, min(t, catch))
                traffic[car] += t_new - t
                t = t_new
            else:
                gap_prev = prev_end[car] - prev_end[ahead]
                if 0 <= gap_prev < 1.0 and not pitting[ahead]:
                    loss = DIRTY_AIR_S * (1.0 - gap_prev)
                    t += loss
                    traffic[car] += loss
        k = len(placed) - 1
        while not caution and not pitting[car] and k >= 0 and \
                t < ends[placed[k]] + FOLLOW_GAP_S:
            other = placed[k]
            if pitting[other]:
                k -= 1
                continue
            pace_other = float(ends[other] - prev_end[other])  # as it ran, held up or not
            if draws.pass_roll(car, other) < _p_pass(pace_other - free[car], difficulty, craft[car],
                                      craft[other]):
                made[car] += 1
                suffered[other] += 1
                ends[other] += PASS_COST_S
                traffic[other] += PASS_COST_S
                k -= 1
            else:
                held = ends[other] + FOLLOW_GAP_S
                traffic[car] += held - t
                t = held
                break
        ends[car] = t
        placed.insert(k + 1, car)
    ends[~alive] = np.nan
    return LapTraffic(ends, traffic, made, suffered)


__all__ = ["CAUTION_CATCH_FACTOR", "CAUTION_GAP_S", "GeneratorDraws", "LapTraffic",
           "TrafficDraws", "resolve_order"]
