"""The lap feature table's columns: name, type, unit and meaning, as data.

Models publish their input schema by naming columns of ``CATALOGUE``; ``check_features``
holds a built table to it, so a column that changes type or goes missing fails loudly
instead of feeding a model the wrong thing.

Every value of a row is known when the car crosses the line at the end of that lap:
features that look at other cars use only the laps completed by then, which is what
lets the live builder emit the same row as the batch table.

A row is one timing car's lap (``KEY_COLUMNS``): cars are told apart by ``car_number``,
the official timing's, as the lake's laps are. ``vehicle_id`` only says whose telemetry
the lap's telemetry features come from; a car the loggers did not record has none, and
its telemetry features are null. A lap without ``car_number`` (only a race read from lap
files alone, for a logged car without a number) belongs to no known car and is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from cognirace.errors import SchemaError
from cognirace.lake.schema import UTC_TIME


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the lap feature table.

    Attributes:
        name: Column name (unit as suffix where it has one).
        dtype: Polars type.
        unit: Physical unit, empty for identifiers, flags and counts.
        description: What the value is and how it is computed.
        group: ``key``, ``timing``, ``stint``, ``race``, ``field``, ``pace``,
            ``weather`` or ``telemetry``.
    """

    name: str
    dtype: pl.DataType
    unit: str
    description: str
    group: str


def _c(name: str, dtype: pl.DataType, unit: str, group: str, description: str) -> Column:
    return Column(name, dtype, unit, description, group)


F64, I32, STR, BOOL = pl.Float64(), pl.Int32(), pl.String(), pl.Boolean()

CATALOGUE: tuple[Column, ...] = (
    _c("race_id", STR, "", "key", "Race, as in the lake (`barber-R1`)."),
    _c("car_number", STR, "", "key",
       "The car's key: its number in the official timing, as text (`021` and `21` are "
       "two cars; `3#2` is a second car listed under number 3)."),
    _c("vehicle_id", STR, "", "key",
       "Logger id `GR86-<chassis>-<number>` of the car's telemetry; null for a car without "
       "logger data. Telemetry features join on it, so they are null there too."),
    _c("lap", I32, "", "key", "Lap number, 1-based."),
    _c("track", STR, "", "key", "Track key (`barber`)."),
    _c("session", STR, "", "key", "`R1` or `R2`."),
    _c("lap_start", UTC_TIME, "UTC", "timing", "Time the lap started (line crossing)."),
    _c("lap_end", UTC_TIME, "UTC", "timing", "Time the lap ended; the row is known then."),
    _c("lap_time_s", F64, "s", "timing", "Lap time."),
    _c("s1_s", F64, "s", "timing", "Sector 1 time."),
    _c("s2_s", F64, "s", "timing", "Sector 2 time."),
    _c("s3_s", F64, "s", "timing", "Sector 3 time."),
    _c("top_speed_kph", F64, "km/h", "timing", "Top speed from the timing system."),
    _c("flag", STR, "", "timing",
       "Flag at the line: `GF` green, `FCY` full-course yellow or `FF` chequered (the "
       "lap that ends the race for the car)."),
    _c("prev_fcy", BOOL, "", "timing", "The car's previous lap ended under FCY (false on lap 1)."),
    _c("in_pit", BOOL, "", "timing", "The lap ended in the pit lane (the in-lap of a stop)."),
    _c("out_lap", BOOL, "", "timing", "The previous lap was an in-lap: this lap left the pits."),
    _c("pit_time_s", F64, "s", "timing", "Time in the pit lane on an in-lap, null otherwise."),
    _c("tire_change", BOOL, "", "stint",
       "The stop ending this lap changed tires: pit time at least the track's pit-lane "
       "transit plus `TIRE_CHANGE_MIN_STATIONARY_S` (false when the pit time is unknown)."),
    _c("stint", I32, "", "stint",
       "Stint number, 1-based; a new stint starts on the lap after each in-lap."),
    _c("tire_age_laps", I32, "laps", "stint",
       "Laps completed on the car's tire set in this race before this lap: 0 on lap 1 and "
       "on the out-lap after a tire change (laps run before the race are not known)."),
    _c("green_lap", BOOL, "", "pace",
       "A representative racing lap: `GF` or `FF` at the line, previous lap not under "
       "FCY, not lap 1, not an in- or out-lap."),
    _c("race_elapsed_s", F64, "s", "race", "Race time at the end of this lap (from the start)."),
    _c("race_time_left_s", F64, "s", "race",
       "Race duration (45 min) minus the elapsed time, at least 0."),
    _c("laps_left_est", I32, "laps", "race",
       "Laps this car still runs, estimated from the leader's last crossing and the car's "
       "pace; 0 once the leader has taken the chequered flag."),
    _c("position", I32, "", "field",
       "Position at the line: 1 + cars that completed this lap earlier."),
    _c("gap_ahead_s", F64, "s", "field",
       "Time since the car ahead in position crossed the line on this lap (null for the leader)."),
    _c("gap_leader_s", F64, "s", "field", "Time since the leader crossed the line on this lap."),
    _c("gap_behind_prev_s", F64, "s", "field",
       "Gap to the car behind at the previous lap's line: the last gap behind known when "
       "this lap ends (the car behind has not crossed this lap's line yet). Null on lap 1, "
       "for the last car, or when that car had not crossed by this lap's end."),
    _c("pace_median3_s", F64, "s", "pace",
       "Median of the car's last 3 green laps up to this one (null before the first)."),
    _c("best_green_s", F64, "s", "pace", "The car's best green lap so far in the race."),
    _c("field_median_green_s", F64, "s", "pace",
       "Median green lap time of the cars that completed this lap number by now, this "
       "car included."),
    _c("air_temp_c", F64, "degC", "weather", "Air temperature, last weather row at lap end."),
    _c("track_temp_c", F64, "degC", "weather",
       "Track temperature, last weather row at lap end (null where not measured)."),
    _c("n_samples", I32, "", "telemetry",
       "Telemetry samples of this lap; 0 without telemetry, when every telemetry column "
       "below is null."),
    _c("throttle_source", STR, "", "telemetry",
       "Channel the lap's throttle comes from: `aps` (accelerator pedal) where the lap has "
       "pedal readings, else `ath` (throttle blade; the tracks that log no pedal), null "
       "without either. Pedal and blade read alike flat out but differ at part throttle."),
    _c("full_throttle_frac", F64, "", "telemetry",
       "Share of throttle readings at least `FULL_THROTTLE_PCT` (0..1)."),
    _c("mean_throttle_pct", F64, "%", "telemetry",
       "Mean throttle reading (pedal or blade, see `throttle_source`)."),
    _c("mean_rpm", F64, "rpm", "telemetry", "Mean engine speed over its readings."),
    _c("brake_energy_bar_m", F64, "bar*m", "telemetry",
       "Braking energy proxy: time integral of front brake pressure x speed (m/s), "
       "speed interpolated in time between its readings."),
    _c("max_speed_kph", F64, "km/h", "telemetry", "Highest logged speed."),
    _c("min_corner_speed_kph", F64, "km/h", "telemetry",
       "Lowest speed while lateral acceleration is at least `CORNER_ACCY_G`."),
    _c("mean_apex_speed_kph", F64, "km/h", "telemetry",
       "Mean of the local minima of the speed readings under lateral acceleration (one "
       "per corner apex)."),
    _c("engine_krev", F64, "krev", "telemetry",
       "Engine revolutions over the lap, thousands: time integral of rpm / 60, rpm "
       "interpolated between its readings (null without rpm)."),
    _c("throttle_s", F64, "s", "telemetry",
       "Throttle time: time integral of the throttle fraction (0..1, see "
       "`throttle_source`), i.e. seconds at full-throttle equivalent (null without "
       "throttle)."),
)
"""Every column of the lap feature table, in table order."""

