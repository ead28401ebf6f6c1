"""Parsers of the Al Kamel timing files: results, analysis with sections, weather.

Each parser reads one file into a typed frame with the lake's column names (no
``race_id`` yet) and counts what it dropped. Key columns (car number, lap number,
time) must parse; a value that does not raises ``SchemaError`` naming file, line and
column. Other fields tolerate ``-`` and empty as missing.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl

from cognirace.domain.formats import FLAGS
from cognirace.domain.laptime import parse_duration_s
from cognirace.errors import SchemaError
from cognirace.ingest.textfile import (
    LINE,
    read_table,
    require,
    to_duration_s,
    to_float,
    to_int,
)
from cognirace.lake.schema import UTC_TIME

SECTIONS_FRAME = pl.Schema(
    {
        "car_number": pl.Int64(), "lap": pl.Int64(), "lap_time_s": pl.Float64(),
        "s1_s": pl.Float64(), "s2_s": pl.Float64(), "s3_s": pl.Float64(), "flag": pl.String(),
        "in_pit": pl.Boolean(), "pit_time_s": pl.Float64(), "top_speed_kph": pl.Float64(),
        "elapsed_s": pl.Float64(), "hour_s": pl.Float64(), "class": pl.String(),
        "team": pl.String(),
    }
)
"""What ``read_sections`` returns: one row per car and lap."""


def _text(frame: pl.DataFrame, column: str) -> pl.Series:
    if column in frame.columns:
        return frame[column].alias(column)
    return pl.Series(column, [None] * frame.height, dtype=pl.String())


def _seconds(frame: pl.DataFrame, plain: str, timed: str, path: Path) -> pl.Series:
    """A section time: the plain-seconds column where present, else the ``m:ss.fff`` one."""
    if plain in frame.columns:
        out = to_float(frame, plain, path)
        if timed in frame.columns:
            out = out.fill_null(to_duration_s(frame, timed, path))
        return out
    if timed in frame.columns:
        return to_duration_s(frame, timed, path)
    return pl.Series(plain, [None] * frame.height, dtype=pl.Float64())


def _keyed(frame: pl.DataFrame, keys: tuple[str, ...], dropped: Counter[str], what: str
           ) -> pl.DataFrame:
    """Drop rows that lack a key, counting them."""
    keep = frame.drop_nulls(list(keys))
    if keep.height < frame.height:
        dropped[what] += frame.height - keep.height
    return keep


def read_sections(path: Path, dropped: Counter[str]) -> pl.DataFrame:
    """The ``23_AnalysisEnduranceWithSections`` file: one row per car and lap."""
    raw = read_table(path)
    require(raw, ("NUMBER", "LAP_NUMBER", "LAP_TIME"), path)
    raw = _keyed(raw, ("NUMBER", "LAP_NUMBER"), dropped, "sections: no car or lap number")
    flag = _text(raw, "FLAG_AT_FL").str.strip_chars().str.to_uppercase()
    in_pit = _text(raw, "CROSSING_FINISH_LINE_IN_PIT").str.strip_chars().str.to_uppercase()
    frame = pl.DataFrame(
        {
            "car_number": to_int(raw, "NUMBER", path),
            "lap": to_int(raw, "LAP_NUMBER", path),
            "lap_time_s": to_duration_s(raw, "LAP_TIME", path),
            "s1_s": _seconds(raw, "S1_SECONDS", "S1", path),
            "s2_s": _seconds(raw, "S2_SECONDS", "S2", path),
            "s3_s": _seconds(raw, "S3_SECONDS", "S3", path),
            "flag": flag.replace_strict({f: f for f in FLAGS}, default=None),
            "in_pit": in_pit.eq("B").fill_null(False),
            "pit_time_s": _seconds(raw, "", "PIT_TIME", path),
            "top_speed_kph": _seconds(raw, "TOP_SPEED", "", path),
            "elapsed_s": _seconds(raw, "", "ELAPSED", path),
            "hour_s": _seconds(raw, "", "HOUR", path),
            "class": _text(raw, "CLASS"),
            "team": _text(raw, "TEAM"),
        },
        schema=SECTIONS_FRAME,
    )
    dupes = frame.height - frame.unique(["car_number", "lap"]).height
    if dupes:
        dropped["sections: duplicate lap rows"] += dupes
    return frame.unique(["car_number", "lap"], keep="first").sort("car_number", "lap")


def _gap_s(text: str | None) -> float | None:
    """``+0.156`` in seconds; ``+1 Lap`` and missing give ``None``."""
    if text is None or "lap" in text.lower():
        return None
    return parse_duration_s(text)


def read_results(path: Path, dropped: Counter[str]) -> pl.DataFrame:
    """The ``03_`` (or ``05_``) results: one row per car, with the lake's results columns."""
    raw = read_table(path)
    require(raw, ("POSITION", "NUMBER", "STATUS", "LAPS"), path)
    raw = _keyed(raw, ("NUMBER",), dropped, "results: no car number")
    if "GAP_FIRST" in raw.columns:
        gaps: list[float | None] = []
        for value, line in zip(raw["GAP_FIRST"], raw[LINE], strict=True):
            try:
                gaps.append(_gap_s(value))
            except ValueError:
                raise SchemaError("cannot read a gap", path=path, line=line,
                                  column="GAP_FIRST", value=value,
                                  hint="expected -, +s.fff or +n Laps") from None
        gap = pl.Series("gap_first_s", gaps, dtype=pl.Float64())
    else:
        gap = pl.Series("gap_first_s", [None] * raw.height, dtype=pl.Float64())
    position = to_int(raw, "POSITION", path)
    frame = pl.DataFrame(
        {
            "car_number": to_int(raw, "NUMBER", path).cast(pl.Int32()),
            "position": position.cast(pl.Int32()),
            "status": _text(raw, "STATUS"),
            "laps": to_int(raw, "LAPS", path).cast(pl.Int32()),
            "total_time_s": _seconds(raw, "", "TOTAL_TIME", path),
            "gap_first_s": gap,
            "fl_lap": (to_int(raw, "FL_LAPNUM", path) if "FL_LAPNUM" in raw.columns
                       else pl.Series([None] * raw.height, dtype=pl.Int64())).cast(pl.Int32()),
            "fl_time_s": _seconds(raw, "", "FL_TIME", path),
            "fl_kph": _seconds(raw, "FL_KPH", "", path),
            "class": _text(raw, "CLASS"),
            "team": _text(raw, "TEAM"),
        }
    )
    return frame.with_columns(
        pl.when(pl.col("position") == 1).then(pl.lit(0.0)).otherwise(pl.col("gap_first_s"))
        .alias("gap_first_s")
    ).sort("position", "car_number", nulls_last=True)


