"""Per-lap telemetry aggregates: throttle, revs, braking, speeds and engine work.

``aggregate_telemetry`` turns samples (the lake's telemetry schema) into one row per
logged car (``vehicle_id``) and lap. The batch table runs it over a whole lake; the live
builder runs it over one finished lap's buffered samples, so both see the same numbers.

Samples belong to the lap in their ``lap`` column (repaired by ingest, and consistent
with the lap start and end times). The throttle is the track's (``signals``: the pedal
``aps`` where the lap has it, else the blade ``ath``, named in ``throttle_source``).

Levels (means, shares, extremes) are taken over the samples that carry the channel, so
a channel logged on one sample in five counts each reading once. Time integrals combine
channels sample by sample, each ``interpolated`` in time between its readings
(``signals``), and use the trapezoid rule between consecutive samples of the same lap
(sums and means in time order, so a lap gives the same bits alone or among thousands);
the short stretch between a lap's last sample and the next lap's first is not counted.
Apexes are local minima of the speed readings: a slow channel is compared with its
previous and next reading, not with the samples in between that carry none.

The two work integrals, ``engine_krev`` (revolutions) and ``throttle_s`` (throttle
time), are plain measurements, each of one channel: how they turn into litres is left
to a model to learn from data (``cognirace.models.fuel``), not written into the
features. Integrals average the logger's noise away over a lap, where a single reading
would carry it whole.
"""

from __future__ import annotations

import polars as pl

from cognirace.features.durations import ordered_mean, ordered_sum, seconds
from cognirace.features.signals import (
    FULL_THROTTLE_PCT,
    THROTTLE_SOURCE,
    interpolation_steps,
    reading,
    throttle_pct,
    throttle_source,
)

CORNER_ACCY_G = 0.5
"""Lateral acceleration (g) from which a sample counts as cornering; straights stay
well under it, a GR86 mid-corner pulls 1 to 1.5 g."""

KPH_TO_MS = 1.0 / 3.6
PER_MINUTE = 1.0 / 60.0
PER_PERCENT = 0.01

TELEMETRY_LAP_KEYS: tuple[str, ...] = ("race_id", "vehicle_id", "lap")
"""One logged car's lap: telemetry is the loggers', keyed by ``vehicle_id`` (the lap
table's cars are timing cars; a lap row joins these aggregates by its ``vehicle_id``)."""

TELEMETRY_FEATURES: tuple[str, ...] = (
    "n_samples", THROTTLE_SOURCE, "full_throttle_frac", "mean_throttle_pct", "mean_rpm",
    "brake_energy_bar_m", "max_speed_kph", "min_corner_speed_kph", "mean_apex_speed_kph",
    "engine_krev", "throttle_s",
)
"""Columns ``aggregate_telemetry`` adds to the lap keys, in table order."""

FLOAT_FEATURES: tuple[str, ...] = TELEMETRY_FEATURES[2:]
"""The aggregates that are floats (the others: the sample count and the throttle source)."""


def _step(value: pl.Expr, dt_s: pl.Expr) -> pl.Expr:
    """Trapezoid area of ``value`` from each sample to the next one of the lap, units x s."""
    return (value + value.shift(-1).over(TELEMETRY_LAP_KEYS)) * 0.5 * dt_s


def _apex(speed: pl.Expr) -> pl.Expr:
    """A speed reading under lateral g below the previous reading and not above the next."""
    before = speed.shift(1).forward_fill().over(TELEMETRY_LAP_KEYS)
    after = speed.shift(-1).backward_fill().over(TELEMETRY_LAP_KEYS)
    return (pl.col("accy_g").abs() >= CORNER_ACCY_G) & (speed < before) & (speed <= after)


def _with_sample_terms(telemetry: pl.LazyFrame) -> pl.LazyFrame:
    """Sort by time within each lap; add the throttle, corner and apex speeds and the
    per-step integrals (brake energy, revolutions, throttle time).

    Each stage is its own ``with_columns``, so an interpolated channel is computed once
    and then read, not recomputed inside every expression that uses it; the
    interpolations come in ``interpolation_steps``' layers, which plan faster.
    """
    speed = reading("speed_kph")
    cornering = pl.col("accy_g").abs() >= CORNER_ACCY_G
    lap = TELEMETRY_LAP_KEYS
    dt_s = seconds(pl.col("time").shift(-1).over(lap) - pl.col("time"))
    first, second, third = interpolation_steps({
        "_brake_i": reading("pbrake_f"), "_speed_i": speed,
        "_throttle_i": pl.col("_throttle"), "_rpm_i": reading("rpm")}, lap)
    return (
        telemetry.sort(*lap, "time")
        .with_columns(_throttle=throttle_pct(lap), _source=throttle_source(lap))
        .with_columns(first).with_columns(second).with_columns(third)
        .with_columns(_brake_power=pl.col("_brake_i") * pl.col("_speed_i") * KPH_TO_MS)
        .with_columns(
            _corner_speed=pl.when(cornering).then(speed),
            _apex_speed=pl.when(_apex(speed)).then(speed),
            _brake_bar_m=_step(pl.col("_brake_power"), dt_s),
            _revs=_step(pl.col("_rpm_i") * PER_MINUTE, dt_s),
            _throttle_s=_step(pl.col("_throttle_i") * PER_PERCENT, dt_s),
        )
    )


def aggregate_telemetry(telemetry: pl.LazyFrame) -> pl.LazyFrame:
    """One row per ``race_id, vehicle_id, lap`` with the columns of ``TELEMETRY_FEATURES``.

    Args:
        telemetry: Samples with the lake's telemetry schema, any order.

    Returns:
        Lap keys and aggregates (see the catalogue for units); laps without samples
        have no row.
    """
    throttle = pl.col("_throttle")
    return (
        _with_sample_terms(telemetry)
        .group_by(*TELEMETRY_LAP_KEYS)
        .agg(
            n_samples=pl.len().cast(pl.Int32),
            **{THROTTLE_SOURCE: pl.col("_source").first()},
            full_throttle_frac=ordered_mean(pl.when(throttle.is_not_null()).then(
                (throttle >= FULL_THROTTLE_PCT).cast(pl.Float64))),
            mean_throttle_pct=ordered_mean(throttle),
            mean_rpm=ordered_mean(reading("rpm")),
            brake_energy_bar_m=ordered_sum(pl.col("_brake_bar_m")),
            max_speed_kph=reading("speed_kph").max(),
            min_corner_speed_kph=pl.col("_corner_speed").min(),
            mean_apex_speed_kph=ordered_mean(pl.col("_apex_speed")),
            engine_krev=ordered_sum(pl.col("_revs")) * 1e-3,
            throttle_s=ordered_sum(pl.col("_throttle_s")),
        )
        .with_columns(pl.col(FLOAT_FEATURES).cast(pl.Float64),
                      pl.col(THROTTLE_SOURCE).cast(pl.String))
    )


__all__ = [
    "CORNER_ACCY_G",
    "FULL_THROTTLE_PCT",
    "TELEMETRY_FEATURES",
    "TELEMETRY_LAP_KEYS",
    "aggregate_telemetry",
]
