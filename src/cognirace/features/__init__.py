"""Lap-level features from the lake, and the same features one lap at a time, live.

``feature_table(lake)`` (or ``scan_features`` for a lazy frame) gives one row per race,
timing car (``car_number``, logged or not) and lap with the columns of ``CATALOGUE``;
``LiveFeatureBuilder`` emits the same row for a car's lap when that lap completes in a
live stream. Both run the same steps (``build_lap_features``; live, over only the laps
a new row reads), and every value of a row uses only what was known when its lap
ended. ``split_by_race`` and ``leave_one_track_out`` split the table for evaluation,
whole races to one side.
"""

from cognirace.features.car_history import (
    PACE_WINDOW_LAPS,
    PIT_TRANSIT_S,
    TIRE_CHANGE_MIN_STATIONARY_S,
    add_car_history,
)
from cognirace.features.catalogue import (
    CATALOGUE,
    FEATURE_SCHEMA,
    KEY_COLUMNS,
    Column,
    catalogue_frame,
    check_features,
)
from cognirace.features.field import RACE_DURATION_S, add_field_context
from cognirace.features.live import LiveFeatureBuilder
from cognirace.features.signals import FULL_THROTTLE_PCT, HOLD_S, THROTTLE_CHANNELS
from cognirace.features.split import Split, leave_one_track_out, split_by_race
from cognirace.features.table import build_lap_features, feature_table, scan_features
from cognirace.features.telemetry import (
    CORNER_ACCY_G,
    TELEMETRY_FEATURES,
    aggregate_telemetry,
)

__all__ = [
    "CATALOGUE",
    "CORNER_ACCY_G",
    "FEATURE_SCHEMA",
    "FULL_THROTTLE_PCT",
    "HOLD_S",
    "KEY_COLUMNS",
    "PACE_WINDOW_LAPS",
    "PIT_TRANSIT_S",
    "RACE_DURATION_S",
    "TELEMETRY_FEATURES",
    "THROTTLE_CHANNELS",
    "TIRE_CHANGE_MIN_STATIONARY_S",
    "Column",
    "LiveFeatureBuilder",
    "Split",
    "add_car_history",
    "add_field_context",
    "aggregate_telemetry",
    "build_lap_features",
    "catalogue_frame",
    "check_features",
    "feature_table",
    "leave_one_track_out",
    "scan_features",
    "split_by_race",
]
