"""The tire task's rows and scores: each stint split into laps seen and laps ahead.

A degradation estimate is only worth what it says about laps not yet run, so the task
is a forecast. Each stint's green laps, in lap order, are split once: the first part
(``SEEN_SHARE`` of them, at least ``MIN_SEEN_LAPS``) are the model's inputs, the rest
(at least ``MIN_AHEAD_LAPS``) are the label, their lap times straight from the timing.
A model never sees a lap it is scored on, and the label is never computed from the
inputs, so the same rows score a model on simulated and on real races alike.

The forecast of a lap ahead is the seen laps' level (the median of their lap times,
taken to stand at their mean tire age) plus the predicted pace trend (s per lap of
tire age) times the age difference. The primary metric is its mean absolute error over
every lap ahead. Simulated rows may also carry the simulator's truth, which adds
slope metrics; the task never needs it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from cognirace.domain.formats import FLAG_CAUTION
from cognirace.errors import DataError
from cognirace.models.lgbm import FloatArray
from cognirace.models.task import truth_by_car
from cognirace.models.tire_stats import FCY_FUEL_SHARE

CAR_KEYS: tuple[str, ...] = ("race_id", "car_number")
"""One car of one race: the timing car, as the lap feature table keys it (its
``vehicle_id`` is null when no logger recorded it, so it cannot tell such cars apart)."""
STINT_KEYS: tuple[str, ...] = (*CAR_KEYS, "stint")

SEEN_SHARE = 0.5
"""Share of a stint's green laps the model sees (rounded down): the first half."""
MIN_SEEN_LAPS = 5
"""Fewest green laps seen (laps): fewer give no usable slope of their own."""
MIN_AHEAD_LAPS = 3
"""Fewest green laps ahead to score (laps); with ``MIN_SEEN_LAPS`` a stint needs 8."""
MIN_SEEN_AGE_SPAN_LAPS = 4
"""Fewest laps of tire age the seen laps must span, so they can show a slope."""


def seen_lap_count(n_green: pl.Expr) -> pl.Expr:
    """Laps seen of a stint of ``n_green`` green laps: the split rule, in one place."""
    half = (n_green.cast(pl.Float64) * SEEN_SHARE).floor().cast(pl.UInt32)
    return pl.max_horizontal(half, pl.lit(MIN_SEEN_LAPS, pl.UInt32))


_GREEN_TIMED = pl.col("green_lap") & pl.col("lap_time_s").is_not_null()
"""The laps a stint forecast reads: green, with a lap time."""


def fuel_lap_share(flag: str | None) -> float:
    """Fuel-equivalent laps of one lap with this flag at the line: 1 green,
    ``FCY_FUEL_SHARE`` under a full-course yellow. ``with_fuel_laps`` sums these over a
    car's laps; a live stream adds them one lap at a time, to the same total."""
    return FCY_FUEL_SHARE if flag == FLAG_CAUTION else 1.0


def with_fuel_laps(features: pl.DataFrame) -> pl.DataFrame:
    """The lap feature rows sorted by car and lap, with ``fuel_laps``: fuel-equivalent
    laps run since the start, each lap counted by ``fuel_lap_share``, in lap order."""
    share = pl.when(pl.col("flag") == FLAG_CAUTION).then(FCY_FUEL_SHARE).otherwise(1.0)
    return features.sort(*CAR_KEYS, "lap") \
        .with_columns(share.cum_sum().over(CAR_KEYS).alias("fuel_laps"))


