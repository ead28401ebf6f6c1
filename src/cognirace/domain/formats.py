"""The Hack-the-Track 2025 file formats: file families, their columns and names.

This module is the contract between the simulator, which writes these files, and the
ingest, which reads them. Telemetry and lap files are comma-separated; the Al Kamel
timing files are semicolon-separated (Indianapolis's with a BOM, CRLF and a trailing
``;`` on every row, the anonymized ones LF without it).

Values, as the real files write them (``../shared/real/README.md`` lists every variant):

* Telemetry: ``timestamp`` is the car's ECU clock, one value per sample (samples about
  43 ms apart, 9 to 11 channel rows each), set a constant offset (days) from real time;
  ``meta_time`` is when the stream's ingest received a batch of samples, 0 to 6 s later,
  so it cannot key a sample. Rows are not in time order; values carry float artifacts.
  ``meta_event`` is ``I_R<nn>_<YYYY-MM-DD>`` (the event's Sunday), ``meta_session``
  ``R1`` or ``R2``, ``meta_source`` ``kafka:gr-raw`` (``kafka:gr-cup-raw`` at
  Indianapolis), ``outing`` 0, ``expire_at`` empty. ``vehicle_id`` and
  ``original_vehicle_id`` are ``GR86-<chassis>-<number>`` with the number padded its
  own way per event (``GR86-002-2``, ``GR86-002-002``) and ``000`` where it was not
  assigned (``vehicle_number`` 0); the number is text (``03`` is not ``3``), and it
  need not be the timing's number for that car. ``lap`` is the logger's counter: it
  counts formation laps and writes 32768 where it lost count.
* Lap start, end and time files: one row per car and lap event; here ``timestamp`` is
  real time, at the logger's lap beacon (which need not sit on the timing line).
  Four layouts: with ``original_vehicle_id``/``vehicle_number`` and no ``value``; with
  ``value`` and no ``vehicle_number``; and two fully quoted ones. ``value`` is the lap
  time in ms in lap time files, the event's ISO time in start and end files.
* Timing files: durations ``m:ss.fff`` (``h:mm:ss.fff`` past an hour), ``-`` or empty
  for missing. Sections: ``ELAPSED`` is the race time at the line, ``HOUR`` the local
  time of day at the line at the track; ``CROSSING_FINISH_LINE_IN_PIT`` is ``B`` when
  the car crossed the line in the pit lane; ``PIT_TIME`` (``0:00:35.158``) the time in
  the pit lane, on the in-lap or the lap after it depending on the track;
  ``FLAG_AT_FL`` is ``GF``, ``FCY`` or ``FF`` (the chequered lap); ``S1_SECONDS``.. are
  plain seconds; ``TOP_SPEED`` and ``KPH`` km/h; Sonoma names ``IM1_time`` ``INT-1_time``.
  Results (``00_``/``03_``): ``POSITION`` (``1`` or ``1.0``, empty for a non-starter),
  ``GAP_FIRST`` ``-`` for the leader, ``+0.156``, ``1 Lap`` or ``14 Laps``; ``STATUS``
  ``Classified`` or ``Not started``. By class (``05_``): a layout of its own, the
  leader's gap empty, minutes after an apostrophe (``+1'19.754``). Weather:
  ``TIME_UTC_SECONDS`` epoch seconds, ``TIME_UTC_STR`` ``M/D/YYYY h:mm:ss AM`` (UTC);
  ``TRACK_TEMP`` 0 or ``-999`` means not measured.
"""

from __future__ import annotations

from enum import StrEnum


class FileKind(StrEnum):
    """The families of files in a race folder."""

    TELEMETRY = "telemetry"
    LAP_START = "lap_start"
    LAP_END = "lap_end"
    LAP_TIME = "lap_time"
    RESULTS = "results"
    RESULTS_BY_CLASS = "results_by_class"
    SECTIONS = "sections"
    WEATHER = "weather"
    BEST_LAPS = "best_laps"


