"""Tire degradation per stint: lap time lost per lap of tire age, with uncertainty.

Within a stint a car's green laps get slower as its tires wear and faster as its fuel
burns, and both move one step per lap, so a stint alone cannot tell them apart. Fuel
burned per lap grows with the lap's length, the tires' wear does not; across tracks of
different lengths the two separate. ``fit`` regresses every training stint's green laps
(within the stint) on tire age and on fuel-equivalent laps x track length, which gives
the fuel-mass trend per km of fuel-laps; a stint's slope is then the robust (Huber)
slope of its lap times, corrected for that trend, on tire age.

One stint of 10 to 25 noisy laps gives a slope with a standard error about as large as
the spread between drivers, so each stint's slope is shrunk towards a prior: the
track's mean corrected slope adjusted for track temperature (robust ridge), with a set
spread between drivers and the stints' noise scaled to the spread seen in training.
The result is the posterior slope and its standard error; the expected loss at tire age ``k`` is
slope x k, with the interval scaled the same way.

That standard error leaves out the error of the prior mean and the correlation of
consecutive laps, so on its own the P10-P90 loss interval is far too narrow. When the
training rows carry the simulator's true loss, ``fit`` calibrates it: training races are
split into folds (within each track, so every fold model still knows the track), each
fold's stints are predicted by a model fitted on the other races, and the split-conformal
quantile of their normalised loss errors becomes a factor on the standard error.

The baseline is the track's mean slope of lap time on tire age in training, as read
straight off the timing, without separating fuel from tires.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import polars as pl

from cognirace.domain.formats import FLAG_CAUTION
from cognirace.models.artifacts import ModelState
from cognirace.models.base import Model
from cognirace.models.lgbm import FloatArray
from cognirace.models.schema import ColumnSpec
from cognirace.models.task import Task, truth_by_car
from cognirace.models.tire_stats import (
    FCY_FUEL_SHARE,
    TRACK_ORDER,
    conformal_factor,
    fit_prior,
    fuel_trend,
    per_stint_slopes,
    prior_design,
    race_folds,
    shrink,
    track_lengths,
)

__all__ = ["OUTPUTS", "STINT_KEYS", "TASK", "TireDegradationModel", "TrackMeanSlopeBaseline",
           "score_tire", "tire_rows"]

STINT_KEYS: tuple[str, ...] = ("race_id", "vehicle_id", "stint")
Z80 = 1.2815515655446004
"""Standard normal quantile of 0.9: P10-P90 is slope ± Z80 x standard error."""
COVERAGE = 0.8
"""Share of held-out true losses the calibrated P10-P90 interval is meant to cover."""


_LAPS = "List(Float64)"
INPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("track", "String", "track key (`barber`)"),
    ColumnSpec("track_temp_c", "Float64", "mean track temperature over the stint (may be null)",
               "degC", -20.0, 80.0),
    ColumnSpec("lap_times_s", _LAPS, "the stint's green lap times, in lap order", "s"),
    ColumnSpec("tire_ages_laps", _LAPS, "tire age at each of those laps", "laps"),
    ColumnSpec("fuel_laps", _LAPS,
               "fuel-equivalent laps run since the start at each of those laps (green 1, "
               f"full-course yellow {FCY_FUEL_SHARE})", "laps"),
    ColumnSpec("horizon_age_laps", "Float64", "tire age at which to give the expected loss",
               "laps", 0.0, 200.0),
)
"""One stint of green laps, as timing gives them."""

_DEG = (-0.5, 1.0)
OUTPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("deg_s_per_lap", "Float64", "lap time lost per lap of tire age (posterior mean)",
               "s/lap", *_DEG),
    ColumnSpec("deg_se_s_per_lap", "Float64", "standard error of that slope", "s/lap", 0.0, 1.0),
    ColumnSpec("loss_p10_s", "Float64", "P10 of the lap-time loss at the horizon age", "s",
               -100.0, 200.0),
    ColumnSpec("loss_p50_s", "Float64", "expected lap-time loss at the horizon age (slope x k)",
               "s", -100.0, 200.0),
    ColumnSpec("loss_p90_s", "Float64", "P90 of the lap-time loss at the horizon age", "s",
               -100.0, 200.0),
)
KEYS: tuple[str, ...] = ("race_id", "vehicle_id", "car_number", "stint")


def _outputs(slope: FloatArray, se: FloatArray, horizon: FloatArray) -> pl.DataFrame:
    """The output frame from slopes and their standard errors (s/lap) and ages (laps)."""
    return pl.DataFrame({
        "deg_s_per_lap": slope, "deg_se_s_per_lap": se,
        "loss_p10_s": (slope - Z80 * se) * horizon, "loss_p50_s": slope * horizon,
        "loss_p90_s": (slope + Z80 * se) * horizon,
    }).cast(pl.Float64)


class TireDegradationModel(Model):
    """Fuel-corrected robust stint slope, shrunk towards a track and temperature prior.

    Args:
        huber_k: Huber threshold in robust standard deviations; laps with driver errors
            or traffic beyond it count less in a stint's slope.
        ridge: Penalty on the prior's track offsets from the overall mean, so a track
            with few stints stays near the others (in units of stint weight).
        tau_s_per_lap: Spread of the wear rate between drivers at one track and
            temperature, s/lap. One stint cannot separate it from slowly varying traffic
            noise, so it is set (not fitted); the default is about a fifth of a typical
            0.035 s/lap.
        min_se_s_per_lap: Floor of a stint's slope standard error, s/lap, so a stint
            that happens to fit a line perfectly does not override the prior.
        calibration_folds: Folds of training races for calibrating the interval; each
            stint's normalised loss error comes from a model that did not see its race.
        calibration_repeats: Independent fold draws pooled, so the factor depends less
            on which races happen to share a fold.
        seed: Seed of the fold draws.
    """

    kind = "tire"
    kind_version = "2"
    inputs = INPUTS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    def __init__(self, *, huber_k: float = 1.5, ridge: float = 20.0,
                 tau_s_per_lap: float = 0.006, min_se_s_per_lap: float = 0.004,
                 calibration_folds: int = 6, calibration_repeats: int = 4,
                 seed: int = 0) -> None:
        self.huber_k = huber_k
        self.ridge = ridge
        self.tau_s_per_lap = tau_s_per_lap
        self.min_se_s_per_lap = min_se_s_per_lap
        self.calibration_folds = calibration_folds
        self.calibration_repeats = calibration_repeats
        self.seed = seed

    def _fit(self, frame: pl.DataFrame) -> None:
        self._fit_slopes(frame)
        self.interval_factor_, self.n_calibration_ = 1.0, 0
        if ("true_loss_s" in frame.columns and "race_id" in frame.columns
                and frame.get_column("race_id").n_unique() >= 2):
            self._calibrate(frame)

    def _fit_slopes(self, frame: pl.DataFrame) -> None:
        """Fit the fuel trend and the prior: everything the posterior slope needs."""
        self.fuel_s_per_km_lap_, self.pooled_deg_s_per_lap_ = fuel_trend(frame)
        slope, se = self._stint_slopes(frame)
        x = prior_design(frame, TRACK_ORDER)
        self.prior_coef_, self.se_factor_ = fit_prior(x, slope, se, self.ridge,
                                                        self.tau_s_per_lap)
        self.n_stints_ = frame.height

    def _calibrate(self, frame: pl.DataFrame) -> None:
        """Set ``interval_factor_`` from out-of-race normalised loss errors.

        The score of a stint is |true loss - P50| / (Z80 x standard error x horizon): the
        factor by which its uncalibrated half-width would have to grow to cover it.
        """
        rng = np.random.default_rng(self.seed)
        truth = frame.get_column("true_loss_s").to_numpy().astype(np.float64)
        scores: list[FloatArray] = []
        for _ in range(self.calibration_repeats):
            fold = race_folds(frame, self.calibration_folds, rng)
            for j in np.unique(fold):
                if (fold == j).all():
                    continue
                fold_model = TireDegradationModel(
                    huber_k=self.huber_k, ridge=self.ridge, tau_s_per_lap=self.tau_s_per_lap,
                    min_se_s_per_lap=self.min_se_s_per_lap)
                fold_model._fit_slopes(frame.filter(pl.Series(fold != j)))
                held = frame.filter(pl.Series(fold == j))
                post, post_se = fold_model._posterior(held)
                half = Z80 * post_se * held.get_column("horizon_age_laps").to_numpy()
                loss = post * held.get_column("horizon_age_laps").to_numpy()
                scores.append(np.abs(truth[fold == j] - loss) / np.maximum(half, 1e-12))
        pooled = np.concatenate(scores) if scores else np.empty(0)
        pooled = pooled[np.isfinite(pooled)]
        if pooled.size:
            self.interval_factor_ = conformal_factor(pooled, COVERAGE)
            self.n_calibration_ = int(pooled.size)

    def _stint_slopes(self, frame: pl.DataFrame) -> tuple[FloatArray, FloatArray]:
        """Per-stint corrected slopes and their standard errors (s/lap)."""
        fuel_per_lap = self.fuel_s_per_km_lap_ * track_lengths(frame.get_column("track"))
        slope, se = per_stint_slopes(frame, fuel_per_lap, self.huber_k)
        return slope, np.maximum(se, self.min_se_s_per_lap)

    def _posterior(self, frame: pl.DataFrame) -> tuple[FloatArray, FloatArray]:
        """Uncalibrated posterior slope and standard error of each stint (s/lap)."""
        slope, se = self._stint_slopes(frame)
        prior = prior_design(frame, TRACK_ORDER) @ self.prior_coef_
        return shrink(slope, self.se_factor_ * se, prior, self.tau_s_per_lap)

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        post, post_se = self._posterior(frame)
        return _outputs(post, self.interval_factor_ * post_se,
                        frame.get_column("horizon_age_laps").to_numpy())

    def _get_state(self) -> ModelState:
        return ModelState(values={
            "fuel_s_per_km_lap": self.fuel_s_per_km_lap_,
            "pooled_deg_s_per_lap": self.pooled_deg_s_per_lap_,
            "se_factor": self.se_factor_, "n_stints": self.n_stints_,
            "interval_factor": self.interval_factor_, "n_calibration": self.n_calibration_,
            "tracks": list(TRACK_ORDER)}, arrays={"prior_coef": self.prior_coef_})

    def _set_state(self, state: ModelState) -> None:
        v = state.values
        self.fuel_s_per_km_lap_ = float(v["fuel_s_per_km_lap"])
        self.pooled_deg_s_per_lap_ = float(v["pooled_deg_s_per_lap"])
        self.se_factor_, self.n_stints_ = float(v["se_factor"]), int(v["n_stints"])
        self.interval_factor_ = float(v["interval_factor"])
        self.n_calibration_ = int(v["n_calibration"])
        self.prior_coef_ = np.asarray(state.arrays["prior_coef"], dtype=np.float64)


class TrackMeanSlopeBaseline(Model):
    """Every stint degrades at its track's mean training slope of lap time on tire age.

    The slope is read off the timing as is (fuel burn included); its standard error is
    the spread of the track's stint slopes. An unknown track gets the overall mean.
    """

    kind = "tire_baseline"
    kind_version = "1"
    inputs = INPUTS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    def _fit(self, frame: pl.DataFrame) -> None:
        slope, _ = per_stint_slopes(frame, np.zeros(frame.height), huber_k=None)
        stats = pl.DataFrame({"track": frame.get_column("track"), "slope": slope}) \
            .group_by("track").agg(pl.col("slope").mean().alias("mean"),
                                   pl.col("slope").std().fill_null(0.0).alias("std"))
        self.track_slopes_ = {t: (float(m), float(s)) for t, m, s in stats.iter_rows()}
        self.overall_ = (float(np.mean(slope)), float(np.std(slope)))

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        pairs = [self.track_slopes_.get(t, self.overall_) for t in frame.get_column("track")]
        slope = np.array([p[0] for p in pairs], dtype=np.float64)
        se = np.array([p[1] for p in pairs], dtype=np.float64)
        return _outputs(slope, se, frame.get_column("horizon_age_laps").to_numpy())

    def _get_state(self) -> ModelState:
        return ModelState(values={"track_slopes": {t: list(v) for t, v in
                                                   self.track_slopes_.items()},
                                  "overall": list(self.overall_)})

    def _set_state(self, state: ModelState) -> None:
        v = state.values
        self.track_slopes_ = {str(t): (float(m), float(s)) for t, (m, s) in
                              v["track_slopes"].items()}
        self.overall_ = (float(v["overall"][0]), float(v["overall"][1]))


def tire_rows(features: pl.DataFrame, truth: Mapping[str, pl.DataFrame] | None = None, *,
              min_laps: int = 5, min_age_span: int = 4) -> pl.DataFrame:
    """One row per stint with at least ``min_laps`` green laps over ``min_age_span`` ages.

    Lap times and tire ages come from timing. With ``truth`` (simulated races) the rows
    also carry, for scoring only: ``true_deg_s_per_lap`` (the car's wear rate in the
    simulator, s/lap at 40 °C), ``true_slope_s_per_lap`` (slope of the simulator's tire
    term on tire age over the stint's laps, temperature included) and ``true_loss_s``
    (the tire term on the stint's last green lap, s).
    """
    laps = features.sort("race_id", "vehicle_id", "lap").with_columns(
        pl.when(pl.col("flag") == FLAG_CAUTION).then(FCY_FUEL_SHARE).otherwise(1.0)
        .cum_sum().over("race_id", "vehicle_id").alias("fuel_laps"))
    green = laps.filter(pl.col("green_lap"))
    if truth is not None and truth.get("laps") is not None and truth["laps"].height:
        green = green.join(truth_by_car(truth, "laps").select(
            "race_id", "car_number", pl.col("lap").cast(pl.Int32),
            pl.col("deg_s_per_lap").alias("_deg"), pl.col("tyre_s").alias("_tyre")),
            on=["race_id", "car_number", "lap"], how="left")
    rows = green.group_by(STINT_KEYS).agg(
        pl.first("track"), pl.first("car_number"), pl.col("track_temp_c").mean(),
        pl.col("lap_time_s").alias("lap_times_s"),
        pl.col("tire_age_laps").cast(pl.Float64).alias("tire_ages_laps"),
        pl.col("fuel_laps"), pl.col("tire_age_laps").last().cast(pl.Float64)
        .alias("horizon_age_laps"), pl.len().alias("n_laps"),
        (pl.col("tire_age_laps").max() - pl.col("tire_age_laps").min()).alias("_span"),
        *_truth_aggregates(green),
    ).filter((pl.col("n_laps") >= min_laps) & (pl.col("_span") >= min_age_span))
    return rows.drop("_span").sort(STINT_KEYS)


def _truth_aggregates(green: pl.DataFrame) -> list[pl.Expr]:
    """Per-stint truth columns for scoring, when the truth was joined."""
    if "_deg" not in green.columns:
        return []
    age = pl.col("tire_age_laps").cast(pl.Float64)
    slope = pl.cov(age, pl.col("_tyre")) / age.var()
    return [pl.col("_deg").mean().alias("true_deg_s_per_lap"),
            slope.alias("true_slope_s_per_lap"), pl.col("_tyre").last().alias("true_loss_s")]


def score_tire(rows: pl.DataFrame, predictions: pl.DataFrame) -> dict[str, float]:
    """MAE of the slope against the simulator's wear rate and its in-stint tire slope
    (s/lap), and MAE of the predicted loss at the stint's last green lap (s)."""
    pred = predictions.get_column("deg_s_per_lap").to_numpy()
    loss = predictions.get_column("loss_p50_s").to_numpy()
    low, high = (predictions.get_column(c).to_numpy() for c in ("loss_p10_s", "loss_p90_s"))
    true_loss = rows.get_column("true_loss_s").to_numpy()
    return {
        "slope_mae_s_per_lap": float(np.mean(np.abs(
            pred - rows.get_column("true_deg_s_per_lap").to_numpy()))),
        "slope_in_stint_mae_s_per_lap": float(np.mean(np.abs(
            pred - rows.get_column("true_slope_s_per_lap").to_numpy()))),
        "loss_mae_s": float(np.mean(np.abs(loss - true_loss))),
        "loss_coverage_p10_p90": float(np.mean((true_loss >= low) & (true_loss <= high))),
    }


TASK = Task(
    name="tire",
    title="Tire degradation per stint: s/lap of tire age and loss at age k",
    model=TireDegradationModel,
    baseline=TrackMeanSlopeBaseline,
    rows=tire_rows,
    score=score_tire,
    primary="slope_mae_s_per_lap",
    needs_truth=True,
    target_source="Inputs and slope fit from timing only (lap times, tire ages, flags). "
                  "The simulator's truth (wear rate deg_s_per_lap, tire term tyre_s) scores "
                  "the model and, through each training stint's true loss, sets one number: "
                  "the factor that widens the loss interval; it never moves a slope.",
    real_data_note="Works on real timing as is; without truth the rows simply lack the "
                   "scoring columns, so real data gives predictions but no measured error, "
                   "and the loss interval keeps its uncalibrated width.",
    limits=(
        "The fuel-mass trend is assumed proportional to lap length (one constant across "
        "tracks); a season at a single track cannot separate fuel from tires.",
        "Tire age counts laps run in the race only; laps run on the set before the race "
        "are unknown.",
        "Wear is taken as linear in age within a stint; no cliff.",
        "The simulator's deg_s_per_lap is the rate at 40 °C; the model estimates the "
        "rate at the stint's temperature, so part of its slope error is that difference.",
        "The loss interval is the posterior standard error times one factor, calibrated "
        "by race-held-out cross-fitting against the simulator's true loss (about 2.5 on the "
        "demo season, covering about 82% of a held-out season's true losses). Errors are "
        "shared by a track's stints (prior bias), so coverage varies by track and, on "
        "a few races, by several points; the factor is one number, not per track.",
        "Training without the simulator's truth (real timing) leaves the interval "
        "uncalibrated (factor 1), covering about half of the losses rather than 80%.",
    ),
)
