"""Parsers of the lap start, end and time files (comma-separated, telemetry metadata).

The real files come in four layouts: (1) Barber and Indianapolis,
``...,original_vehicle_id,outing,timestamp,vehicle_id,vehicle_number`` without
``value``; (2) VIR and Road America, ``...,outing,timestamp,value,vehicle_id`` without
``vehicle_number``; (3) COTA, Sebring and Sonoma, every field quoted with ``value``
last; (4) the same with ``expire_at`` last. In lap time files ``value`` is the lap time
in milliseconds (with zeros and outliers up to two hours); in start and end files it is
the event's ISO time again. Only the lap time's ``value`` is read.

A lap event's time is its ``timestamp``, which in these files is on real time (0.1 to a
few seconds before ``meta_time``, the stream's receive time), unlike the telemetry's
ECU clock. The car's number is ``vehicle_number`` where the layout has it, else the
suffix of ``vehicle_id``, as text (``GR86-037-03`` is car ``03``). Rows that repeat
another, and rows of the other session (VIR's ``vir_lap_time_R2.csv`` is a copy of
Race 1's), are dropped and counted.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl

from cognirace.ingest.textfile import LINE, read_table, require, to_int, to_text, to_utc

LAP_EVENTS = pl.Schema(
    {
        "vehicle_id": pl.String(), "number": pl.String(), "lap": pl.Int64(),
        "time": pl.Datetime("us", "UTC"), "value_ms": pl.Float64(), "event": pl.String(),
        LINE: pl.Int64(),
    }
)
"""One row per car and lap event: what ``read_lap_events`` returns."""


def number_of(vehicle_id: str, logged: str | None) -> str:
    """The car number as text: the logged one unless empty or 0, else the id's suffix;
    ``"0"`` when neither is assigned."""
    if logged and logged.strip("0"):
        return logged
    suffix = vehicle_id.rsplit("-", 1)[-1]
    return suffix if suffix.isdigit() and suffix.strip("0") else "0"


def _times(raw: pl.DataFrame, path: Path) -> pl.Series:
    """``timestamp`` (real time in lap files), else ``meta_time`` where it is missing."""
    if "timestamp" in raw.columns:
        stamp = to_utc(raw.with_columns(pl.col("timestamp").str.strip_chars()), "timestamp",
                       path)
        return stamp.fill_null(to_utc(raw, "meta_time", path)).alias("time")
    return to_utc(raw, "meta_time", path).alias("time")


def _lap_ms(raw: pl.DataFrame, what: str, dropped: Counter[str]) -> pl.Series:
    """The lap time in ms of a lap time file's ``value``; missing elsewhere or unreadable."""
    if what != "lap_time" or "value" not in raw.columns:
        return pl.Series("value_ms", [None] * raw.height, dtype=pl.Float64())
    value = raw["value"].str.strip_chars().cast(pl.Float64, strict=False)
    unreadable = int((value.is_null() & raw["value"].is_not_null()).sum())
    if unreadable:
        dropped[f"{what}: value not a number of ms (ignored)"] += unreadable
    return value.alias("value_ms")


def read_lap_events(path: Path, dropped: Counter[str], what: str, session: str | None = None
                    ) -> pl.DataFrame:
    """A lap start, end or time file as lap events sorted by car and time.

    Args:
        path: The file.
        dropped: Counter of dropped rows by reason, updated in place.
        what: The family name for the counter (``lap_end``).
        session: The race's session (``R1``); rows whose ``meta_session`` names the
            other session are dropped.

    Raises:
        SchemaError: naming file, line and column when a lap number or time does not
            parse.
    """
    raw = read_table(path)
    require(raw, ("lap", "meta_time", "vehicle_id"), path)
    fields = [c for c in raw.columns if c != LINE]
    unique = raw.unique(fields, keep="first", maintain_order=True)
    if unique.height < raw.height:
        dropped[f"{what}: repeated rows"] += raw.height - unique.height
    raw = unique
    if session is not None and "meta_session" in raw.columns:
        other = raw["meta_session"].str.strip_chars().str.to_uppercase().is_in(
            ["R1", "R2"]) & (raw["meta_session"].str.strip_chars().str.to_uppercase() != session)
        if other.any():
            dropped[f"{what}: rows of the other session"] += int(other.sum())
            raw = raw.filter(~other)
    before = raw.height
    raw = raw.drop_nulls(["vehicle_id", "meta_time"])
    if raw.height < before:
        dropped[f"{what}: no car or time"] += before - raw.height
    vehicle = to_text(raw, "vehicle_id")
    logged = to_text(raw, "vehicle_number")
    frame = pl.DataFrame(
        {
            "vehicle_id": vehicle,
            "number": [number_of(v, n) for v, n in zip(vehicle, logged, strict=True)],
            "lap": to_int(raw, "lap", path),
            "time": _times(raw, path),
            "value_ms": _lap_ms(raw, what, dropped),
            "event": to_text(raw, "meta_event"),
            LINE: raw[LINE],
        },
        schema=LAP_EVENTS,
    )
    return frame.sort("vehicle_id", "time", maintain_order=True)


__all__ = ["LAP_EVENTS", "number_of", "read_lap_events"]