def read_weather(path: Path, dropped: Counter[str]) -> pl.DataFrame:
    """The ``26_Weather`` file, with the lake's weather columns; ``TRACK_TEMP`` 0 is missing."""
    raw = read_table(path)
    require(raw, ("TIME_UTC_SECONDS", "AIR_TEMP"), path)
    raw = _keyed(raw, ("TIME_UTC_SECONDS",), dropped, "weather: no time")
    epoch_s = to_float(raw, "TIME_UTC_SECONDS", path)
    columns = {
        "air_temp_c": "AIR_TEMP", "track_temp_c": "TRACK_TEMP", "humidity": "HUMIDITY",
        "pressure_mbar": "PRESSURE", "wind_speed": "WIND_SPEED",
        "wind_dir_deg": "WIND_DIRECTION", "rain": "RAIN",
    }
    data = {
        name: _seconds(raw, source, "", path).alias(name) for name, source in columns.items()
    }
    frame = pl.DataFrame(
        {"time": (epoch_s * 1_000_000).round().cast(pl.Int64()).cast(UTC_TIME), **data}
    )
    frame = frame.with_columns(
        pl.when(pl.col("track_temp_c") == 0).then(None).otherwise(pl.col("track_temp_c"))
        .alias("track_temp_c")
    )
    return frame.unique("time", keep="first").sort("time")


__all__ = ["SECTIONS_FRAME", "read_results", "read_sections", "read_weather"]
