"""Telemetry: long format in, one wide row per car and sample out, read out of core.

The real files hold one row per channel per sample (about 12 million rows, 1.5 GB for
a race). They are pivoted out of core by one streaming group-by on
``(vehicle_id, meta_time)`` (``ingest.pivot``): ``meta_time`` is the reliable clock (the
ECU ``timestamp`` drifts by days in places), so every channel logged at one
``meta_time`` belongs to one sample; the same pass counts rows per car and channel for
the report. Peak memory is about the size of the wide result (a tenth of the file), not
of the file.

Impossible lap numbers (32768 and the like) are then recovered on the wide frame, from
the lap files' start and end times where the race has them, else from the lap-distance
reset (``repair_telemetry_laps``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from cognirace.domain.channels import CHANNELS, LAP_NUMBER_SENTINEL
from cognirace.errors import SchemaError
from cognirace.ingest.laps import MAX_LAP
from cognirace.ingest.pivot import CHANNEL_NAMES as _NAMES
from cognirace.ingest.pivot import Pivot, pivot, scan
from cognirace.lake.schema import TELEMETRY

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"
LAP_RESET_M = 1000.0
"""A drop of the lap distance by more than this many metres is a start/finish crossing."""
REPAIR_SOURCES = ("lap times", "lap distance", "carried forward")
"""Where a repaired telemetry lap number came from, most trusted first."""


@dataclass
class TelemetryResult:
    """The wide telemetry of one race and what reading it found.

    Attributes:
        frame: Lake telemetry columns except ``race_id``, sorted by car and time.
        rows_read: Long-format rows in the file(s).
        dropped: Rows dropped, by reason.
        sample_rate_hz: Median samples per second per car, by lake channel column.
        numbers: ``vehicle_number`` logged per ``vehicle_id`` (0 where unassigned).
        laps_repaired: Samples whose lap number was recovered.
        laps_repaired_by: The same by source (``REPAIR_SOURCES``).
        values_nulled: Values outside their channel's physical range, set missing.
    """

    frame: pl.DataFrame
    rows_read: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    sample_rate_hz: dict[str, float] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict)
    laps_repaired: int = 0
    laps_repaired_by: dict[str, int] = field(default_factory=dict)
    values_nulled: int = 0


def read_telemetry(paths: Sequence[Path], lap_windows: pl.DataFrame | None = None
                   ) -> TelemetryResult:
    """Read, pivot, clean and repair the telemetry of one race.

    Args:
        paths: The race's telemetry file(s).
        lap_windows: Lap start and end per car from the repaired lap files
            (``vehicle_id, lap, lap_start, lap_end``), to place samples whose lap number
            is impossible; ``None`` without lap files.

    Raises:
        SchemaError: naming file, line and column when a key value does not parse.
    """
    try:
        pivoted = pivot(paths)
    except pl.exceptions.PolarsError as exc:
        raise _locate(paths, exc) from None
    wide = pivoted.wide
    stats = pivoted.stats.filter(pl.col("vehicle_id").is_not_null())
    unknown_rows = stats.filter(~pl.col("telemetry_name").is_in(_NAMES))["rows"].sum() or 0
    result = TelemetryResult(frame=wide,
                             rows_read=pivoted.n_known + int(unknown_rows) + pivoted.n_orphan)
    _count_rows(stats, wide, pivoted, result)
    frame = wide.filter(pl.col("vehicle_id").is_not_null())
    frame = _parse_time(frame, paths)
    frame, result.values_nulled = _clamp(frame)
    frame, result.laps_repaired_by = repair_telemetry_laps(frame, lap_windows)
    result.laps_repaired = sum(result.laps_repaired_by.values())
    result.frame = frame.select(TELEMETRY.names()[1:]).cast(dict(list(TELEMETRY.items())[1:]))
    result.sample_rate_hz = sample_rates(stats, result.frame)
    result.numbers = {
        str(v): int(n) for v, n in stats.group_by("vehicle_id")
        .agg(pl.col("vehicle_number").max().fill_null(0)).iter_rows()
    }
    return result


def _count_rows(stats: pl.DataFrame, wide: pl.DataFrame, pivoted: Pivot,
                result: TelemetryResult) -> None:
    unknown = stats.filter(~pl.col("telemetry_name").is_in(_NAMES)
                           | pl.col("telemetry_name").is_null())
    for name, rows in unknown.group_by("telemetry_name").agg(pl.col("rows").sum()).iter_rows():
        result.dropped[f"telemetry: unknown channel {name!r}"] += int(rows)
    if pivoted.n_orphan:
        result.dropped["telemetry: no vehicle_id"] += pivoted.n_orphan
    if pivoted.n_missing:
        result.dropped["telemetry: missing value"] += pivoted.n_missing
    kept = wide.filter(pl.col("vehicle_id").is_not_null())
    cells = sum(int(kept[c.column].count()) for c in CHANNELS)
    dupes = pivoted.n_known - pivoted.n_missing - cells
    if dupes:
        result.dropped["telemetry: duplicate sample"] += dupes


def _parse_time(frame: pl.DataFrame, paths: Sequence[Path]) -> pl.DataFrame:
    """``meta_time`` text to UTC ``time``; a value that does not parse is an error."""
    time = pl.col("meta_time").str.to_datetime(_TIME_FORMAT, time_unit="us", time_zone="UTC",
                                               strict=False)
    out = frame.with_columns(time.alias("time"))
    bad = out.filter(pl.col("time").is_null())
    if bad.height:
        value = bad["meta_time"][0]
        raise _find(paths, "meta_time", pl.col("meta_time").eq_missing(value),
                    "cannot read a UTC time", value)
    return out.drop("meta_time")


def _clamp(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Set values outside each channel's physical range missing; count them."""
    checks = [
        (pl.col(c.column) < c.low) | (pl.col(c.column) > c.high) for c in CHANNELS
    ]
    n = int(frame.select(pl.sum_horizontal(
        [chk.fill_null(False).cast(pl.Int64) for chk in checks]).sum()).item())
    if not n:
        return frame, 0
    return frame.with_columns(
        pl.when(chk).then(None).otherwise(pl.col(c.column)).alias(c.column)
        for c, chk in zip(CHANNELS, checks, strict=True)
    ), n


