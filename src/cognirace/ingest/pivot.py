"""The long-to-wide telemetry pivot, out of core, in one pass over the file.

The real files hold one row per channel per sample. A sample is one reading of the
car's ECU: its rows share the ECU ``timestamp``, so the pivot is a streaming Polars
group-by on ``(vehicle_id, timestamp)``, the timestamp as written (only the groups' keys
are parsed, a tenth of the rows). ``meta_time`` cannot be the key: it is when the
stream's ingest received a batch of samples (178 distinct values among the 10,000 rows
of the real Barber head, 0 to 6 s after the samples), and keying on it merges about
five samples in six. The same pass keeps each sample's earliest ``meta_time`` (to place
the ECU clock in real time, ``clock``) and counts what the quality report needs (rows
per channel, rows without a value, rows of unknown channels), so a 1.5 GB file is read
once and peak memory stays near the size of the wide result, not of the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cognirace.domain.channels import CHANNELS

CHANNEL_NAMES = [c.raw for c in CHANNELS]
"""Channel names as logged in the real files, the only ones the lake keeps."""
_CHANNEL = pl.Enum(CHANNEL_NAMES)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"
"""ISO 8601 with milliseconds and ``Z``, as both clocks are written."""


def scan(paths: Sequence[Path], *, as_text: bool = False) -> pl.LazyFrame:
    """Lazily scan telemetry files; header names are stripped, ``-`` and empty are missing."""
    overrides = {} if as_text else {"telemetry_value": pl.Float64, "lap": pl.Int64}
    return pl.scan_csv(
        [str(p) for p in paths], infer_schema=False, schema_overrides=overrides,
        null_values=["", "-"], with_column_names=lambda cols: [c.strip() for c in cols],
        missing_columns="insert",
    )


class BadTimestampError(ValueError):
    """A ``timestamp`` field holds text that is not a time."""


@dataclass
class Pivot:
    """One race's telemetry, wide, and the counts the quality report needs.

    Attributes:
        wide: ``vehicle_id``, ``ecu_time`` and ``meta_time`` (UTC, as written),
            ``lap`` (the lowest the sample's rows logged, so a 32768 beside a real number
            loses) and one column per lake channel. A channel
            logged twice at one sample keeps its lower value, so the result does not
            depend on the order rows were read in.
        stats: ``vehicle_id, telemetry_name, rows, values`` per car and
            channel as logged; for known channels both count samples that kept a value,
            for unknown ones the rows logged.
        n_missing: Rows of a known channel without a value (cars with an id).
        n_known: Rows of a known channel, repeats and missing values included.
        n_orphan: Rows without a ``vehicle_id`` or a ``timestamp``, which no sample owns.
        n_repeat_samples: Samples holding a channel twice: stored twice, or read twice
            at one ECU timestamp while the clock stood still (the lower value is kept).
            Told from the counts alone, so the pass needs no second value per channel.
    """

    wide: pl.DataFrame
    stats: pl.DataFrame
    n_missing: int
    n_known: int
    n_orphan: int
    n_repeat_samples: int


def _utc(column: str) -> pl.Expr:
    return pl.col(column).str.to_datetime(TIME_FORMAT, time_unit="us", time_zone="UTC",
                                          strict=False)


def _wide_query(lf: pl.LazyFrame) -> pl.LazyFrame:
    """The pivot and its counts; channel names are matched exactly (a name logged with
    stray spaces is reported as an unknown channel rather than trimmed on every row)."""
    channel = pl.col("telemetry_name").cast(_CHANNEL, strict=False)
    spread = lf.select(
        "vehicle_id", "timestamp", "meta_time", "lap", "telemetry_value", channel.alias("_ch"),
    ).with_columns(
        pl.when(pl.col("_ch") == c.raw).then(pl.col("telemetry_value")).alias(c.column)
        for c in CHANNELS
    )
    # grouped on the timestamp as written; only the groups' keys are parsed, afterwards
    return spread.group_by("vehicle_id", "timestamp").agg(
        pl.col("meta_time").min(),
        pl.col("lap").min(),
        *(pl.col(c.column).min() for c in CHANNELS),
        pl.len().alias("_rows"),
        (pl.col("_ch").is_not_null() & pl.col("telemetry_value").is_null()).sum()
        .alias("_missing"),
        pl.col("_ch").is_null().sum().alias("_unknown"),
    )


def _unknown_names(paths: Sequence[Path]) -> pl.DataFrame:
    """Rows per car of channels the lake does not know (second pass, only when present)."""
    name = pl.col("telemetry_name")
    return (
        scan(paths).filter(name.cast(_CHANNEL, strict=False).is_null()
                           & pl.col("vehicle_id").is_not_null())
        .group_by("vehicle_id", name.alias("telemetry_name"))
        .agg(pl.len().cast(pl.Int64).alias("rows"),
             pl.col("telemetry_value").count().cast(pl.Int64).alias("values"))
        .collect(engine="streaming")
    )


def pivot(paths: Sequence[Path]) -> Pivot:
    """Pivot the telemetry files of one race in one streaming pass.

    Args:
        paths: The race's telemetry files (the real long layout).

    Raises:
        polars.exceptions.PolarsError: when a value does not parse; the caller locates it.
        BadTimestampError: when a ``timestamp`` is not an ISO time; the caller locates it.
    """
    wide = _wide_query(scan(paths)).collect(engine="streaming").with_columns(
        _utc("timestamp").alias("ecu_time"))
    if wide.filter(pl.col("ecu_time").is_null() & pl.col("timestamp").is_not_null()).height:
        raise BadTimestampError("a timestamp is not an ISO 8601 time")
    stats = _stats(wide)
    if int(wide["_unknown"].sum() or 0):
        stats = pl.concat([stats, _unknown_names(paths)], how="vertical_relaxed")
    orphan = pl.col("vehicle_id").is_null() | pl.col("ecu_time").is_null()
    present = pl.sum_horizontal(pl.col(c.column).is_not_null() for c in CHANNELS)
    repeats = pl.col("_rows") - pl.col("_unknown") - pl.col("_missing") - present
    totals = wide.select(
        pl.col("_missing").filter(~orphan).sum().alias("missing"),
        (pl.col("_rows") - pl.col("_unknown")).filter(~orphan).sum().alias("known"),
        pl.col("_rows").filter(orphan).sum().alias("orphan"),
        (repeats > 0).filter(~orphan).sum().alias("repeated"),
    ).row(0)
    helper = [c for c in wide.columns if c.startswith("_")]
    return Pivot(wide.drop(*helper, "timestamp").with_columns(_utc("meta_time")), stats,
                 *(int(v or 0) for v in totals))


def _stats(wide: pl.DataFrame) -> pl.DataFrame:
    """Rows and kept values per car and known channel.

    Rows per channel are the samples holding the channel; rows beyond them (repeats,
    rows without a value) are counted per race from the pass's per-sample totals.
    """
    sums = wide.filter(pl.col("ecu_time").is_not_null()).group_by("vehicle_id").agg(
        *(pl.col(c.column).count().alias(f"_vals_{c.column}") for c in CHANNELS),
    )
    parts = [
        sums.select(
            "vehicle_id", pl.lit(c.raw).alias("telemetry_name"),
            pl.col(f"_vals_{c.column}").cast(pl.Int64).alias("rows"),
            pl.col(f"_vals_{c.column}").cast(pl.Int64).alias("values"),
        ).filter(pl.col("rows") > 0)
        for c in CHANNELS
    ]
    return pl.concat(parts)


__all__ = ["CHANNEL_NAMES", "TIME_FORMAT", "BadTimestampError", "Pivot", "pivot", "scan"]
