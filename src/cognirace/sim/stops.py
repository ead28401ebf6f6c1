"""Where each stop left its car: position before, position on rejoining, gaps at pit exit.

A rejoin estimate (where will the car come out?) is checked against these on every
stop, so they are measured the way a pit wall reads them: race positions at the line
(``result.lap_positions``), and at the pit exit the time gaps to the cars just ahead and
behind in race order.

The engine splits the pit lane at the line: the in-lap ends at the line in the pit lane,
the out-lap holds the standing time and the second half of the lane. A car leaves the
pit lane ``stationary_s + half_pit_s`` after its in-lap crossing. Another car passes the
pit exit point ``exit_share`` of its racing lap (its lap without the pit term) after
its own crossing, or, on its own out-lap, as it leaves the pit lane. Gaps compare
passages on the same lap count as the stopping car's out-lap, so the car "ahead" is the
one ahead in race order, whether or not it is in sight.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import numpy.typing as npt

from cognirace.sim.plan import PitStop
from cognirace.sim.result import lap_positions

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def exit_passages(end_s: FloatArray, lap_time_s: FloatArray, pit_s: FloatArray,
                  pit_out: BoolArray, stationary_s: FloatArray, *, exit_share: float,
                  half_pit_s: float) -> FloatArray:
    """Race time at which each car passed the pit exit point on each lap, ``[lap, car]``, s.

    NaN where the car did not complete the lap.
    """
    start = end_s - lap_time_s
    racing = lap_time_s - np.nan_to_num(pit_s)
    passage = start + exit_share * racing
    leave = start + stationary_s + half_pit_s
    return np.where(pit_out, leave, passage)


def _gaps(passages: FloatArray, car: int, exit_s: float) -> tuple[float | None, float | None]:
    others = np.delete(passages, car)
    others = others[np.isfinite(others)]
    before = others[others < exit_s]
    after = others[others >= exit_s]
    ahead = round(exit_s - float(before.max()), 3) if len(before) else None
    behind = round(float(after.min()) - exit_s, 3) if len(after) else None
    return ahead, behind


def with_outcomes(stops: list[PitStop], end_s: FloatArray, lap_time_s: FloatArray,
                  pit_s: FloatArray, pit_out: BoolArray, stationary_s: FloatArray,
                  grid: IntArray, *, exit_share: float, half_pit_s: float) -> list[PitStop]:
    """Copies of ``stops`` with positions before and after and the gaps at pit exit.

    Args:
        stops: Stops whose in-lap the car completed.
        end_s: Crossing times of the finished race, ``[lap, car]``, s (NaN: not run).
        lap_time_s: Lap times, ``[lap, car]``, s.
        pit_s: The ``pit`` term, ``[lap, car]``, s.
        pit_out: Out-laps, ``[lap, car]``.
        stationary_s: Standing time on each out-lap, ``[lap, car]``, s.
        grid: Car indices in grid order.
        exit_share: Share of a racing lap from the line to the pit exit.
        half_pit_s: Time to drive half the pit lane at the limiter, s.
    """
    positions = lap_positions(end_s)
    passages = exit_passages(end_s, lap_time_s, pit_s, pit_out, stationary_s,
                             exit_share=exit_share, half_pit_s=half_pit_s)
    grid_position = np.empty(len(grid), dtype=np.int64)
    grid_position[grid] = np.arange(1, len(grid) + 1)
    n_laps = end_s.shape[0]
    out = []
    for stop in stops:
        c, in_idx = stop.car, stop.lap - 1
        before = positions[in_idx - 1, c] if in_idx else grid_position[c]
        exit_s = float(end_s[in_idx, c]) + stop.stationary_s + half_pit_s
        rejoin: int | None = None
        ahead: float | None = None
        behind: float | None = None
        if in_idx + 1 < n_laps:
            if math.isfinite(end_s[in_idx + 1, c]):
                rejoin = int(positions[in_idx + 1, c])
            ahead, behind = _gaps(passages[in_idx + 1], c, exit_s)
        out.append(dataclasses.replace(
            stop, position_before=int(before), rejoin_position=rejoin,
            pit_exit_s=round(exit_s, 3), gap_ahead_s=ahead, gap_behind_s=behind))
    return out


__all__ = ["exit_passages", "with_outcomes"]
