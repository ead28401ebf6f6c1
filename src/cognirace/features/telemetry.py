"""Per-lap telemetry aggregates: throttle, revs, braking, speeds and a fuel proxy.

``aggregate_telemetry`` turns samples (the lake's telemetry schema) into one row per
car and lap. The batch table runs it over a whole lake; the live builder runs it over
one finished lap's buffered samples, so both see the same numbers.

Samples belong to the lap in their ``lap`` column (repaired by ingest, and consistent
with the lap start and end times). Time integrals use the trapezoid rule between
consecutive samples of the same lap (sums and means in time order, so a lap gives the
same bits alone or among thousands), so the short stretch between a lap's last sample
and the next lap's first is not counted.
"""

from __future__ import annotations

import polars as pl

from cognirace.features.durations import ordered_mean, ordered_sum, seconds

FULL_THROTTLE_APS = 95.0
"""Pedal position (%) from which a sample counts as full throttle; the pedal of a car
flat out reads 97 to 100 %, so 95 % leaves room for sensor noise."""

CORNER_ACCY_G = 0.5
"""Lateral acceleration (g) from which a sample counts as cornering; straights stay
well under it, a GR86 mid-corner pulls 1 to 1.5 g."""

KPH_TO_MS = 1.0 / 3.6
PER_MINUTE = 1.0 / 60.0

LAP_KEYS = ("race_id", "vehicle_id", "lap")

TELEMETRY_FEATURES: tuple[str, ...] = (
    "n_samples", "full_throttle_frac", "mean_aps_pct", "mean_rpm", "brake_energy_bar_m",
    "max_speed_kph", "min_corner_speed_kph", "mean_apex_speed_kph", "fuel_proxy_krev",
)
"""Columns ``aggregate_telemetry`` adds to the lap keys, in table order."""


def _step(value: pl.Expr, dt_s: pl.Expr) -> pl.Expr:
    """Trapezoid area of ``value`` from each sample to the next one of the lap, units x s."""
    return (value + value.shift(-1).over(LAP_KEYS)) * 0.5 * dt_s


def _with_sample_terms(telemetry: pl.LazyFrame) -> pl.LazyFrame:
    """Sort by time within each lap; add corner and apex speeds and per-step integrals."""
    speed = pl.col("speed_kph")
    cornering = pl.col("accy_g").abs() >= CORNER_ACCY_G
    apex = (cornering & (speed < speed.shift(1).over(LAP_KEYS))
            & (speed <= speed.shift(-1).over(LAP_KEYS)))
    dt_s = seconds(pl.col("time").shift(-1).over(LAP_KEYS) - pl.col("time"))
    return (
        telemetry.sort(*LAP_KEYS, "time")
        .with_columns(
            _corner_speed=pl.when(cornering).then(speed),
            _apex_speed=pl.when(apex).then(speed),
            _brake_bar_m=_step(pl.col("pbrake_f") * speed * KPH_TO_MS, dt_s),
            _load_rev=_step(pl.col("aps") * 0.01 * pl.col("rpm") * PER_MINUTE, dt_s),
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
    aps = pl.col("aps")
    return (
        _with_sample_terms(telemetry)
        .group_by(*LAP_KEYS)
        .agg(
            n_samples=pl.len().cast(pl.Int32),
            full_throttle_frac=ordered_mean(pl.when(aps.is_not_null()).then(
                (aps >= FULL_THROTTLE_APS).cast(pl.Float64))),
            mean_aps_pct=ordered_mean(aps),
            mean_rpm=ordered_mean(pl.col("rpm")),
            brake_energy_bar_m=ordered_sum(pl.col("_brake_bar_m")),
            max_speed_kph=pl.col("speed_kph").max(),
            min_corner_speed_kph=pl.col("_corner_speed").min(),
            mean_apex_speed_kph=ordered_mean(pl.col("_apex_speed")),
            fuel_proxy_krev=ordered_sum(pl.col("_load_rev")) * 1e-3,
        )
        .with_columns(pl.col(TELEMETRY_FEATURES[1:]).cast(pl.Float64))
    )


__all__ = [
    "CORNER_ACCY_G",
    "FULL_THROTTLE_APS",
    "TELEMETRY_FEATURES",
    "aggregate_telemetry",
]
