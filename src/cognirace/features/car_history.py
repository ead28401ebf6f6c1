"""One car's history through a race: flags, pit stops, stints, tire age and pace.

Every expression here looks only at the car's own laps up to the current one, so a
row depends on nothing that happens after its lap ends. A car is a timing car
(``race_id, car_number``), whether or not a logger recorded it.

A green lap is one raced at full speed: its flag at the line is one of ``RACING_FLAGS``
(green, or the chequered flag on the car's last lap, which is raced flat out to the
line), and neither it nor the lap before was under a full-course yellow.

Stints split at every pit stop: the in-lap (``in_pit``) closes a stint, the next lap
(the out-lap) opens the next one. Tire age resets only where the stop was long enough
to change tires: a drive-through spends about the pit-lane transit time in the lane
(``cognirace.domain.tracks``), a tire change adds at least
``TIRE_CHANGE_MIN_STATIONARY_S`` of standing time on top of it.
"""

from __future__ import annotations

import polars as pl

from cognirace.domain.formats import FLAG_CAUTION, RACING_FLAGS
from cognirace.domain.tracks import TRACKS

TIRE_CHANGE_MIN_STATIONARY_S = 15.0
"""Standing time (s) above the pit-lane transit from which a stop counts as a tire
change. Four wheels by a small crew take 20 s or more; a drive-through's pit time stays
within a few seconds of the transit time, so 15 s separates the two."""

PACE_WINDOW_LAPS = 3
"""Green laps in the rolling pace median (the lap-time model's baseline)."""

PIT_TRANSIT_S: dict[str, float] = {key: t.pit_transit_s for key, t in TRACKS.items()}
"""Pit-lane transit time (s) by track key."""

CAR = ("race_id", "car_number")
"""One car of one race: the timing car. Never ``vehicle_id``, which is null for every
car without logger data and would make them one car."""


def _by_car(expr: pl.Expr) -> pl.Expr:
    return expr.over(CAR)


def add_pit_and_flags(laps: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``prev_fcy``, ``out_lap``, ``tire_change`` and ``green_lap``.

    Args:
        laps: Lake lap rows with a ``track`` column, sorted by car and lap.
    """
    in_pit = pl.col("in_pit").fill_null(False)
    transit = pl.col("track").replace_strict(PIT_TRANSIT_S, default=None,
                                             return_dtype=pl.Float64)
    tire_change = in_pit & (pl.col("pit_time_s") >= transit + TIRE_CHANGE_MIN_STATIONARY_S)
    return laps.with_columns(
        in_pit=in_pit,
        prev_fcy=_by_car(pl.col("flag").shift(1) == FLAG_CAUTION).fill_null(False),
        out_lap=_by_car(in_pit.shift(1)).fill_null(False),
        tire_change=tire_change.fill_null(False),
    ).with_columns(
        green_lap=pl.col("flag").is_in(RACING_FLAGS).fill_null(False) & ~pl.col("prev_fcy")
        & ~pl.col("in_pit") & ~pl.col("out_lap") & (pl.col("lap") > 1),
    )


def add_stints(laps: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``stint`` and ``tire_age_laps`` (needs ``add_pit_and_flags`` first).

    Tire age is the lap number minus the first lap on the set, so a lap missing from
    the lake does not shift the count; a car's first set starts on lap 1.
    """
    in_pit = pl.col("in_pit").cast(pl.Int32)
    set_start = _by_car(
        pl.when(pl.col("tire_change")).then(pl.col("lap") + 1).shift(1).forward_fill()
    ).fill_null(1)
    return laps.with_columns(
        stint=(_by_car(in_pit.cum_sum()) - in_pit + 1).cast(pl.Int32),
        tire_age_laps=(pl.col("lap") - set_start).clip(lower_bound=0).cast(pl.Int32),
    )


def add_pace(laps: pl.LazyFrame) -> pl.LazyFrame:
    """Add ``pace_median3_s`` and ``best_green_s`` from the car's green laps so far."""
    green_time = pl.when(pl.col("green_lap")).then(pl.col("lap_time_s"))
    recent = pl.element().drop_nulls().tail(PACE_WINDOW_LAPS).median()
    return laps.with_columns(
        pace_median3_s=_by_car(green_time.cumulative_eval(recent)),
        best_green_s=_by_car(green_time.cum_min().forward_fill()),
    )


def add_car_history(laps: pl.LazyFrame) -> pl.LazyFrame:
    """Flags, pit stops, stints, tire age and pace of each car, from its own laps.

    Args:
        laps: Lake lap rows with ``track``; any order (sorted here by car and lap).
    """
    ordered = laps.sort(*CAR, "lap")
    return add_pace(add_stints(add_pit_and_flags(ordered)))


__all__ = [
    "CAR",
    "PACE_WINDOW_LAPS",
    "PIT_TRANSIT_S",
    "TIRE_CHANGE_MIN_STATIONARY_S",
    "add_car_history",
    "add_pace",
    "add_pit_and_flags",
    "add_stints",
]
