"""The race data lake: layout, schemas, an atomic writer and readers for later layers.

``open_lake(path)`` returns a ``Lake`` whose attributes are Polars frames
(``races``, ``cars``, ``laps``, ``results``, ``weather``) and whose
``scan_telemetry``/``telemetry`` read the large table lazily. ``lap_telemetry``,
``resample_by_distance`` and ``overlay_laps`` compare laps at the same place on track.
"""

from cognirace.lake.layout import LakeLayout
from cognirace.lake.overlay import (
    add_distance,
    lap_telemetry,
    overlay_laps,
    resample_by_distance,
    vehicle_of,
)
from cognirace.lake.reader import Lake, open_lake
from cognirace.lake.schema import TABLES, assert_schema
from cognirace.lake.writer import RaceTables, write_race

__all__ = [
    "TABLES",
    "Lake",
    "LakeLayout",
    "RaceTables",
    "add_distance",
    "assert_schema",
    "lap_telemetry",
    "open_lake",
    "overlay_laps",
    "resample_by_distance",
    "vehicle_of",
    "write_race",
]