def repair_telemetry_laps(frame: pl.DataFrame, lap_windows: pl.DataFrame | None = None
                          ) -> tuple[pl.DataFrame, dict[str, int]]:
    """Recover impossible lap numbers (32768, negative, absurd) of telemetry samples.

    Sources, most trusted first, each used where the one before has no answer:

    1. ``lap times``: the lap whose start..end window (from the repaired lap files, on
       the same ``meta_time`` clock) holds the sample's time. The lap files are written
       at the line, so they place a sample without guessing.
    2. ``lap distance``: each car's samples are cut into laps where ``lap_dist_m`` drops
       by more than ``LAP_RESET_M``; the offset between that count and the trusted lap
       numbers gives the lap of every untrusted sample.
    3. ``carried forward``: without a lap distance, the last trusted lap.

    Args:
        frame: Wide telemetry with ``vehicle_id``, ``time``, ``lap`` and ``lap_dist_m``.
        lap_windows: ``vehicle_id, lap, lap_start, lap_end`` per lap (UTC), or ``None``
            when the race has no lap files.

    Returns:
        The frame sorted by car and time, and the samples repaired by source.
    """
    flagged = frame.with_columns(_bad_lap().alias("_bad"))
    bad_cars = flagged.filter(pl.col("_bad"))["vehicle_id"].unique()
    if bad_cars.is_empty():
        return frame.sort("vehicle_id", "time"), {}
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


def sample_rates(stats: pl.DataFrame, frame: pl.DataFrame) -> dict[str, float]:
    """Median over cars of values per second of each present channel, in Hz."""
    spans = frame.group_by("vehicle_id").agg(
        ((pl.col("time").max() - pl.col("time").min()).dt.total_microseconds() / 1e6)
        .alias("span_s")
    )
    per_car = (
        stats.filter(pl.col("telemetry_name").is_in(_NAMES) & (pl.col("values") > 0))
        .join(spans, on="vehicle_id")
        .filter(pl.col("span_s") > 0)
        .group_by("telemetry_name")
        .agg((pl.col("values") / pl.col("span_s")).median().alias("hz"))
    )
    by_raw = {c.raw: c.column for c in CHANNELS}
    rates = {by_raw[name]: round(float(hz), 2) for name, hz in per_car.iter_rows()}
    return dict(sorted(rates.items()))


def _locate(paths: Sequence[Path], exc: Exception) -> SchemaError:
    """Find the line and column behind a failed scan (slow second pass, error path only)."""
    for column, dtype in (("telemetry_value", pl.Float64), ("lap", pl.Int64),
                          ("vehicle_number", pl.Int64)):
        value = pl.col(column)
        bad = value.is_not_null() & value.str.strip_chars().cast(dtype, strict=False).is_null()
        found = _find(paths, column, bad, "cannot read a number", None)
        if found.line is not None:
            return found
    return SchemaError(f"cannot read telemetry: {str(exc).splitlines()[0]}", path=paths[0],
                       hint="the file is not what its header claims")


def _find(paths: Sequence[Path], column: str, bad: pl.Expr, message: str,
          value: object) -> SchemaError:
    """The first row of any file where ``bad`` holds, as a ``SchemaError``."""
    for path in paths:
        try:
            hit = (scan([path], as_text=True).with_row_index("_row")
                   .filter(bad).select("_row", column).head(1).collect())
        except pl.exceptions.PolarsError as exc:
            return SchemaError(f"cannot read telemetry: {str(exc).splitlines()[0]}",
                               path=path, hint="the file is not what its header claims")
        if hit.height:
            return SchemaError(message, path=path, line=int(hit["_row"][0]) + 2, column=column,
                               value=hit[column][0], hint="fix or remove the row")
    return SchemaError(message, path=paths[0], column=column, value=value)


__all__ = [
    "LAP_RESET_M",
    "REPAIR_SOURCES",
    "TelemetryResult",
    "read_telemetry",
    "repair_telemetry_laps",
    "scan",
    "window_laps",
]
