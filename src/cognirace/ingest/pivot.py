"""The long-to-wide telemetry pivot, out of core, in one pass over the file.

The real files hold one row per channel per sample. A streaming Polars group-by on
``(vehicle_id, meta_time)`` turns them into one row per sample with a column per
channel, and counts in the same pass what the quality report needs (rows per channel,
rows without a value, rows of unknown channels), so a 1.5 GB file is read once and
the peak memory stays near the size of the wide result, not of the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cognirace.domain.channels import CHANNELS
from cognirace.ingest.laps import MAX_LAP

CHANNEL_NAMES = [c.raw for c in CHANNELS]
"""Channel names as logged in the real files, the only ones the lake keeps."""
_CHANNEL = pl.Enum(CHANNEL_NAMES)


def scan(paths: Sequence[Path], *, as_text: bool = False) -> pl.LazyFrame:
    """Lazily scan telemetry files; header names are stripped, ``-`` and empty are missing."""
    overrides = {} if as_text else {
        "telemetry_value": pl.Float64, "lap": pl.Int64, "vehicle_number": pl.Int64,
    }
    return pl.scan_csv(
        [str(p) for p in paths], infer_schema=False, schema_overrides=overrides,
        null_values=["", "-"], with_column_names=lambda cols: [c.strip() for c in cols],
        missing_columns="insert",
    )


@dataclass
class Pivot:
    """One race's telemetry, wide, and the counts the quality report needs.

    Attributes:
        wide: ``vehicle_id, meta_time`` (text), ``lap``, ``vehicle_number`` and one column
            per lake channel; a channel logged twice in one sample keeps its lower value,
            so the result does not depend on the order rows were read in.
        stats: ``vehicle_id, telemetry_name, rows, values, vehicle_number`` per car and
            channel as logged; for known channels both count samples that kept a value,
            for unknown ones the rows logged.
        n_missing: Rows of a known channel without a value (cars with an id).
        n_known: Rows of a known channel, duplicates and missing values included.
        n_orphan: Rows without a ``vehicle_id``, which no car can own.
    """

    wide: pl.DataFrame
    stats: pl.DataFrame
    n_missing: int
    n_known: int
    n_orphan: int


def _wide_query(lf: pl.LazyFrame) -> pl.LazyFrame:
    """The pivot and its counts; channel names are matched exactly (a name logged with
    stray spaces is reported as an unknown channel rather than trimmed on every row)."""
    channel = pl.col("telemetry_name").cast(_CHANNEL, strict=False)
    spread = lf.select(
        "vehicle_id", "meta_time", "lap", "vehicle_number", "telemetry_value",
        channel.alias("_ch"),
    ).with_columns(
        pl.when(pl.col("_ch") == c.raw).then(pl.col("telemetry_value")).alias(c.column)
        for c in CHANNELS
    )
    good_lap = pl.col("lap").is_between(0, MAX_LAP)
    return spread.group_by("vehicle_id", "meta_time").agg(
        pl.coalesce(pl.col("lap").filter(good_lap).min(), pl.col("lap").max()).alias("lap"),
        pl.col("vehicle_number").max(),
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
             pl.col("telemetry_value").count().cast(pl.Int64).alias("values"),
             pl.col("vehicle_number").max())
        .collect(engine="streaming")
    )


def pivot(paths: Sequence[Path]) -> Pivot:
    """Pivot the telemetry files of one race in one streaming pass.

    Args:
        paths: The race's telemetry files (the real long layout).

    Raises:
        polars.exceptions.PolarsError: when a value does not parse; the caller locates it.
    """
    wide = _wide_query(scan(paths)).collect(engine="streaming")
    stats = _stats(wide)
    if int(wide["_unknown"].sum() or 0):
        stats = pl.concat([stats, _unknown_names(paths)], how="vertical_relaxed")
    orphan = pl.col("vehicle_id").is_null()
    totals = wide.select(
        pl.col("_missing").filter(~orphan).sum().alias("missing"),
        (pl.col("_rows") - pl.col("_unknown")).filter(~orphan).sum().alias("known"),
        pl.col("_rows").filter(orphan).sum().alias("orphan"),
    ).row(0)
    helper = [c for c in wide.columns if c.startswith("_")]
    return Pivot(wide.drop(helper), stats, *(int(v or 0) for v in totals))


def _stats(wide: pl.DataFrame) -> pl.DataFrame:
    """Rows and kept values per car and known channel.

    Rows per channel are the samples holding the channel; rows beyond them (duplicates,
    rows without a value) are counted per race from the pass's per-sample totals.
    """
    sums = wide.group_by("vehicle_id").agg(
        pl.col("vehicle_number").max(),
        *(pl.col(c.column).count().alias(f"_vals_{c.column}") for c in CHANNELS),
    )
    parts = [
        sums.select(
            "vehicle_id", pl.lit(c.raw).alias("telemetry_name"),
            pl.col(f"_vals_{c.column}").cast(pl.Int64).alias("rows"),
            pl.col(f"_vals_{c.column}").cast(pl.Int64).alias("values"),
            pl.col("vehicle_number").cast(pl.Int64),
        ).filter(pl.col("rows") > 0)
        for c in CHANNELS
    ]
    return pl.concat(parts)


__all__ = ["CHANNEL_NAMES", "Pivot", "pivot", "scan"]