def stint_so_far(features: pl.DataFrame, horizon_laps: float, *, max_laps: int
                 ) -> pl.DataFrame:
    """The inputs of a forecast made as each lap ends: one row per car and lap.

    A live stream can only forecast from the car's current stint as it stands, so the
    row of lap ``L`` holds the green laps with a time of ``L``'s stint up to ``L``
    (the last ``max_laps`` of them, so the work per lap stays bounded), and
    ``horizon_age_laps`` is the tire age at ``L`` plus ``horizon_laps``. The lists are
    built as ``tire_rows`` builds its seen laps (same fuel-lap count, same green laps).
    A lap whose stint has no green lap yet has no row; ``n_seen_laps`` counts the laps
    listed.

    Args:
        features: The lap feature table (one race or many).
        horizon_laps: Laps ahead of the lap's tire age to give the loss for.
        max_laps: Most green laps a row lists (the stint's latest).
    """
    laps = with_fuel_laps(features)
    age = pl.col("tire_age_laps").cast(pl.Float64)
    green = laps.filter(_GREEN_TIMED).select(
        *STINT_KEYS, pl.col("lap").alias("_green"), "lap_time_s",
        age.alias("tire_ages_laps"), "fuel_laps")
    at = laps.select(*STINT_KEYS, "lap", "vehicle_id", "track",
                     (age + horizon_laps).alias("horizon_age_laps"))
    seen = at.join(green, on=list(STINT_KEYS)).filter(pl.col("_green") <= pl.col("lap")) \
        .sort(*CAR_KEYS, "lap", "_green")
    return seen.group_by(*CAR_KEYS, "lap", maintain_order=True).agg(
        pl.first("stint"), pl.first("vehicle_id"), pl.first("track"),
        pl.col("lap_time_s").tail(max_laps).alias("lap_times_s"),
        pl.col("tire_ages_laps").tail(max_laps), pl.col("fuel_laps").tail(max_laps),
        pl.first("horizon_age_laps"),
        pl.len().clip(upper_bound=max_laps).cast(pl.UInt32).alias("n_seen_laps"))


def tire_rows(features: pl.DataFrame, truth: Mapping[str, pl.DataFrame] | None = None
              ) -> pl.DataFrame:
    """One row per stint long enough to split into laps seen and laps ahead.

    Inputs, from the laps seen: ``lap_times_s``, ``tire_ages_laps``, ``fuel_laps``
    (fuel-equivalent laps since the start: green 1, full-course yellow
    ``FCY_FUEL_SHARE``) and ``horizon_age_laps`` (the tire age of the stint's last
    green lap). Label, from the laps ahead:
    ``ahead_lap_times_s`` and ``ahead_tire_ages_laps``. ``seen_lap`` and ``ahead_lap``
    list the lap numbers of each part. With ``truth`` (simulated races) the rows also
    carry, for scoring only: ``true_deg_s_per_lap`` (the car's wear rate in the
    simulator, s/lap at 40 °C), and over the laps ahead ``true_slope_s_per_lap`` (slope
    of the simulator's tire term on tire age) and ``true_trend_s_per_lap`` (slope of its
    tire plus fuel terms).

    Every timing car has rows, logged or not: the inputs and the label are lap times
    and tire ages from the timing. ``vehicle_id`` rides along (null for a car without
    logger data) for reading.
    """
    laps = with_fuel_laps(features)
    green = laps.filter(_GREEN_TIMED)
    if truth is not None and truth.get("laps") is not None and truth["laps"].height:
        green = green.join(truth_by_car(truth, "laps").select(
            "race_id", "car_number", pl.col("lap").cast(pl.Int32),
            pl.col("deg_s_per_lap").alias("_deg"), pl.col("tyre_s").alias("_tyre"),
            pl.col("fuel_s").alias("_fuel")),
            on=["race_id", "car_number", "lap"], how="left")
    in_stint = pl.int_range(pl.len()).over(STINT_KEYS)
    green = green.with_columns(
        (in_stint < seen_lap_count(pl.len().over(STINT_KEYS))).alias("_seen"))
    seen, ahead = pl.col("_seen"), ~pl.col("_seen")
    age = pl.col("tire_age_laps").cast(pl.Float64)
    rows = green.group_by(STINT_KEYS).agg(
        pl.first("vehicle_id"), pl.first("track"),
        pl.col("lap_time_s").filter(seen).alias("lap_times_s"),
        age.filter(seen).alias("tire_ages_laps"),
        pl.col("fuel_laps").filter(seen),
        age.filter(ahead).last().alias("horizon_age_laps"),
        pl.col("lap_time_s").filter(ahead).alias("ahead_lap_times_s"),
        age.filter(ahead).alias("ahead_tire_ages_laps"),
        pl.col("fuel_laps").filter(ahead).alias("ahead_fuel_laps"),
        pl.col("lap").filter(seen).alias("seen_lap"),
        pl.col("lap").filter(ahead).alias("ahead_lap"),
        pl.len().alias("n_laps"), seen.sum().alias("n_seen_laps"),
        ahead.sum().alias("n_ahead_laps"),
        (age.filter(seen).max() - age.filter(seen).min()).alias("_span"),
        *_truth_aggregates(green, ahead),
    ).filter((pl.col("n_ahead_laps") >= MIN_AHEAD_LAPS)
             & (pl.col("_span") >= MIN_SEEN_AGE_SPAN_LAPS))
    return rows.drop("_span").sort(STINT_KEYS)


