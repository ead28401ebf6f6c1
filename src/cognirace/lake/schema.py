"""The lake's tables and their column types: the contract every later layer reads.

Times are UTC ``Datetime("us", "UTC")``; durations are float seconds with a ``_s``
suffix. Car numbers are text, as the timing prints them: ``"021"`` and ``"21"`` are two
cars. ``assert_schema`` checks a frame against a table before it is written.
"""

from __future__ import annotations

import polars as pl

from cognirace.errors import SchemaError

UTC_TIME = pl.Datetime("us", "UTC")

RACES = pl.Schema(
    {
        "race_id": pl.String(),
        "track": pl.String(),
        "session": pl.String(),
        "event": pl.String(),
        "date": pl.Date(),
        "source_dir": pl.String(),
    }
)

CARS = pl.Schema(
    {
        "race_id": pl.String(),
        "vehicle_id": pl.String(),
        "chassis": pl.String(),
        "car_number": pl.String(),
        "class": pl.String(),
        "team": pl.String(),
        "driver": pl.String(),
    }
)

LAPS = pl.Schema(
    {
        "race_id": pl.String(),
        "vehicle_id": pl.String(),
        "car_number": pl.String(),
        "lap": pl.Int32(),
        "lap_start": UTC_TIME,
        "lap_end": UTC_TIME,
        "lap_time_s": pl.Float64(),
        "s1_s": pl.Float64(),
        "s2_s": pl.Float64(),
        "s3_s": pl.Float64(),
        "flag": pl.String(),
        "in_pit": pl.Boolean(),
        "pit_time_s": pl.Float64(),
        "top_speed_kph": pl.Float64(),
        "repaired": pl.Boolean(),
    }
)

RESULTS = pl.Schema(
    {
        "race_id": pl.String(),
        "car_number": pl.String(),
        "position": pl.Int32(),
        "status": pl.String(),
        "laps": pl.Int32(),
        "total_time_s": pl.Float64(),
        "gap_first_s": pl.Float64(),
        "fl_lap": pl.Int32(),
        "fl_time_s": pl.Float64(),
        "fl_kph": pl.Float64(),
        "class": pl.String(),
    }
)

WEATHER = pl.Schema(
    {
        "race_id": pl.String(),
        "time": UTC_TIME,
        "air_temp_c": pl.Float64(),
        "track_temp_c": pl.Float64(),
        "humidity": pl.Float64(),
        "pressure_mbar": pl.Float64(),
        "wind_speed": pl.Float64(),
        "wind_dir_deg": pl.Float64(),
        "rain": pl.Float64(),
    }
)

TELEMETRY = pl.Schema(
    {
        "race_id": pl.String(),
        "vehicle_id": pl.String(),
        "time": UTC_TIME,
        "lap": pl.Int32(),
        "lap_dist_m": pl.Float64(),
        "speed_kph": pl.Float64(),
        "gear": pl.Int8(),
        "rpm": pl.Float64(),
        "aps": pl.Float64(),
        "ath": pl.Float64(),
        "pbrake_f": pl.Float64(),
        "pbrake_r": pl.Float64(),
        "accx_g": pl.Float64(),
        "accy_g": pl.Float64(),
        "steering_deg": pl.Float64(),
        "lat": pl.Float64(),
        "lon": pl.Float64(),
    }
)

TABLES: dict[str, pl.Schema] = {
    "races": RACES,
    "cars": CARS,
    "laps": LAPS,
    "results": RESULTS,
    "weather": WEATHER,
    "telemetry": TELEMETRY,
}
"""Every table of the lake by name."""


def assert_schema(frame: pl.DataFrame | pl.LazyFrame, table: str) -> None:
    """Raise ``SchemaError`` unless ``frame`` has exactly the table's columns and types.

    Args:
        frame: The frame about to be written (a lazy frame is checked without collecting).
        table: A key of ``TABLES``.
    """
    expected = TABLES[table]
    actual = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    if list(actual.names()) != list(expected.names()):
        raise SchemaError(
            f"table {table!r} has columns {list(actual.names())}, "
            f"expected {list(expected.names())}",
            hint="this is a bug in the writer of this table",
        )
    for name, dtype in expected.items():
        if actual[name] != dtype:
            raise SchemaError(
                f"table {table!r} column {name!r} is {actual[name]}, expected {dtype}",
                column=name,
                hint="this is a bug in the writer of this table",
            )


def empty(table: str) -> pl.DataFrame:
    """An empty frame with the table's schema."""
    return pl.DataFrame(schema=TABLES[table])


__all__ = [
    "CARS",
    "LAPS",
    "RACES",
    "RESULTS",
    "TABLES",
    "TELEMETRY",
    "UTC_TIME",
    "WEATHER",
    "assert_schema",
    "empty",
]
