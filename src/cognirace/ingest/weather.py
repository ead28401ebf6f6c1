"""The ``26_Weather`` file: about one row a minute at the track.

``TIME_UTC_SECONDS`` is epoch seconds, ``TIME_UTC_STR`` the same instant as
``9/6/2025 6:41:18 PM`` (UTC), read when the seconds are missing. Units as the real
files suggest: degrees C, percent, hPa, km/h, degrees. Sentinels mean missing: a
``TRACK_TEMP`` of ``0`` (no sensor, all through Barber) and ``-999`` (Road America R2)
in any column; both are counted in the report.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl

from cognirace.errors import SchemaError
from cognirace.ingest.textfile import LINE, read_table, to_float
from cognirace.lake.schema import UTC_TIME

SENTINEL_BELOW = -99.0
"""Weather values at or below this are the logger's "no value" (``-999``)."""

COLUMNS = {
    "air_temp_c": "AIR_TEMP", "track_temp_c": "TRACK_TEMP", "humidity": "HUMIDITY",
    "pressure_mbar": "PRESSURE", "wind_speed": "WIND_SPEED",
    "wind_dir_deg": "WIND_DIRECTION", "rain": "RAIN",
}
"""Lake column by file column."""


def _times(raw: pl.DataFrame, path: Path) -> pl.Series:
    """UTC time of each row, from the epoch seconds or else the text form."""
    out = pl.Series("time", [None] * raw.height, dtype=UTC_TIME)
    if "TIME_UTC_SECONDS" in raw.columns:
        seconds = to_float(raw, "TIME_UTC_SECONDS", path)
        out = (seconds * 1_000_000).round().cast(pl.Int64()).cast(UTC_TIME).alias("time")
    if "TIME_UTC_STR" in raw.columns:
        text = raw["TIME_UTC_STR"].str.to_datetime("%m/%d/%Y %I:%M:%S %p", time_unit="us",
                                                   time_zone="UTC", strict=False)
        bad = raw.filter(text.is_null() & raw["TIME_UTC_STR"].is_not_null() & out.is_null())
        if bad.height:
            raise SchemaError("cannot read a time", path=path, line=int(bad[LINE][0]),
                              column="TIME_UTC_STR", value=bad["TIME_UTC_STR"][0],
                              hint="expected M/D/YYYY h:mm:ss AM")
        out = out.fill_null(text)
    return out


def read_weather(path: Path, dropped: Counter[str], notes: list[str]) -> pl.DataFrame:
    """The weather file with the lake's weather columns (no ``race_id``), sorted by time.

    Raises:
        SchemaError: naming file, line and column when a value does not parse.
    """
    raw = read_table(path)
    if "AIR_TEMP" not in raw.columns:
        raise SchemaError("column missing", path=path, line=1, column="AIR_TEMP",
                          hint="the file is not what its name claims")
    time = _times(raw, path)
    data = {
        name: to_float(raw, source, path).alias(name) if source in raw.columns
        else pl.Series(name, [None] * raw.height, dtype=pl.Float64())
        for name, source in COLUMNS.items()
    }
    frame = pl.DataFrame({"time": time, **data})
    untimed = frame["time"].null_count()
    if untimed:
        dropped["weather: no time"] += untimed
    sentinel = (pl.col("track_temp_c") == 0) | (pl.col("track_temp_c") <= SENTINEL_BELOW)
    n_track = int(frame.select(sentinel.fill_null(False).sum()).item())
    others = [c for c in COLUMNS if c != "track_temp_c"]
    n_other = int(frame.select(pl.sum_horizontal(
        (pl.col(c) <= SENTINEL_BELOW).fill_null(False).cast(pl.Int64) for c in others
    ).sum()).item())
    if n_track or n_other:
        notes.append(f"weather: {n_track + n_other} sentinel values (track temperature 0, "
                     "-999) read as missing")
    frame = frame.drop_nulls("time").with_columns(
        pl.when(sentinel).then(None).otherwise(pl.col("track_temp_c")).alias("track_temp_c"),
        *(pl.when(pl.col(c) <= SENTINEL_BELOW).then(None).otherwise(pl.col(c)).alias(c)
          for c in others),
    )
    unique = frame.unique("time", keep="first", maintain_order=True)
    if unique.height < frame.height:
        dropped["weather: repeated times"] += frame.height - unique.height
    return unique.sort("time")


__all__ = ["COLUMNS", "SENTINEL_BELOW", "read_weather"]
