"""The race around a car at its line crossing: position, gaps, field pace, race time.

Rows are taken in the order the laps ended (``lap_end``, then ``car_number`` for ties)
and every expression is cumulative in that order, so a row only uses laps that had
ended by the time its own lap ended. That is what the live builder knows at that
moment, and why the gap behind is the one at the previous line: the car behind has not
crossed this lap's line yet.

Races are timed: ``RACE_DURATION_S`` after the start, the leader's next crossing takes
the chequered flag and every car finishes the lap it is on.
"""

from __future__ import annotations

import polars as pl

from cognirace.domain.tracks import TRACKS
from cognirace.features.car_history import CAR
from cognirace.features.durations import seconds

RACE_DURATION_S = 45 * 60.0
"""Length of a GR Cup race before the last lap starts, s."""

BEST_LAP_S: dict[str, float] = {key: t.best_lap_s for key, t in TRACKS.items()}
"""Best race lap (s) by track key: the pace of last resort for the laps-left estimate."""

RACE = ("race_id",)
RACE_LAP = ("race_id", "lap")
CROSSING_ORDER = ("race_id", "lap_end", "car_number")
"""Order in which lap completions become known; a tie goes by the timing car's number
(as text), which every lap has, logged or not."""


def add_line_order(laps: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``position``, ``gap_ahead_s``, ``gap_leader_s`` and ``gap_behind_prev_s``.

    Args:
        laps: Lap rows sorted by ``CROSSING_ORDER``.
    """
    end = pl.col("lap_end")
    next_end = end.shift(-1).over(RACE_LAP)
    return laps.with_columns(
        position=(pl.int_range(pl.len()).over(RACE_LAP) + 1).cast(pl.Int32),
        gap_ahead_s=seconds(end - end.shift(1).over(RACE_LAP)),
        gap_leader_s=seconds(end - end.first().over(RACE_LAP)),
        _behind_end=next_end,
        _gap_behind=seconds(next_end - end),
    ).with_columns(
        gap_behind_prev_s=pl.when(pl.col("_behind_end").shift(1).over(CAR) <= end)
        .then(pl.col("_gap_behind").shift(1).over(CAR)),
    ).drop("_behind_end", "_gap_behind")


def add_field_pace(laps: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``field_median_green_s``: median green lap of the cars through this lap so far.

    Needs ``green_lap`` and rows sorted by ``CROSSING_ORDER``.
    """
    green_time = pl.when(pl.col("green_lap")).then(pl.col("lap_time_s"))
    return laps.with_columns(
        field_median_green_s=green_time.cumulative_eval(pl.element().median()).over(RACE_LAP),
    )


def add_race_clock(laps: pl.LazyFrame, race_duration_s: float = RACE_DURATION_S
                   ) -> pl.LazyFrame:
    """Add ``race_elapsed_s``, ``race_time_left_s`` and ``laps_left_est``.

    The start is the earliest lap start seen so far. The leader's last crossing decides
    how many laps remain: none once it crossed after the race duration, else the time
    left divided by a pace, rounded up, since the lap in progress at the flag is
    completed. The pace is the car's green median, else the field's, else the track's
    best race lap (``cognirace.domain.tracks``), never a caution or pit lap.

    Args:
        laps: Rows sorted by ``CROSSING_ORDER`` with ``track``, ``position`` and the
            pace columns.
        race_duration_s: Timed length of the race, s.
    """
    start = pl.col("lap_start").cum_min().over(RACE)
    leader_end = pl.when(pl.col("position") == 1).then(pl.col("lap_end")) \
        .forward_fill().over(RACE)
    leader_left_s = race_duration_s - seconds(leader_end - start)
    best_lap = pl.col("track").replace_strict(BEST_LAP_S, default=None, return_dtype=pl.Float64)
    pace_s = pl.coalesce(pl.col("pace_median3_s"), pl.col("field_median_green_s"), best_lap,
                         pl.col("lap_time_s"))
    laps_left = pl.when(leader_left_s <= 0).then(0).otherwise((leader_left_s / pace_s).ceil())
    elapsed = seconds(pl.col("lap_end") - start)
    return laps.with_columns(
        race_elapsed_s=elapsed,
        race_time_left_s=(race_duration_s - elapsed).clip(lower_bound=0.0),
        laps_left_est=laps_left.cast(pl.Int32),
    )


def add_field_context(laps: pl.LazyFrame, race_duration_s: float = RACE_DURATION_S
                      ) -> pl.LazyFrame:
    """Position, gaps, field pace and race clock for each lap row.

    Args:
        laps: Rows with the car history columns (``green_lap``, ``pace_median3_s``).
        race_duration_s: Timed length of the race, s.
    """
    ordered = laps.sort(*CROSSING_ORDER)
    return add_race_clock(add_field_pace(add_line_order(ordered)), race_duration_s)


__all__ = [
    "CROSSING_ORDER",
    "RACE_DURATION_S",
    "add_field_context",
    "add_field_pace",
    "add_line_order",
    "add_race_clock",
]
