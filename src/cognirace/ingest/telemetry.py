"""Telemetry: long format in, one wide row per car and ECU sample out, on real time.

The real files hold one row per channel per sample (about 12 million rows, 1.5 GB for
a race). They are pivoted out of core on the sample's key, (``vehicle_id``, ECU
``timestamp``) (``pivot``). The ECU clock is set far from real time (1 day 18 h 12 min
behind at Barber R1) but runs true (the offset stays within 0.1 s over a race), while
``meta_time`` is when a batch of samples reached the stream's ingest, 0 to 6 s after
them. Each car's offset is therefore the least ``meta_time - timestamp`` over its
samples, the sample that reached the ingest fastest, and the lake's ``time`` is the ECU
clock plus that offset: one sample, one row, none merged, none placed after it was
received, in real time to within the fastest delivery (a few tenths of a second). Lap
numbers are set afterwards (``telemetry_laps``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from cognirace.domain.channels import CHANNELS
from cognirace.errors import SchemaError
from cognirace.ingest.lapfiles import number_of
from cognirace.ingest.pivot import CHANNEL_NAMES as _NAMES
from cognirace.ingest.pivot import BadTimestampError, Pivot, pivot, scan


@dataclass
class TelemetryResult:
    """The wide telemetry of one race and what reading it found.

    Attributes:
        frame: ``vehicle_id``, ``time`` (UTC, real time), the logged ``lap`` and one
            column per lake channel, sorted by car and time.
        rows_read: Long-format rows in the file(s).
        dropped: Rows dropped, by reason.
        sample_rate_hz: Median samples per second per car, by lake channel column.
        numbers: The number in each ``vehicle_id`` (text; ``0`` unassigned); the lap
            files' ``vehicle_number`` is preferred where a car has lap files.
        ecu_offset_s: Per car, real time minus ECU clock, seconds.
        values_nulled: Values outside their channel's physical range, set missing.
        repeat_samples: Samples holding a channel twice, each keeping the lower value:
            stored twice, or read twice while the ECU clock stood still (the real Barber
            head has both: 74 rows stored twice, and 71 channel readings in 15 samples
            that share a timestamp with other values).
    """

    frame: pl.DataFrame
    rows_read: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    sample_rate_hz: dict[str, float] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)
    ecu_offset_s: dict[str, float] = field(default_factory=dict)
    values_nulled: int = 0
    repeat_samples: int = 0


def read_telemetry(paths: Sequence[Path]) -> TelemetryResult:
    """Read, pivot, place in real time and clean the telemetry of one race.

    Raises:
        SchemaError: naming file, line and column when a key value does not parse.
    """
    try:
        pivoted = pivot(paths)
    except BadTimestampError:
        bad = pl.col("timestamp").is_not_null() & pl.col("timestamp").str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.fZ", strict=False).is_null()
        raise _find(paths, "timestamp", bad, "cannot read the ECU time",
                    "expected ISO 8601 like 2025-09-05T00:28:20.593Z") from None
    except pl.exceptions.PolarsError as exc:
        raise _locate(paths, exc) from None
    stats = pivoted.stats.filter(pl.col("vehicle_id").is_not_null())
    unknown_rows = stats.filter(~pl.col("telemetry_name").is_in(_NAMES))["rows"].sum() or 0
    result = TelemetryResult(frame=pivoted.wide,
                             rows_read=pivoted.n_known + int(unknown_rows) + pivoted.n_orphan)
    _count_rows(stats, pivoted, result)
    frame = pivoted.wide.filter(pl.col("vehicle_id").is_not_null()
                                & pl.col("ecu_time").is_not_null())
    frame, result.ecu_offset_s = place_clock(frame)
    frame, result.values_nulled = _clamp(frame)
    result.frame = frame.sort("vehicle_id", "time")
    result.sample_rate_hz = sample_rates(stats, result.frame)
    result.numbers = {str(v): number_of(str(v), None)
                      for v in stats["vehicle_id"].unique().sort()}
    return result


def place_clock(wide: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, float]]:
    """Real ``time`` of each sample: its ECU clock plus its car's offset.

    A car without any ``meta_time`` keeps its ECU clock as it is (offset 0).

    Returns:
        The frame with ``time`` in place of ``ecu_time`` and ``meta_time``, and the
        offset per car in seconds.
    """
    lag = (pl.col("meta_time") - pl.col("ecu_time")).dt.total_microseconds()
    offsets = wide.group_by("vehicle_id").agg(
        lag.min().fill_null(0).alias("_offset_us"))
    out = wide.join(offsets, on="vehicle_id", how="left").with_columns(
        (pl.col("ecu_time") + pl.duration(microseconds=pl.col("_offset_us"))).alias("time"))
    seconds = {str(v): round(int(us) / 1e6, 3) for v, us in offsets.sort("vehicle_id")
               .iter_rows()}
    return out.drop("ecu_time", "meta_time", "_offset_us"), seconds


def _count_rows(stats: pl.DataFrame, pivoted: Pivot, result: TelemetryResult) -> None:
    unknown = stats.filter(~pl.col("telemetry_name").is_in(_NAMES)
                           | pl.col("telemetry_name").is_null())
    for name, rows in unknown.group_by("telemetry_name").agg(pl.col("rows").sum()).iter_rows():
        result.dropped[f"telemetry: unknown channel {name!r}"] += int(rows)
    if pivoted.n_orphan:
        result.dropped["telemetry: no vehicle_id or timestamp"] += pivoted.n_orphan
    if pivoted.n_missing:
        result.dropped["telemetry: missing value"] += pivoted.n_missing
    kept = pivoted.wide.filter(pl.col("vehicle_id").is_not_null()
                               & pl.col("ecu_time").is_not_null())
    cells = sum(int(kept[c.column].count()) for c in CHANNELS)
    repeats = pivoted.n_known - pivoted.n_missing - cells
    if repeats:
        result.dropped["telemetry: channel repeated within a sample"] += repeats
    result.repeat_samples = pivoted.n_repeat_samples


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
    value = pl.col("telemetry_value").str.strip_chars()
    array = value.str.starts_with("[")
    found = _find(paths, "telemetry_value", array, "the value is a JSON array",
                  "CogniRace reads one number per row (the long layout); re-export the file "
                  "with one row per channel and sample")
    if found.line is not None:
        return found
    for column, dtype in (("telemetry_value", pl.Float64), ("lap", pl.Int64)):
        text = pl.col(column)
        bad = text.is_not_null() & text.str.strip_chars().cast(dtype, strict=False).is_null()
        found = _find(paths, column, bad, "cannot read a number", "fix or remove the row")
        if found.line is not None:
            return found
    return SchemaError(f"cannot read telemetry: {str(exc).splitlines()[0]}", path=paths[0],
                       hint="the file is not what its header claims")


def _find(paths: Sequence[Path], column: str, bad: pl.Expr, message: str,
          hint: str) -> SchemaError:
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
                               value=hit[column][0], hint=hint)
    return SchemaError(message, path=paths[0], column=column, hint=hint)


__all__ = ["TelemetryResult", "place_clock", "read_telemetry",
           "sample_rates", "scan"]