KEY_COLUMNS: tuple[str, ...] = ("race_id", "car_number", "lap")
"""Columns that identify a row: the lake's laps key. A car is its timing number, not its
logger: ``vehicle_id`` is null for every timing car without logger data (0 to 4 a real
race), so keying on it would merge those cars into one."""

FEATURE_SCHEMA = pl.Schema({c.name: c.dtype for c in CATALOGUE})
"""The table's schema, in column order."""

COLUMN_BY_NAME: dict[str, Column] = {c.name: c for c in CATALOGUE}


def catalogue_frame() -> pl.DataFrame:
    """The catalogue as a frame (``name, dtype, unit, group, description``), for model cards."""
    return pl.DataFrame(
        {
            "name": [c.name for c in CATALOGUE],
            "dtype": [str(c.dtype) for c in CATALOGUE],
            "unit": [c.unit for c in CATALOGUE],
            "group": [c.group for c in CATALOGUE],
            "description": [c.description for c in CATALOGUE],
        }
    )


def check_features(frame: pl.DataFrame | pl.LazyFrame) -> None:
    """Raise ``SchemaError`` unless the frame has exactly the catalogue's columns and types."""
    actual = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    if list(actual.names()) != list(FEATURE_SCHEMA.names()):
        missing = [n for n in FEATURE_SCHEMA.names() if n not in actual]
        extra = [n for n in actual.names() if n not in FEATURE_SCHEMA]
        raise SchemaError(
            f"feature table columns differ from the catalogue (missing {missing}, extra {extra})",
            hint="build the table with cognirace.features.build_lap_features",
        )
    for name, dtype in FEATURE_SCHEMA.items():
        if actual[name] != dtype:
            raise SchemaError(f"feature column is {actual[name]}, expected {dtype}",
                              column=name, hint="see cognirace.features.CATALOGUE")


__all__ = [
    "CATALOGUE",
    "COLUMN_BY_NAME",
    "FEATURE_SCHEMA",
    "KEY_COLUMNS",
    "Column",
    "catalogue_frame",
    "check_features",
]
