"""Telemetry lap numbers: from the official timing where a car has it, else repaired.

The logger's lap counter is not the official lap: it counts the formation laps too (it
runs two ahead of the timing for GR86-002-000 at Barber R1) and writes 32768 or other
impossible numbers when it loses count. Where a car is matched to the official timing,
each sample takes the official lap whose line crossings enclose its time
(``official_laps``): lap 0 before the start, the last lap plus one for the in lap after
the flag. Elsewhere (a car the timing does not know, a race without timing) the
logger's numbers are kept and only impossible ones recovered
(``repair_telemetry_laps``).
"""

from __future__ import annotations

import polars as pl

from cognirace.domain.channels import LAP_NUMBER_SENTINEL
from cognirace.ingest.laps import MAX_LAP

LAP_RESET_M = 1000.0
"""A drop of the lap distance by more than this many metres is a start/finish crossing."""
REPAIR_SOURCES = ("lap times", "lap distance", "carried forward")
"""Where a repaired telemetry lap number came from, most trusted first."""
OFFICIAL = "official timing"
"""Source name of laps placed by the official timing's line crossings."""


def official_laps(frame: pl.DataFrame, crossings: pl.DataFrame
                  ) -> tuple[pl.DataFrame, dict[str, int]]:
    """Give every sample of a car with official laps the official lap it ran in.

    Args:
        frame: Wide telemetry with ``vehicle_id``, ``time`` and the logged ``lap``,
            sorted by car and time (as ``read_telemetry`` gives it).
        crossings: ``vehicle_id, lap, lap_start, lap_end`` (UTC) of the official laps of
            the cars matched to the timing.

    Returns:
        The frame, still sorted by car and time, and per car the median of logged minus
        official lap (0 where the logger agrees) for the cars placed.
    """
    spans = crossings.drop_nulls(["vehicle_id", "lap_end"]).select(
        "vehicle_id", pl.col("lap").cast(pl.Int64).alias("_lap"),
        pl.col("lap_end").cast(frame.schema["time"]).alias("_end"),
        pl.col("lap_start").cast(frame.schema["time"]).alias("_start"),
    ).sort("vehicle_id", "_end")
    if spans.is_empty():
        return frame, {}
    bounds = spans.group_by("vehicle_id").agg(
        pl.col("_start").min().alias("_first"), pl.col("_lap").max().alias("_last"))
    # both sides sorted by time within each car, which is what an as-of join by car needs
    placed = frame.join_asof(
        spans.drop("_start"), left_on="time", right_on="_end", by="vehicle_id",
        strategy="forward", allow_exact_matches=False, check_sortedness=False,
    ).join(bounds, on="vehicle_id", how="left", maintain_order="left")
    official = (pl.when(pl.col("_first").is_null()).then(None)
                .when(pl.col("time") < pl.col("_first")).then(0)
                .otherwise(pl.coalesce("_lap", pl.col("_last") + 1)))
    placed = placed.with_columns(official.alias("_official"))
    shift = placed.filter(pl.col("_official").is_not_null() & ~_bad_lap()).group_by(
        "vehicle_id").agg((pl.col("lap") - pl.col("_official")).median().alias("d"))
    out = placed.with_columns(pl.coalesce("_official", "lap").cast(pl.Int64).alias("lap"))
    offsets = {str(v): round(d) for v, d in shift.iter_rows() if d is not None}
    return out.drop("_lap", "_end", "_first", "_last", "_official"), dict(sorted(offsets.items()))


