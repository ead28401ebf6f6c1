"""Parsers of the lap start, end and time files (comma-separated, telemetry metadata).

Both layouts of the data set are read: the one with ``original_vehicle_id`` and
``vehicle_number``, and the variant with a ``value`` column instead (in lap time files,
the lap time in milliseconds).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl

from cognirace.ingest.textfile import LINE, read_table, require, to_float, to_int, to_utc

LAP_EVENTS = pl.Schema(
    {
        "vehicle_id": pl.String(), "vehicle_number": pl.Int64(), "lap": pl.Int64(),
        "time": pl.Datetime("us", "UTC"), "value_ms": pl.Float64(), "event": pl.String(),
        "session": pl.String(), LINE: pl.Int64(),
    }
)
"""One row per car and lap event: what ``read_lap_events`` returns."""


def _maybe(raw: pl.DataFrame, column: str) -> pl.Series:
    if column in raw.columns:
        return raw[column]
    return pl.Series(column, [None] * raw.height, dtype=pl.String())


def read_lap_events(path: Path, dropped: Counter[str], what: str) -> pl.DataFrame:
    """A lap start, end or time file as lap events sorted by car and time.

    Args:
        path: The file.
        dropped: Counter of dropped rows by reason, updated in place.
        what: The family name for the counter (``lap_end``).
    """
    raw = read_table(path)
    require(raw, ("lap", "meta_time", "vehicle_id"), path)
    before = raw.height
    raw = raw.drop_nulls(["vehicle_id", "meta_time"])
    if raw.height < before:
        dropped[f"{what}: no car or time"] += before - raw.height
    number = (
        to_int(raw, "vehicle_number", path) if "vehicle_number" in raw.columns
        else pl.Series([None] * raw.height, dtype=pl.Int64())
    )
    value = (
        to_float(raw, "value", path) if "value" in raw.columns
        else pl.Series([None] * raw.height, dtype=pl.Float64())
    )
    frame = pl.DataFrame(
        {
            "vehicle_id": raw["vehicle_id"].str.strip_chars(),
            "vehicle_number": number,
            "lap": to_int(raw, "lap", path),
            "time": to_utc(raw, "meta_time", path),
            "value_ms": value,
            "event": _maybe(raw, "meta_event"),
            "session": _maybe(raw, "meta_session"),
            LINE: raw[LINE],
        },
        schema=LAP_EVENTS,
    )
    unique = frame.unique(["vehicle_id", "time"], keep="first", maintain_order=True)
    if unique.height < frame.height:
        dropped[f"{what}: duplicate rows"] += frame.height - unique.height
    return unique.sort("vehicle_id", "time")


__all__ = ["LAP_EVENTS", "read_lap_events"]