def _truth_aggregates(green: pl.DataFrame, ahead: pl.Expr) -> list[pl.Expr]:
    """Per-stint truth columns for scoring, when the truth was joined."""
    if "_deg" not in green.columns:
        return []
    age = pl.col("tire_age_laps").cast(pl.Float64).filter(ahead)
    tyre = pl.col("_tyre").filter(ahead)
    both = (pl.col("_tyre") + pl.col("_fuel")).filter(ahead)
    return [pl.col("_deg").mean().alias("true_deg_s_per_lap"),
            (pl.cov(age, tyre) / age.var()).alias("true_slope_s_per_lap"),
            (pl.cov(age, both) / age.var()).alias("true_trend_s_per_lap")]


def check_seen_laps(frame: pl.DataFrame) -> None:
    """Refuse stints whose seen laps cannot anchor a forecast.

    A forecast starts from the seen laps' level, so a stint needs at least one seen lap,
    parallel lists and finite values; anything else would be answered with a made-up
    level.

    Raises:
        DataError: Names the first bad row and the fix.
    """
    lists = ("lap_times_s", "tire_ages_laps", "fuel_laps")
    lengths = frame.select(pl.col(c).list.len() for c in lists)
    finite = frame.select(pl.col(c).list.eval(pl.element().is_finite().fill_null(False))
                          .list.all() for c in lists)
    bad = ((lengths.get_column("lap_times_s") == 0)
           | (lengths.get_column("lap_times_s") != lengths.get_column("tire_ages_laps"))
           | (lengths.get_column("lap_times_s") != lengths.get_column("fuel_laps"))
           | ~finite.select(pl.all_horizontal(lists)).to_series())
    if bad.any():
        row = int(bad.arg_true()[0])
        raise DataError(f"tire stint in row {row} has no usable seen laps",
                        column="lap_times_s", value=frame.row(row, named=True)["lap_times_s"],
                        hint="give one finite lap time, tire age and fuel-lap count per "
                             "green lap seen, at least one lap")


def seen_level(frame: pl.DataFrame) -> FloatArray:
    """The seen laps' level (s): the median of their lap times.

    The median, not the mean, so one slow lap in traffic does not shift every lap of
    the forecast; it stands at the seen laps' mean tire age (``seen_age``).
    """
    return frame.select(pl.col("lap_times_s").list.median()).to_series() \
        .to_numpy().astype(np.float64)


def seen_age(frame: pl.DataFrame) -> FloatArray:
    """The seen laps' mean tire age (laps), where their level stands."""
    return frame.select(pl.col("tire_ages_laps").list.mean()).to_series() \
        .to_numpy().astype(np.float64)


def ahead_errors(rows: pl.DataFrame, level: FloatArray, trend: FloatArray) -> pl.DataFrame:
    """Each lap ahead's forecast error (s, observed minus forecast), one row per lap.

    The forecast is ``level + trend x (tire age - seen_age)``. Columns: ``_row`` (the
    stint's row), ``error_s``, ``delta_age_laps`` and ``last`` (the stint's last lap).
    """
    laps = pl.DataFrame({
        "_row": np.arange(rows.height), "_level": level, "_trend": trend,
        "_age0": seen_age(rows), "_times": rows.get_column("ahead_lap_times_s"),
        "_ages": rows.get_column("ahead_tire_ages_laps"),
    }).with_columns(pl.col("_times").list.len().alias("_n")) \
        .explode("_times", "_ages")
    delta = pl.col("_ages") - pl.col("_age0")
    return laps.select(
        "_row", (pl.col("_times") - pl.col("_level") - pl.col("_trend") * delta)
        .alias("error_s"), delta.alias("delta_age_laps"),
        (pl.int_range(pl.len()).over("_row") == pl.col("_n") - 1).alias("last"))