TELEMETRY_COLUMNS: tuple[str, ...] = (
    "expire_at", "lap", "meta_event", "meta_session", "meta_source", "meta_time",
    "original_vehicle_id", "outing", "telemetry_name", "telemetry_value", "timestamp",
    "vehicle_id", "vehicle_number",
)
"""Long-format telemetry, one row per channel per sample."""

LAP_COLUMNS: tuple[str, ...] = (
    "expire_at", "lap", "meta_event", "meta_session", "meta_source", "meta_time",
    "original_vehicle_id", "outing", "timestamp", "vehicle_id", "vehicle_number",
)
"""Lap start, end and time files: the telemetry metadata and one ``timestamp`` per lap."""

LAP_COLUMNS_VALUE_VARIANT: tuple[str, ...] = (
    "expire_at", "lap", "meta_event", "meta_session", "meta_source", "meta_time",
    "outing", "timestamp", "value", "vehicle_id",
)
"""Variant of the lap files with a ``value`` column instead of the car-number columns.

In ``lap_time`` files ``value`` holds the lap time in milliseconds.
"""

RESULTS_COLUMNS: tuple[str, ...] = (
    "POSITION", "NUMBER", "STATUS", "LAPS", "TOTAL_TIME", "GAP_FIRST", "GAP_PREVIOUS",
    "FL_LAPNUM", "FL_TIME", "FL_KPH", "TEAM", "CLASS", "GROUP", "DIVISION", "VEHICLE",
    "TIRES", "ECM Participant Id", "ECM Team Id", "ECM Category Id", "ECM Car Id",
    "ECM Brand Id", "ECM Country Id", "*Extra 7", "*Extra 8", "*Extra 9",
    "Sort Key", "DRIVER_*Extra 3", "DRIVER_*Extra 4", "DRIVER_*Extra 5",
)
"""Overall and by-class results (``03_`` and ``05_`` files)."""

SECTIONS_COLUMNS: tuple[str, ...] = (
    "NUMBER", "DRIVER_NUMBER", "LAP_NUMBER", "LAP_TIME", "LAP_IMPROVEMENT",
    "CROSSING_FINISH_LINE_IN_PIT", "S1", "S1_IMPROVEMENT", "S2", "S2_IMPROVEMENT", "S3",
    "S3_IMPROVEMENT", "KPH", "ELAPSED", "HOUR", "S1_LARGE", "S2_LARGE", "S3_LARGE",
    "TOP_SPEED", "DRIVER_NAME", "PIT_TIME", "CLASS", "GROUP", "TEAM", "MANUFACTURER",
    "FLAG_AT_FL", "S1_SECONDS", "S2_SECONDS", "S3_SECONDS", "IM1a_time", "IM1a_elapsed",
    "IM1_time", "IM1_elapsed", "IM2a_time", "IM2a_elapsed", "IM2_time", "IM2_elapsed",
    "IM3a_time", "IM3a_elapsed", "FL_time", "FL_elapsed",
)
"""Analysis with sections (``23_`` file), one row per lap per car."""

WEATHER_COLUMNS: tuple[str, ...] = (
    "TIME_UTC_SECONDS", "TIME_UTC_STR", "AIR_TEMP", "TRACK_TEMP", "HUMIDITY", "PRESSURE",
    "WIND_SPEED", "WIND_DIRECTION", "RAIN",
)
"""Weather (``26_`` file), about one row a minute; ``TRACK_TEMP`` 0 means not measured."""

BEST_LAPS_COLUMNS: tuple[str, ...] = (
    "NUMBER", "VEHICLE", "CLASS", "TOTAL_DRIVER_LAPS",
    *(f"BESTLAP_{i}{suffix}" for i in range(1, 11) for suffix in ("", "_LAPNUM")),
    "AVERAGE",
)
"""Best ten laps by driver (``99_`` file)."""