def repair_telemetry_laps(frame: pl.DataFrame, lap_windows: pl.DataFrame | None = None
                          ) -> tuple[pl.DataFrame, dict[str, int]]:
    """Recover impossible lap numbers (32768, negative, absurd) of telemetry samples.

    Sources, most trusted first, each used where the one before has no answer:

    1. ``lap times``: the lap whose start..end window (from the repaired lap files,
       whose times are real time like the samples') holds the sample's time. The lap
       files are written at the line, so they place a sample without guessing.
    2. ``lap distance``: each car's samples are cut into laps where ``lap_dist_m`` drops
       by more than ``LAP_RESET_M``; the offset between that count and the trusted lap
       numbers gives the lap of every untrusted sample.
    3. ``carried forward``: without a lap distance, the last trusted lap.

    Args:
        frame: Wide telemetry with ``vehicle_id``, ``time``, ``lap`` and ``lap_dist_m``,
            sorted by car and time.
        lap_windows: ``vehicle_id, lap, lap_start, lap_end`` per lap (UTC), or ``None``
            when the race has no lap files.

    Returns:
        The frame sorted by car and time, and the samples repaired by source.
    """
    flagged = frame.with_columns(_bad_lap().alias("_bad"))
    bad_cars = flagged.filter(pl.col("_bad"))["vehicle_id"].unique()
    if bad_cars.is_empty():
        return frame, {}
    # only cars with a bad sample need the per-car window expressions
    hit = pl.col("vehicle_id").is_in(bad_cars.implode())
    clean = flagged.filter(~hit).drop("_bad").with_columns(pl.col("lap").cast(pl.Int64))
    out = flagged.filter(hit).sort("vehicle_id", "time")
    if lap_windows is None:
        out = out.with_columns(pl.lit(None, dtype=pl.Int64).alias("_window"))
    else:
        bad = out.filter(pl.col("_bad")).select("vehicle_id", "time").unique()
        window = window_laps(bad, lap_windows)
        out = out.join(window, on=["vehicle_id", "time"], how="left", maintain_order="left")
    cars = out
    has_dist = pl.col("lap_dist_m").is_not_null().any().over("vehicle_id")
    source = (pl.when(pl.col("_window").is_not_null()).then(pl.lit(REPAIR_SOURCES[0]))
              .when(has_dist).then(pl.lit(REPAIR_SOURCES[1])).otherwise(pl.lit(REPAIR_SOURCES[2])))
    placed = cars.filter(pl.col("_bad"))["_window"].null_count() == 0
    fallback = pl.lit(None, dtype=pl.Int64) if placed else _lap_from_distance()
    cars = cars.with_columns(
        pl.when(pl.col("_bad")).then(pl.coalesce("_window", fallback))
        .otherwise(pl.col("lap")).cast(pl.Int64).alias("lap"),
        pl.when(pl.col("_bad")).then(source).alias("_source"),
    )
    counts = cars["_source"].drop_nulls().value_counts()
    by_source = {str(k): int(n) for k, n in counts.iter_rows()}
    merged = pl.concat([clean, cars.drop("_bad", "_window", "_source")])
    return merged.sort("vehicle_id", "time"), dict(sorted(by_source.items()))


def _bad_lap() -> pl.Expr:
    return (pl.col("lap").is_null() | (pl.col("lap") < 0) | (pl.col("lap") > MAX_LAP)
            | (pl.col("lap") == LAP_NUMBER_SENTINEL))


def window_laps(samples: pl.DataFrame, lap_windows: pl.DataFrame) -> pl.DataFrame:
    """The lap whose ``lap_start <= time < lap_end`` window holds each sample.

    Args:
        samples: ``vehicle_id, time`` of the samples to place.
        lap_windows: ``vehicle_id, lap, lap_start, lap_end``; laps missing either end
            are skipped.

    Returns:
        ``vehicle_id, time, _window``: the lap, missing outside every window (before
        the first lap, after the last, or a car without lap files).
    """
    time_type = samples.schema["time"]
    spans = (
        lap_windows.select("vehicle_id", pl.col("lap").cast(pl.Int64).alias("_window"),
                           pl.col("lap_start", "lap_end").cast(time_type))
        .drop_nulls().filter(pl.col("lap_end") > pl.col("lap_start"))
        .sort("lap_start")
    )
    # both sides sorted by time globally, so sorted within every car: no check needed
    placed = samples.sort("time").join_asof(
        spans, left_on="time", right_on="lap_start", by="vehicle_id", strategy="backward",
        check_sortedness=False,
    )
    inside = pl.col("time") < pl.col("lap_end")
    return placed.select("vehicle_id", "time",
                         pl.when(inside).then(pl.col("_window")).alias("_window"))


def _lap_from_distance() -> pl.Expr:
    """Lap from the lap-distance reset and the trusted laps; carried forward without one."""
    by = "vehicle_id"
    dist = pl.col("lap_dist_m").forward_fill().over(by)
    seg = (dist < dist.shift(1).over(by) - LAP_RESET_M).fill_null(False).cum_sum().over(by)
    offset = (pl.when(~pl.col("_bad")).then(pl.col("lap") - seg).median()
              .over(by).round(0))
    carried = pl.when(~pl.col("_bad")).then(pl.col("lap")).forward_fill().over(by)
    has_dist = pl.col("lap_dist_m").is_not_null().any().over(by)
    return (pl.when(has_dist & offset.is_not_null()).then(seg + offset)
            .when(has_dist).then(seg + 1).otherwise(carried))


__all__ = [
    "LAP_RESET_M",
    "OFFICIAL",
    "REPAIR_SOURCES",
    "official_laps",
    "repair_telemetry_laps",
    "window_laps",
]
