"""Telemetry windows: a few seconds of one car's samples summarised in one row.

A window is ``WINDOW_S`` seconds of wall-clock time, numbered from the Unix epoch
(``window_id = epoch_ms // WINDOW_MS``), so a live stream knows which window a sample
belongs to without seeing the rest of the race. ``window_table(lake)`` builds every
window of a lake; ``window_row(samples)`` builds the row of one window's samples. Both
run the same Polars expressions (``prepare`` then ``window_aggregations``) over samples
in time order, so a window gives the same bits alone or among a season's.

Each row holds, per channel, the level (mean, std, min, max), the change between
consecutive readings (mean and max absolute difference: a spike), the share of repeated
identical readings (a stuck sensor) and the share of samples the channel does not cover
(a dropout, see ``signals.HOLD_S``); and relations that physics ties together, whose
residuals show mechanical faults and drifting sensors: deceleration per bar of brake
pressure (brake fade), acceleration at full throttle (power loss), revs per km/h against
the gear (gearbox, speed or rpm drift), longitudinal g against d(speed)/dt, rear against
front brake pressure, and steering against lateral g on straights. Every relation is a
ratio or a residual of the channels as logged: none holds a constant of a car or of the
simulator; what a normal value is, is learned from data, by the fleet's windows in
training, or by the car's own earlier windows (``with_car_history``: each car's sensors
read a little off, and each car relates its channels its own way).

Channels are read as each track logs them (``signals``): the throttle is one channel,
``throttle_pct``, the pedal where the window has it, else the blade, and
``throttle_is_ath`` says which (a track logs one or the other, so a relation between
the two cannot be measured). Slow channels (speed and rpm: one sample in four or five at
the full rate) keep their statistics over their own readings, and enter the relations
``interpolated`` between readings, so a 20 Hz window and a 2 Hz one of the same driving
give the same row up to sampling.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

import polars as pl

from cognirace.features.signals import (
    FULL_THROTTLE_PCT,
    THROTTLE_SOURCE,
    interpolation_steps,
    reading,
    throttle_pct,
    throttle_source,
)

if TYPE_CHECKING:
    from cognirace.lake import Lake

WINDOW_S = 5.0
"""Window length, s: ten samples at the 2 Hz of the demo telemetry."""
WINDOW_MS = int(WINDOW_S * 1000)
G_MS2 = 9.80665
"""Standard gravity, m/s², to put d(speed)/dt in g like ``accx_g``."""
BRAKING_BAR = 10.0
"""Front brake pressure (bar) from which a sample counts as braking."""
MOVING_KPH = 30.0
"""Speed (km/h) from which revs per km/h and steering relations are meaningful."""

THROTTLE = "throttle_pct"
CHANNELS: tuple[str, ...] = (
    "speed_kph", "gear", "rpm", THROTTLE, "pbrake_f", "pbrake_r", "accx_g", "accy_g",
    "steering_deg",
)
"""Telemetry channels summarised per window (lat/lon are often absent; the throttle is
the track's pedal or blade)."""
STATS: tuple[str, ...] = ("mean", "std", "min", "max", "dmean", "jump", "repeat", "null")
"""Per-channel statistics, suffixes of the column names (``speed_kph_jump``)."""
RELATIONS: tuple[str, ...] = (
    "brake_g_per_bar", "full_throttle_accx_g", "full_throttle_speed_kph", "rpm_per_kph",
    "accx_resid_g", "rear_front_brake_ratio", "steer_straight_deg", "accy_straight_g",
    "accy_per_steer_g_per_deg",
)
"""Physics relation columns; null when the window lacks the driving they need."""
KEYS: tuple[str, ...] = ("race_id", "vehicle_id", "window_id")
WINDOW_FEATURES: tuple[str, ...] = (
    "n_samples", "throttle_is_ath", *(f"{c}_{s}" for c in CHANNELS for s in STATS),
    *RELATIONS,
)
"""Model-ready numeric columns of a window row, in table order."""
HISTORY_COLUMNS: tuple[str, ...] = (
    *RELATIONS, "speed_kph_max", "rpm_max",
    *(f"{c}_{s}" for c in CHANNELS for s in ("dmean", "repeat")),
)
"""Window columns compared with the car's own earlier windows (``with_car_history``):
the relations, the top speed and revs (a power loss), and each channel's change and
repeats between readings (a sensor's noise and resolution are the car's own)."""
HISTORY_FEATURES: tuple[str, ...] = tuple(f"{c}_vs_car" for c in HISTORY_COLUMNS)
"""Columns ``with_car_history`` adds, in table order."""
HISTORY_LAG = 12
"""Most recent windows left out of a car's record (one minute at ``WINDOW_S``)."""
HISTORY_SPAN = 720
"""Windows a car's record spans at most (an hour: a whole race)."""
HISTORY_MIN = 12
"""Windows holding a value a record needs before it counts (a minute of driving)."""


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """``sum(num) / sum(den)``, null when the denominator is (near) zero."""
    total = den.sum()
    return pl.when(total.abs() > 1e-9).then(num.sum() / total).otherwise(None)


def _channel_aggs(channel: str) -> list[pl.Expr]:
    """Level, change, stuck and dropout statistics of one channel.

    Changes are between consecutive readings, so a channel logged on one sample in five
    is compared with its previous reading, not with the samples that carry none; the
    dropout share counts the samples its readings do not cover (``signals.HOLD_S``).
    """
    x = reading(channel)
    diff = x.drop_nulls().diff()
    covered = pl.col(f"_{channel}_covered")
    return [
        x.mean().alias(f"{channel}_mean"), x.std().alias(f"{channel}_std"),
        x.min().alias(f"{channel}_min"), x.max().alias(f"{channel}_max"),
        diff.abs().mean().alias(f"{channel}_dmean"), diff.abs().max().alias(f"{channel}_jump"),
        (diff == 0).cast(pl.Float64).mean().alias(f"{channel}_repeat"),
        (~covered).cast(pl.Float64).mean().alias(f"{channel}_null"),
    ]


def _relation_aggs() -> list[pl.Expr]:
    """Residuals of the relations physics imposes between channels."""
    speed, rpm = pl.col("_speed_kph"), pl.col("_rpm")  # slow channels: interpolated
    accx, accy = reading("accx_g"), reading("accy_g")
    brake_f, throttle, steer = reading("pbrake_f"), reading(THROTTLE), reading("steering_deg")
    braking, flat = brake_f > BRAKING_BAR, throttle > FULL_THROTTLE_PCT
    moving = speed > MOVING_KPH
    straight = moving & (accy.abs() < 0.1)
    centred = moving & (steer.abs() < 1.0)
    return [
        _ratio((-accx).filter(braking), brake_f.filter(braking)).alias("brake_g_per_bar"),
        accx.filter(flat).mean().alias("full_throttle_accx_g"),
        speed.filter(flat).mean().alias("full_throttle_speed_kph"),
        (rpm / speed).filter(moving).mean().alias("rpm_per_kph"),
        _accx_residual(),
        _ratio(reading("pbrake_r").filter(braking), brake_f.filter(braking))
        .alias("rear_front_brake_ratio"),
        steer.filter(straight).mean().alias("steer_straight_deg"),
        accy.filter(centred).mean().alias("accy_straight_g"),
        _ratio((accy * steer).filter(moving), (steer * steer).filter(moving))
        .alias("accy_per_steer_g_per_deg"),
    ]


def _accx_residual() -> pl.Expr:
    """Mean longitudinal g minus d(speed)/dt between consecutive speed readings, g.

    The accelerometer is averaged by the trapezoid rule over the samples from one speed
    reading to the next (the mean of the two when every sample carries speed), which at
    any rate is the g the speed change reflects; a sample without it counts as 0 g, so
    an accelerometer dropout shows here too.
    """
    has_speed = reading("speed_kph").is_not_null()
    accx = reading("accx_g").fill_null(0.0)
    total = accx.cum_sum().filter(has_speed)
    at = accx.filter(has_speed)
    steps = pl.int_range(pl.len()).cast(pl.Float64).filter(has_speed).diff()
    mean_accx = (total.diff() + (at.shift(1) - at) / 2.0) / steps
    speed = reading("speed_kph").filter(has_speed)
    dt_s = pl.col("time").filter(has_speed).diff().dt.total_microseconds() \
        .cast(pl.Float64) * 1e-6
    dvdt_g = speed.diff() / 3.6 / dt_s / G_MS2
    return (mean_accx - dvdt_g).mean().alias("accx_resid_g")


def prepare(samples: pl.LazyFrame | pl.DataFrame, over: Sequence[str] = KEYS
            ) -> pl.LazyFrame:
    """Add the columns the aggregations read: the throttle and its source, every channel
    interpolated between its readings (``_<name>``), and whether that covers the sample
    (``_<name>_covered``).

    Args:
        samples: Samples with ``window_id``, sorted by time within each window.
        over: The window's key columns (empty for the samples of one window).
    """
    frame = samples.lazy()
    for layer in _prepare_steps(tuple(over)):
        frame = frame.with_columns(layer)
    return frame


@cache
def _prepare_steps(over: tuple[str, ...]) -> tuple[list[pl.Expr], ...]:
    """``prepare``'s layers of columns, built once: a live race prepares a few windows
    at a time, where building them costs a tenth of running them. The interpolations
    come in ``interpolation_steps``' layers, which plan faster than one nested
    expression per channel."""
    first, second, third = interpolation_steps({f"_{c}": reading(c) for c in CHANNELS},
                                               over)
    return ([throttle_pct(over).alias(THROTTLE), throttle_source(over).alias(THROTTLE_SOURCE)],
            first, second, third,
            [pl.col(f"_{c}").is_not_null().alias(f"_{c}_covered") for c in CHANNELS])


def _source_aggs() -> list[pl.Expr]:
    source = pl.col(THROTTLE_SOURCE).first()
    return [source.alias(THROTTLE_SOURCE),
            pl.when(source == "ath").then(1.0).when(source == "aps").then(0.0)
            .otherwise(None).cast(pl.Float64).alias("throttle_is_ath")]


def window_aggregations() -> list[pl.Expr]:
    """Every per-window expression, for ``prepare``d samples of one window in time order."""
    return list(_window_aggregations())


@cache
def _window_aggregations() -> tuple[pl.Expr, ...]:
    """``window_aggregations``, built once (see ``_prepare_steps``)."""
    return (
        pl.col("time").min().alias("window_start"), pl.col("lap").max().alias("lap"),
        pl.len().cast(pl.Int32).alias("n_samples"), *_source_aggs(),
        *(e for c in CHANNELS for e in _channel_aggs(c)), *_relation_aggs(),
    )


def window_id(time: pl.Expr) -> pl.Expr:
    """The window a sample's UTC time falls in, counted from the Unix epoch."""
    return (time.dt.epoch("ms") // WINDOW_MS).alias("window_id")


def window_features(telemetry: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """One row per race, car and window of ``telemetry`` (the lake's sample schema).

    Samples are sorted by time within each car before aggregating, so each window's
    differences are taken in time order, as ``window_row`` does.
    """
    frame = telemetry.lazy().sort("race_id", "vehicle_id", "time") \
        .with_columns(window_id(pl.col("time")))
    rows = prepare(frame).group_by(*KEYS, maintain_order=True).agg(window_aggregations())
    return rows.collect()


def window_row(samples: pl.DataFrame) -> pl.DataFrame:
    """The row of one window from its samples (one car, one ``window_id``), for live use.

    The caller buffers a car's samples until the window ends; the row equals the one
    ``window_features`` gives for the same samples.
    """
    ordered = samples.sort("time")
    keys = ordered.select(pl.col("race_id").first(), pl.col("vehicle_id").first(),
                          window_id(pl.col("time")).first())
    aggregates = prepare(ordered, over=()).select(window_aggregations()).collect()
    return pl.concat([keys, aggregates], how="horizontal")


def with_car_history(windows: pl.DataFrame) -> pl.DataFrame:
    """Add ``<column>_vs_car`` for each of ``HISTORY_COLUMNS``: the window's value minus
    the median of the same car's earlier windows in the race.

    Each car's sensors read a little off (calibration) and each car and driver relate
    the channels their own way (brake bias, understeer), so a relation's fleet-wide
    value says less than its change against the car's own record. The record is the
    car's windows from ``HISTORY_LAG`` windows back (a fault's first minute is not yet
    part of it) to ``HISTORY_SPAN`` windows back, and needs ``HISTORY_MIN`` windows
    holding a value; before that the column is null. Only earlier windows count, so a
    window's row never changes with what comes after it, and a live stream gets the
    same row from the car's last ``HISTORY_LAG + HISTORY_SPAN`` windows.

    Args:
        windows: Rows of ``window_features`` (any order; several races and cars).
    """
    by_car = ["race_id", "vehicle_id"]
    record = [
        reading(c).rolling_median(window_size=HISTORY_SPAN, min_samples=HISTORY_MIN)
        .shift(HISTORY_LAG).over(by_car).alias(f"_{c}_record") for c in HISTORY_COLUMNS]
    return (windows.sort(*KEYS).with_columns(record)
            .with_columns((reading(c) - pl.col(f"_{c}_record")).alias(f"{c}_vs_car")
                          for c in HISTORY_COLUMNS)
            .drop(f"_{c}_record" for c in HISTORY_COLUMNS))


def window_table(lake: Lake) -> pl.DataFrame:
    """Every telemetry window of a lake with the car's history (``with_car_history``),
    the race's track and the car's number."""
    windows = with_car_history(window_features(lake.scan_telemetry()))
    races = lake.races.select("race_id", "track")
    cars = lake.cars.drop_nulls("vehicle_id").select(
        "race_id", "vehicle_id", "car_number").unique(["race_id", "vehicle_id"])
    return (windows.join(races, on="race_id", how="left")
            .join(cars, on=["race_id", "vehicle_id"], how="left")
            .sort(*KEYS))


__all__ = [
    "CHANNELS",
    "HISTORY_COLUMNS",
    "HISTORY_FEATURES",
    "HISTORY_LAG",
    "HISTORY_MIN",
    "HISTORY_SPAN",
    "KEYS",
    "RELATIONS",
    "STATS",
    "THROTTLE",
    "WINDOW_FEATURES",
    "WINDOW_MS",
    "WINDOW_S",
    "prepare",
    "window_aggregations",
    "window_features",
    "window_id",
    "window_row",
    "window_table",
    "with_car_history",
]