def _mean_abs(errors: pl.DataFrame) -> float:
    """Mean absolute ``error_s`` (s)."""
    return float(np.mean(np.abs(errors.get_column("error_s").to_numpy())))


def score_tire(rows: pl.DataFrame, predictions: pl.DataFrame) -> dict[str, float]:
    """Forecast errors of the laps ahead, and the simulator's slopes when rows carry them.

    ``forecast_mae_s`` (primary) pools every lap ahead of every stint; its reference
    ``zero_trend_mae_s`` forecasts every lap ahead at the seen level (no trend), and
    does not depend on the predictions. ``loss_coverage_p10_p90`` is the share of stints
    whose last lap ahead, minus the seen level, falls within the P10-P90 loss at the
    horizon age (the lap the rows' ``horizon_age_laps`` names). With truth: MAE (s/lap)
    of ``deg_s_per_lap`` against the wear rate and the tire slope ahead, and of
    ``pace_trend_s_per_lap`` against the slope of tire plus fuel terms ahead.
    """
    level = predictions.get_column("pace_level_s").to_numpy()
    trend = predictions.get_column("pace_trend_s_per_lap").to_numpy()
    zero = np.zeros(rows.height)
    change = ahead_errors(rows, level, zero).filter(pl.col("last")).sort("_row") \
        .get_column("error_s").to_numpy()
    low, high = (predictions.get_column(c).to_numpy() for c in ("loss_p10_s", "loss_p90_s"))
    metrics = {
        "forecast_mae_s": _mean_abs(ahead_errors(rows, level, trend)),
        "zero_trend_mae_s": _mean_abs(ahead_errors(rows, seen_level(rows), zero)),
        "loss_coverage_p10_p90": float(np.mean((change >= low) & (change <= high))),
    }
    truth = {"slope_mae_s_per_lap": ("deg_s_per_lap", "true_deg_s_per_lap"),
             "slope_in_stint_mae_s_per_lap": ("deg_s_per_lap", "true_slope_s_per_lap"),
             "trend_mae_s_per_lap": ("pace_trend_s_per_lap", "true_trend_s_per_lap")}
    for name, (predicted, true) in truth.items():
        if true in rows.columns:
            metrics[name] = float(np.nanmean(np.abs(
                predictions.get_column(predicted).to_numpy()
                - rows.get_column(true).to_numpy().astype(np.float64))))
    return metrics


def tire_parts(rows: pl.DataFrame, predictions: pl.DataFrame) -> pl.DataFrame:
    """``forecast_mae_s`` split by stint (see ``Task.parts``): the sum of the absolute
    errors of its laps ahead (s) and their number, so the pooled mean is the metric."""
    errors = ahead_errors(rows, predictions.get_column("pace_level_s").to_numpy(),
                          predictions.get_column("pace_trend_s_per_lap").to_numpy())
    per_stint = errors.group_by("_row").agg(pl.col("error_s").abs().sum().alias("num"),
                                             pl.col("error_s").is_not_null().sum()
                                             .cast(pl.Float64).alias("den"))
    return (pl.DataFrame({"_row": np.arange(rows.height),
                          "race_id": rows.get_column("race_id")})
            .join(per_stint, on="_row", how="left")
            .select("race_id", pl.col("num").fill_null(0.0), pl.col("den").fill_null(0.0)))


__all__ = ["CAR_KEYS", "MIN_AHEAD_LAPS", "MIN_SEEN_AGE_SPAN_LAPS", "MIN_SEEN_LAPS", "SEEN_SHARE",
           "STINT_KEYS", "ahead_errors", "check_seen_laps", "fuel_lap_share", "score_tire",
           "seen_age", "seen_lap_count", "seen_level", "stint_so_far", "tire_parts",
           "tire_rows", "with_fuel_laps"]
