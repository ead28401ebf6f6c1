"""The tire task's contract: what a stint forecast reads and writes, and how the
outputs follow from a slope, its error and a pace trend (shared by the model and its
baselines, so they answer in the same terms).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cognirace.models.lgbm import FloatArray
from cognirace.models.schema import ColumnSpec
from cognirace.models.tire_forecast import seen_age, seen_level
from cognirace.models.tire_stats import FCY_FUEL_SHARE, lap_scatter, predictive_scale

Z80 = 1.2815515655446004
"""Standard normal quantile of 0.9: P10-P90 is P50 ± Z80 x scale before calibration."""


_LAPS = "List(Float64)"
INPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("track", "String", "track key (`barber`); a track not seen in training gets "
               "the pooled trend of every track and the mean lap length", nullable=False),
    ColumnSpec("lap_times_s", _LAPS, "the stint's green lap times seen so far, in lap order",
               "s", nullable=False),
    ColumnSpec("tire_ages_laps", _LAPS, "tire age at each of those laps", "laps",
               nullable=False),
    ColumnSpec("fuel_laps", _LAPS,
               "fuel-equivalent laps run since the start at each of those laps (green 1, "
               f"full-course yellow {FCY_FUEL_SHARE})", "laps", nullable=False),
    ColumnSpec("horizon_age_laps", "Float64",
               "tire age of the lap ahead to give the loss for", "laps", 0.0, 200.0,
               nullable=False),
)
"""The green laps of a stint seen so far, as timing gives them."""

TARGETS: tuple[ColumnSpec, ...] = (
    ColumnSpec("ahead_lap_times_s", _LAPS,
               "the stint's green lap times after the laps seen, in lap order", "s"),
    ColumnSpec("ahead_tire_ages_laps", _LAPS, "tire age at each of those laps", "laps"),
    ColumnSpec("ahead_fuel_laps", _LAPS, "fuel-equivalent laps at each of those laps", "laps"),
)
"""The rest of each training stint: the label, and (for fitting) more laps per stint."""

_DEG = (-0.5, 1.0)
_LOSS = (-100.0, 200.0)
OUTPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("deg_s_per_lap", "Float64",
               "lap time lost per lap of tire age, fuel burn removed (posterior mean)",
               "s/lap", *_DEG),
    ColumnSpec("deg_se_s_per_lap", "Float64",
               "standard error of that slope (posterior; the error of the track prior itself "
               "is left out, the loss interval's calibration covers it)", "s/lap", 0.0, 1.0),
    ColumnSpec("pace_trend_s_per_lap", "Float64",
               "expected change of lap time per lap of the stint ahead: tire wear plus the "
               "(negative) fuel-burn gain of a green lap", "s/lap", -1.5, 1.5),
    ColumnSpec("pace_level_s", "Float64",
               "the seen laps' level, standing at their mean tire age (the model: a robust "
               "Huber mean of their lap times moved along the trend; the baseline: their "
               "median); a lap ahead is forecast at level + trend x (its age - that mean age)",
               "s", 0.0, 1000.0),
    ColumnSpec("loss_p10_s", "Float64",
               "P10 of one lap's time at the horizon age, minus the seen level", "s", *_LOSS),
    ColumnSpec("loss_p50_s", "Float64",
               "expected lap time at the horizon age minus the seen level: trend x (horizon "
               "age - seen mean age); negative when the car gets faster", "s", *_LOSS),
    ColumnSpec("loss_p90_s", "Float64",
               "P90 of one lap's time at the horizon age, minus the seen level", "s", *_LOSS),
)
KEYS: tuple[str, ...] = ("race_id", "vehicle_id", "car_number", "stint")


def forecast_outputs(frame: pl.DataFrame, deg: FloatArray, se: FloatArray,
                     trend: FloatArray, factor: float, level: FloatArray | None = None
                     ) -> pl.DataFrame:
    """The output frame from slopes, standard errors and trends (s/lap).

    Args:
        frame: The input stints (seen laps and horizon ages).
        deg: Tire slope per stint, s/lap.
        se: Standard error of the slope (and so of the trend), s/lap.
        trend: Pace trend per stint, s/lap.
        factor: The calibrated factor on the P10-P90 half-width (1 uncalibrated).
        level: The seen laps' level per stint (s); None for their median
            (``tire_forecast.seen_level``).
    """
    delta = frame.get_column("horizon_age_laps").to_numpy() - seen_age(frame)
    half = factor * Z80 * predictive_scale(lap_scatter(frame), n_seen(frame), se, delta)
    loss = trend * delta
    return pl.DataFrame({
        "deg_s_per_lap": deg, "deg_se_s_per_lap": se, "pace_trend_s_per_lap": trend,
        "pace_level_s": seen_level(frame) if level is None else level,
        "loss_p10_s": loss - half, "loss_p50_s": loss, "loss_p90_s": loss + half,
    }).cast(pl.Float64)


def n_seen(frame: pl.DataFrame) -> FloatArray:
    """Laps seen per stint."""
    return frame.select(pl.col("lap_times_s").list.len()).to_series().to_numpy() \
        .astype(np.float64)


__all__ = ["INPUTS", "KEYS", "OUTPUTS", "TARGETS", "Z80", "forecast_outputs", "n_seen"]
