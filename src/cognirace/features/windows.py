"""Telemetry windows: a few seconds of one car's samples summarised in one row.

A window is ``WINDOW_S`` seconds of wall-clock time, numbered from the Unix epoch
(``window_id = epoch_ms // WINDOW_MS``), so a live stream knows which window a sample
belongs to without seeing the rest of the race. ``window_table(lake)`` builds every
window of a lake; ``window_row(samples)`` builds the row of one window's samples. Both
run the same Polars aggregations (``window_aggregations``) over samples in time order,
so a window gives the same bits alone or among a season's.

Each row holds, per channel, the level (mean, std, min, max), the change between
samples (mean and max absolute difference: a spike), the share of repeated identical
values (a stuck sensor) and of missing ones (a dropout); and relations that physics
ties together, whose residuals show mechanical faults and drifting sensors:
deceleration per bar of brake pressure (brake fade), acceleration at full throttle
(power loss), revs per km/h against the gear (gearbox, speed or rpm drift),
longitudinal g against d(speed)/dt, rear against front brake pressure, throttle body
against pedal, and steering against lateral g on straights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from cognirace.lake import Lake

WINDOW_S = 5.0
"""Window length, s: ten samples at the 2 Hz of the demo telemetry."""
WINDOW_MS = int(WINDOW_S * 1000)
G_MS2 = 9.80665
"""Standard gravity, m/s², to put d(speed)/dt in g like ``accx_g``."""
BRAKING_BAR = 10.0
"""Front brake pressure (bar) from which a sample counts as braking."""
FULL_THROTTLE_PCT = 90.0
"""Pedal position (%) from which a sample counts as flat out."""
MOVING_KPH = 30.0
"""Speed (km/h) from which revs per km/h and steering relations are meaningful."""

CHANNELS: tuple[str, ...] = (
    "speed_kph", "gear", "rpm", "aps", "ath", "pbrake_f", "pbrake_r", "accx_g", "accy_g",
    "steering_deg",
)
"""Telemetry channels summarised per window (lat/lon are often absent)."""
STATS: tuple[str, ...] = ("mean", "std", "min", "max", "dmean", "jump", "repeat", "null")
"""Per-channel statistics, suffixes of the column names (``speed_kph_jump``)."""
RELATIONS: tuple[str, ...] = (
    "brake_g_per_bar", "full_throttle_accx_g", "full_throttle_speed_kph", "rpm_per_kph",
    "accx_resid_g", "rear_front_brake_ratio", "ath_aps_resid", "steer_straight_deg",
    "accy_straight_g", "accy_per_steer_g_per_deg",
)
"""Physics relation columns; null when the window lacks the driving they need."""
KEYS: tuple[str, ...] = ("race_id", "vehicle_id", "window_id")
WINDOW_FEATURES: tuple[str, ...] = (
    "n_samples", *(f"{c}_{s}" for c in CHANNELS for s in STATS), *RELATIONS,
)
"""Model-ready numeric columns of a window row, in table order."""


def _value(channel: str) -> pl.Expr:
    """The channel with NaN as null: a dropout may be written either way."""
    return pl.col(channel).cast(pl.Float64).fill_nan(None)


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """``sum(num) / sum(den)``, null when the denominator is (near) zero."""
    total = den.sum()
    return pl.when(total.abs() > 1e-9).then(num.sum() / total).otherwise(None)


def _channel_aggs(channel: str) -> list[pl.Expr]:
    """Level, change, stuck and dropout statistics of one channel."""
    x = _value(channel)
    diff = x.diff()
    missing = pl.col(channel).cast(pl.Float64).is_null() | pl.col(channel).cast(
        pl.Float64).is_nan()
    return [
        x.mean().alias(f"{channel}_mean"), x.std().alias(f"{channel}_std"),
        x.min().alias(f"{channel}_min"), x.max().alias(f"{channel}_max"),
        diff.abs().mean().alias(f"{channel}_dmean"), diff.abs().max().alias(f"{channel}_jump"),
        (diff == 0).cast(pl.Float64).mean().alias(f"{channel}_repeat"),
        missing.cast(pl.Float64).mean().alias(f"{channel}_null"),
    ]


def _relation_aggs() -> list[pl.Expr]:
    """Residuals of the relations physics imposes between channels."""
    speed, accx, accy = _value("speed_kph"), _value("accx_g"), _value("accy_g")
    brake_f, aps, steer = _value("pbrake_f"), _value("aps"), _value("steering_deg")
    braking, flat = brake_f > BRAKING_BAR, aps > FULL_THROTTLE_PCT
    moving = speed > MOVING_KPH
    dt_s = pl.col("time").diff().dt.total_milliseconds().cast(pl.Float64) / 1000.0
    dvdt_g = speed.diff() / 3.6 / dt_s / G_MS2
    straight = moving & (accy.abs() < 0.1)
    centred = moving & (steer.abs() < 1.0)
    return [
        _ratio((-accx).filter(braking), brake_f.filter(braking)).alias("brake_g_per_bar"),
        accx.filter(flat).mean().alias("full_throttle_accx_g"),
        speed.filter(flat).mean().alias("full_throttle_speed_kph"),
        (_value("rpm") / speed).filter(moving).mean().alias("rpm_per_kph"),
        ((accx + accx.shift(1)) / 2.0 - dvdt_g).mean().alias("accx_resid_g"),
        _ratio(_value("pbrake_r").filter(braking), brake_f.filter(braking))
        .alias("rear_front_brake_ratio"),
        (_value("ath") - 0.96 * aps).mean().alias("ath_aps_resid"),
        steer.filter(straight).mean().alias("steer_straight_deg"),
        accy.filter(centred).mean().alias("accy_straight_g"),
        _ratio((accy * steer).filter(moving), (steer * steer).filter(moving))
        .alias("accy_per_steer_g_per_deg"),
    ]


def window_aggregations() -> list[pl.Expr]:
    """Every per-window expression, for samples of one window in time order."""
    return [
        pl.col("time").min().alias("window_start"), pl.col("lap").max().alias("lap"),
        pl.len().cast(pl.Int32).alias("n_samples"),
        *(e for c in CHANNELS for e in _channel_aggs(c)), *_relation_aggs(),
    ]


def window_id(time: pl.Expr) -> pl.Expr:
    """The window a sample's UTC time falls in, counted from the Unix epoch."""
    return (time.dt.epoch("ms") // WINDOW_MS).alias("window_id")


def window_features(telemetry: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One row per race, car and window of ``telemetry`` (the lake's sample schema).

    Samples are sorted by time within each car before aggregating, so each window's
    differences are taken in time order, as ``window_row`` does.
    """
    frame = telemetry.lazy().sort("race_id", "vehicle_id", "time")
    rows = (frame.with_columns(window_id(pl.col("time")))
            .group_by(*KEYS, maintain_order=True).agg(window_aggregations()))
    return rows.collect()


def window_row(samples: pl.DataFrame) -> pl.DataFrame:
    """The row of one window from its samples (one car, one ``window_id``), for live use.

    The caller buffers a car's samples until the window ends; the row equals the one
    ``window_features`` gives for the same samples.
    """
    ordered = samples.sort("time")
    keys = ordered.select(pl.col("race_id").first(), pl.col("vehicle_id").first(),
                          window_id(pl.col("time")).first())
    return pl.concat([keys, ordered.select(window_aggregations())], how="horizontal")


def window_table(lake: Lake) -> pl.DataFrame:
    """Every telemetry window of a lake, with the race's track and the car's number."""
    windows = window_features(lake.scan_telemetry())
    races = lake.races.select("race_id", "track")
    cars = lake.cars.select("race_id", "vehicle_id", "car_number").unique(
        ["race_id", "vehicle_id"])
    return (windows.join(races, on="race_id", how="left")
            .join(cars, on=["race_id", "vehicle_id"], how="left")
            .sort(*KEYS))


__all__ = [
    "CHANNELS",
    "KEYS",
    "RELATIONS",
    "STATS",
    "WINDOW_FEATURES",
    "WINDOW_MS",
    "WINDOW_S",
    "window_aggregations",
    "window_features",
    "window_id",
    "window_row",
    "window_table",
]
