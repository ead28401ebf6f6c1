"""The lap feature table: one row per race, car and lap, with the columns of the catalogue.

``build_lap_features`` is the one pure function both paths run: the batch table over
a whole lake (``scan_features``); the live builder runs its steps (``add_car_history``,
``add_field_context``, ``finish_lap_features``) over the few rows a new lap reads
(``live_context``). Reading the lake happens only in ``scan_features``/``feature_table``.

Cars are the lake's timing cars (``race_id, car_number``). Telemetry is the loggers',
keyed by ``vehicle_id``, so a lap's telemetry aggregates join on its ``vehicle_id``:
a timing car without logger data gets none (null, never a default). A lap without a
``car_number`` cannot be told apart from another such lap of the race, so it is left
out rather than merged into one made-up car.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from cognirace.features.car_history import add_car_history
from cognirace.features.catalogue import FEATURE_SCHEMA, KEY_COLUMNS
from cognirace.features.field import RACE_DURATION_S, add_field_context
from cognirace.features.telemetry import (
    TELEMETRY_FEATURES,
    TELEMETRY_LAP_KEYS,
    aggregate_telemetry,
)
from cognirace.lake.reader import Lake


def _weather_at(laps: pl.LazyFrame, weather: pl.LazyFrame) -> pl.LazyFrame:
    """Join the last weather row at or before each lap end (``TRACK_TEMP`` 0: not measured).

    The last row before, not the nearest, because a live lap cannot see the next row.
    """
    rows = weather.select(
        "race_id", "time", "air_temp_c",
        pl.when(pl.col("track_temp_c") != 0).then(pl.col("track_temp_c")).alias("track_temp_c"),
    ).sort("time")
    return laps.sort("lap_end").join_asof(rows, left_on="lap_end", right_on="time",
                                          by="race_id", strategy="backward",
                                          check_sortedness=False).drop("time")


def _with_telemetry(laps: pl.LazyFrame, telemetry_laps: pl.LazyFrame) -> pl.LazyFrame:
    """Join the per-lap telemetry aggregates by the lap's logger; laps without telemetry,
    and laps of a car without a ``vehicle_id``, get 0 samples and null aggregates."""
    return laps.join(telemetry_laps, on=list(TELEMETRY_LAP_KEYS), how="left",
                     nulls_equal=False) \
        .with_columns(pl.col("n_samples").fill_null(0))


def build_lap_features(laps: pl.LazyFrame, races: pl.LazyFrame, weather: pl.LazyFrame,
                       telemetry_laps: pl.LazyFrame, *,
                       race_duration_s: float = RACE_DURATION_S) -> pl.LazyFrame:
    """Lap features from lake tables: the columns of ``CATALOGUE``, sorted by key.

    Laps without an end time are left out: a row is defined by what is known when its
    lap ends; so are laps without a ``car_number``, which belong to no known car.

    Args:
        laps: Lake ``laps`` rows.
        races: Lake ``races`` rows (``race_id, track, session``) of those laps.
        weather: Lake ``weather`` rows of those races (may be empty).
        telemetry_laps: ``aggregate_telemetry`` of the races' telemetry (may be empty),
            keyed by ``race_id, vehicle_id, lap``.
        race_duration_s: Timed length of each race, s.
    """
    rows = laps.filter(pl.col("lap_end").is_not_null()
                       & pl.col("car_number").is_not_null()).join(
        races.select("race_id", "track", "session"), on="race_id", how="left")
    rows = add_field_context(add_car_history(rows), race_duration_s)
    return finish_lap_features(rows, weather, telemetry_laps)


def finish_lap_features(rows: pl.LazyFrame, weather: pl.LazyFrame,
                        telemetry_laps: pl.LazyFrame) -> pl.LazyFrame:
    """The last step of ``build_lap_features``, shared with the live builder: the weather
    at each lap end and the lap's telemetry joined, the columns of ``CATALOGUE`` kept
    with their types, sorted by key.

    Args:
        rows: Lap rows with ``track``, ``session``, the car history and the field context.
        weather: Lake ``weather`` rows of those races (may be empty).
        telemetry_laps: ``aggregate_telemetry`` rows of those laps (may be empty).
    """
    rows = _with_telemetry(_weather_at(rows, weather), telemetry_laps)
    return rows.select(pl.col(name).cast(dtype) for name, dtype in FEATURE_SCHEMA.items()) \
        .sort(*KEY_COLUMNS)


def scan_features(lake: Lake, race_ids: Sequence[str] | None = None, *,
                  race_duration_s: float = RACE_DURATION_S) -> pl.LazyFrame:
    """The lap feature table of a lake (or of some races), lazily.

    Args:
        lake: From ``cognirace.lake.open_lake``.
        race_ids: Only these races (default: all).
        race_duration_s: Timed length of each race, s.
    """
    ids = lake.race_ids if race_ids is None else list(race_ids)
    keep = pl.col("race_id").is_in(ids)
    telemetry = pl.concat([lake.scan_telemetry(rid) for rid in ids]) if ids else \
        lake.scan_telemetry().clear()
    return build_lap_features(
        lake.laps.lazy().filter(keep), lake.races.lazy().filter(keep),
        lake.weather.lazy().filter(keep), aggregate_telemetry(telemetry),
        race_duration_s=race_duration_s,
    )


def feature_table(lake: Lake, race_ids: Sequence[str] | None = None, *,
                  race_duration_s: float = RACE_DURATION_S) -> pl.DataFrame:
    """The lap feature table of a lake, collected (see ``scan_features``)."""
    return scan_features(lake, race_ids, race_duration_s=race_duration_s).collect()


__all__ = [
    "TELEMETRY_FEATURES",
    "build_lap_features",
    "feature_table",
    "finish_lap_features",
    "scan_features",
]