FLAG_GREEN = "GF"
FLAG_CAUTION = "FCY"
FLAG_FINISH = "FF"
FLAGS: tuple[str, ...] = (FLAG_GREEN, FLAG_CAUTION, FLAG_FINISH)
"""Values of ``FLAG_AT_FL``: green, full-course yellow, or the chequered flag (``FF``, the
lap that ends the race for a car)."""
RACING_FLAGS: tuple[str, ...] = (FLAG_GREEN, FLAG_FINISH)
"""Flags of laps run at racing speed: green, and the last lap under the chequered flag."""

SESSIONS: tuple[str, ...] = ("R1", "R2")


def timing_file_name(kind: FileKind, race_number: int, *, provisional: bool = False) -> str:
    """The Al Kamel file name of a timing file for race 1 or 2.

    Args:
        kind: One of the semicolon-separated families.
        race_number: 1 or 2.
        provisional: For results, write the provisional variant of the name.
    """
    r = f"Race {race_number}"
    names = {
        FileKind.RESULTS: (
            f"03_Provisional Results_{r}_Anonymized.CSV"
            if provisional
            else f"03_Results GR Cup {r} Official_Anonymized.CSV"
        ),
        FileKind.RESULTS_BY_CLASS: f"05_Results by Class GR Cup {r} Official_Anonymized.CSV",
        FileKind.SECTIONS: f"23_AnalysisEnduranceWithSections_{r}_Anonymized.CSV",
        FileKind.WEATHER: f"26_Weather_{r}_Anonymized.CSV",
        FileKind.BEST_LAPS: f"99_Best 10 Laps By Driver_{r}_Anonymized.CSV",
    }
    if kind not in names:
        raise ValueError(f"{kind} is not a timing file family")
    return names[kind]


def car_file_name(kind: FileKind, track: str, session: str, *, style: int = 0) -> str:
    """The name of a telemetry or lap file, in one of the naming styles of the data set.

    Style 0 is Barber's (``R1_barber_telemetry_data.csv``, ``R1_barber_lap_start.csv``);
    style 1 the other tracks' (``sonoma_telemetry_R1.csv``,
    ``sonoma_lap_start_time_R1.csv``).
    """
    if style == 0:
        suffix = {
            FileKind.TELEMETRY: "telemetry_data",
            FileKind.LAP_START: "lap_start",
            FileKind.LAP_END: "lap_end",
            FileKind.LAP_TIME: "lap_time",
        }[kind]
        return f"{session}_{track}_{suffix}.csv"
    suffix = {
        FileKind.TELEMETRY: "telemetry",
        FileKind.LAP_START: "lap_start_time",
        FileKind.LAP_END: "lap_end_time",
        FileKind.LAP_TIME: "lap_time",
    }[kind]
    return f"{track}_{suffix}_{session}.csv"


UNASSIGNED_NUMBER = "000"
"""The number part of ``vehicle_id`` when the logger had no number for the car."""


def chassis_vehicle_id(chassis: str, car_number: str | None) -> str:
    """The ``vehicle_id`` of a car: ``GR86-<chassis>-<number>``, ``000`` when unassigned.

    Car numbers are text: ``"021"`` and ``"21"`` are different cars.
    """
    return f"GR86-{chassis}-{car_number or UNASSIGNED_NUMBER}"


__all__ = [
    "BEST_LAPS_COLUMNS",
    "FLAGS",
    "FLAG_CAUTION",
    "FLAG_FINISH",
    "FLAG_GREEN",
    "LAP_COLUMNS",
    "LAP_COLUMNS_VALUE_VARIANT",
    "RACING_FLAGS",
    "RESULTS_COLUMNS",
    "SECTIONS_COLUMNS",
    "SESSIONS",
    "TELEMETRY_COLUMNS",
    "UNASSIGNED_NUMBER",
    "WEATHER_COLUMNS",
    "FileKind",
    "car_file_name",
    "chassis_vehicle_id",
    "timing_file_name",
]
