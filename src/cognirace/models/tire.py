"""Tire degradation per stint, and the pace trend that forecasts the stint's laps ahead.

Within a stint a car's green laps get slower as its tires wear and faster as its fuel
burns, and both move one step per lap, so a stint alone cannot tell them apart. Fuel
burned per lap grows with the lap's length, the tires' wear does not; across tracks of
different lengths the two separate. ``fit`` regresses every training stint's green laps
(within the stint, all of them: the laps seen and the laps ahead) on tire age and on
fuel-equivalent laps x track length, which gives the fuel-mass trend per km of
fuel-laps; a stint's slope is then the robust (Huber) slope of its lap times, corrected
for that trend, on tire age.

A stint is forecast from its first laps only (``cognirace.models.tire_forecast``), and
their slope says little about the laps ahead: the field settling after a start,
traffic and battles move several laps together. So each stint's slope is shrunk towards
a prior: the track's pooled corrected slope in training, itself shrunk towards the
pooled slope of every track (``tire_stats.track_prior``; track temperature is left out,
see ``tire_stats.prior_design``), with a set spread between drivers; the seen slopes'
noise beyond their lap scatter is measured in training (their spread around the prior),
and usually leaves the prior nearly alone. The result is the posterior tire slope
(``deg_s_per_lap``) and its standard error.

The seen laps' level is their Huber mean, each lap moved along the trend to their mean
tire age (``tire_stats.huber_levels``): a lap lost in traffic pulls it a little, a spin
hardly at all, and it wastes fewer laps than the median. The pace trend of the laps
ahead is the posterior slope plus the fuel-burn gain of one green lap at the track,
applied from that level. The loss at a horizon age is the trend
times the age difference from the seen laps; its P10-P90 bounds one lap's time there
(lap-to-lap scatter, the level's error and the slope's together). That width is
calibrated from timing alone: training races are split into folds (within each track,
so every fold model still knows the track), each fold's stints are forecast by a model
fitted on the other races, and the split-conformal quantile of their normalised errors
at the horizon becomes a factor on the width.

The baseline (``tire_baseline``) is what a race engineer reads off the timing: the
track's pooled wear rate in the training races, fuel burn removed, plus the fuel gain of
a lap there, applied from the median of the seen laps. The model's prior is that rate
shrunk across tracks, and a stint's first laps move it little, so the two trends are
almost alike; the model's gain comes from its level, and its card says so.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import polars as pl

from cognirace.models.artifacts import ModelState
from cognirace.models.base import Model
from cognirace.models.lgbm import FloatArray
from cognirace.models.task import Task
from cognirace.models.tire_baseline import RawTrendBaseline, TrackMeanSlopeBaseline
from cognirace.models.tire_contract import (
    INPUTS,
    KEYS,
    OUTPUTS,
    TARGETS,
    Z80,
    forecast_outputs,
    n_seen,
)
from cognirace.models.tire_forecast import (
    MIN_AHEAD_LAPS,
    MIN_SEEN_LAPS,
    SEEN_SHARE,
    STINT_KEYS,
    ahead_errors,
    check_seen_laps,
    score_tire,
    seen_level,
    tire_parts,
    tire_rows,
)
from cognirace.models.tire_stats import (
    TRACK_ORDER,
    conformal_factor,
    fuel_trend,
    huber_levels,
    lap_scatter,
    per_stint_slopes,
    pooled_track_slopes,
    predictive_scale,
    prior_design,
    race_folds,
    shrink,
    slope_noise,
    track_lengths,
    track_prior,
    whole_stints,
)

__all__ = ["INPUTS", "OUTPUTS", "STINT_KEYS", "TARGETS", "TASK", "MedianLevelTireModel",
           "RawTrendBaseline", "TireDegradationModel", "TrackMeanSlopeBaseline", "score_tire",
           "tire_rows"]

COVERAGE = 0.8
"""Share of held-out stints' last laps ahead the calibrated P10-P90 loss is meant to cover."""


def _horizon_scores(frame: pl.DataFrame, se: FloatArray, trend: FloatArray,
                    level: FloatArray) -> FloatArray:
    """Each stint's |error| / (Z80 x predictive scale) at its last lap ahead: the factor
    by which its uncalibrated P10-P90 half-width would have to grow to cover that lap."""
    last = ahead_errors(frame, level, trend).filter(pl.col("last"))
    row = last.get_column("_row").to_numpy()
    scale = predictive_scale(lap_scatter(frame)[row], n_seen(frame)[row], se[row],
                             last.get_column("delta_age_laps").to_numpy())
    errors = np.abs(last.get_column("error_s").to_numpy())
    return np.asarray(errors / (Z80 * scale), dtype=np.float64)


class TireDegradationModel(Model):
    """Fuel-corrected robust stint slope, shrunk towards its track's prior.

    Args:
        huber_k: Huber threshold in robust standard deviations; laps with driver errors
            or traffic beyond it count less in a stint's slope.
        ridge: Shrinkage of a track's prior towards the pooled slope of every track, in
            stints: a track with ``n`` training stints keeps ``n / (n + ridge)`` of its
            own offset (``tire_stats.track_prior``).
        tau_s_per_lap: Spread of the wear rate between drivers at one track, s/lap. One
            stint cannot separate it from slowly varying traffic noise, so it is set
            (not fitted); the default is about a fifth of a typical 0.035 s/lap.
        min_se_s_per_lap: Floor of a stint's slope standard error, s/lap, so a stint
            that happens to fit a line perfectly does not override the prior.
        level_huber_k: Huber threshold of the seen level in robust standard deviations
            (``tire_stats.huber_levels``); None takes the seen laps' median, as the
            baseline does.
        calibration_folds: Folds of training races for calibrating the interval; each
            stint's errors ahead come from a model that did not see its race.
        calibration_repeats: Independent fold draws pooled, so the factor depends less
            on which races happen to share a fold.
        seed: Seed of the fold draws.
    """

    kind = "tire"
    kind_version = "4"  # seen level: Huber mean along the trend
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    def __init__(self, *, huber_k: float = 1.5, ridge: float = 20.0,
                 tau_s_per_lap: float = 0.006, min_se_s_per_lap: float = 0.004,
                 level_huber_k: float | None = 1.0, calibration_folds: int = 6,
                 calibration_repeats: int = 4, seed: int = 0) -> None:
        self.huber_k = huber_k
        self.ridge = ridge
        self.tau_s_per_lap = tau_s_per_lap
        self.min_se_s_per_lap = min_se_s_per_lap
        self.level_huber_k = level_huber_k
        self.calibration_folds = calibration_folds
        self.calibration_repeats = calibration_repeats
        self.seed = seed

    def _fit(self, frame: pl.DataFrame) -> None:
        check_seen_laps(frame)
        self._fit_slopes(frame)
        self.interval_factor_, self.n_calibration_ = 1.0, 0
        if "race_id" in frame.columns and frame.get_column("race_id").n_unique() >= 2:
            self._calibrate(frame)

    def _fit_slopes(self, frame: pl.DataFrame) -> None:
        """Fit the fuel trend and the prior: everything the posterior slope needs."""
        whole = whole_stints(frame)
        self.fuel_s_per_km_lap_, self.pooled_deg_s_per_lap_ = fuel_trend(whole)
        slopes = pooled_track_slopes(whole, self.fuel_s_per_km_lap_)
        x = prior_design(frame, TRACK_ORDER)
        self.prior_coef_ = track_prior(frame, slopes, self.ridge)
        slope, se = self._stint_slopes(frame)
        self.slope_noise_s_per_lap_ = slope_noise(slope - x @ self.prior_coef_, se,
                                                  self.tau_s_per_lap)
        self.n_stints_ = frame.height

    def _calibrate(self, frame: pl.DataFrame) -> None:
        """Set ``interval_factor_`` from out-of-race forecast errors at the horizon.

        Each held-out stint is scored at its last lap ahead, the lap its rows' horizon
        age names (``_horizon_scores``); the factor is their split-conformal quantile.
        """
        rng = np.random.default_rng(self.seed)
        scores: list[FloatArray] = []
        for _ in range(self.calibration_repeats):
            fold = race_folds(frame, self.calibration_folds, rng)
            for j in np.unique(fold):
                if (fold == j).all():
                    continue
                fold_model = TireDegradationModel(
                    huber_k=self.huber_k, ridge=self.ridge, tau_s_per_lap=self.tau_s_per_lap,
                    min_se_s_per_lap=self.min_se_s_per_lap, level_huber_k=self.level_huber_k)
                fold_model._fit_slopes(frame.filter(pl.Series(fold != j)))
                held = frame.filter(pl.Series(fold == j))
                _, post_se, trend = fold_model._forecast(held)
                scores.append(_horizon_scores(held, post_se, trend,
                                              self._level(held, trend)))
        pooled = np.concatenate(scores) if scores else np.empty(0)
        pooled = pooled[np.isfinite(pooled)]
        if pooled.size:
            self.interval_factor_ = conformal_factor(pooled, COVERAGE)
            self.n_calibration_ = int(pooled.size)

    def _stint_slopes(self, frame: pl.DataFrame) -> tuple[FloatArray, FloatArray]:
        """Per-stint corrected slopes and their standard errors (s/lap)."""
        slope, se = per_stint_slopes(frame, self._fuel_per_lap(frame), self.huber_k)
        return slope, np.maximum(se, self.min_se_s_per_lap)

    def _fuel_per_lap(self, frame: pl.DataFrame) -> FloatArray:
        """Lap time change per green lap of fuel burned at each stint's track (s/lap)."""
        return self.fuel_s_per_km_lap_ * track_lengths(frame.get_column("track"))

    def _forecast(self, frame: pl.DataFrame) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Uncalibrated posterior slope, its standard error and the pace trend (s/lap)."""
        slope, se = self._stint_slopes(frame)
        prior = prior_design(frame, TRACK_ORDER) @ self.prior_coef_
        noisy = np.sqrt(se**2 + self.slope_noise_s_per_lap_**2)
        post, post_se = shrink(slope, noisy, prior, self.tau_s_per_lap)
        return post, post_se, post + self._fuel_per_lap(frame)

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        check_seen_laps(frame)
        post, post_se, trend = self._forecast(frame)
        return forecast_outputs(frame, post, post_se, trend, self.interval_factor_,
                                self._level(frame, trend))

    def _level(self, frame: pl.DataFrame, trend: FloatArray) -> FloatArray:
        """The seen laps' level per stint (s): Huber mean along the trend, or median."""
        if self.level_huber_k is None:
            return seen_level(frame)
        return huber_levels(frame, trend, self.level_huber_k)

    def _get_state(self) -> ModelState:
        return ModelState(values={
            "fuel_s_per_km_lap": self.fuel_s_per_km_lap_,
            "pooled_deg_s_per_lap": self.pooled_deg_s_per_lap_,
            "slope_noise_s_per_lap": self.slope_noise_s_per_lap_, "n_stints": self.n_stints_,
            "interval_factor": self.interval_factor_, "n_calibration": self.n_calibration_,
            "tracks": list(TRACK_ORDER)},
            arrays={"prior_coef": self.prior_coef_})

    def _set_state(self, state: ModelState) -> None:
        v = state.values
        self.fuel_s_per_km_lap_ = float(v["fuel_s_per_km_lap"])
        self.pooled_deg_s_per_lap_ = float(v["pooled_deg_s_per_lap"])
        self.slope_noise_s_per_lap_ = float(v["slope_noise_s_per_lap"])
        self.n_stints_ = int(v["n_stints"])
        self.interval_factor_ = float(v["interval_factor"])
        self.n_calibration_ = int(v["n_calibration"])
        self.prior_coef_ = np.asarray(state.arrays["prior_coef"], dtype=np.float64)


class MedianLevelTireModel(TireDegradationModel):
    """The model with the baseline's seen level (the median of the seen laps): an
    ablation, scored beside the model so its card says what the Huber level adds."""

    def __init__(self, *, huber_k: float = 1.5, ridge: float = 20.0,
                 tau_s_per_lap: float = 0.006, min_se_s_per_lap: float = 0.004,
                 level_huber_k: float | None = None, calibration_folds: int = 6,
                 calibration_repeats: int = 4, seed: int = 0) -> None:
        super().__init__(huber_k=huber_k, ridge=ridge, tau_s_per_lap=tau_s_per_lap,
                         min_se_s_per_lap=min_se_s_per_lap, level_huber_k=level_huber_k,
                         calibration_folds=calibration_folds,
                         calibration_repeats=calibration_repeats, seed=seed)


TASK = Task(
    name="tire",
    title="Tire degradation per stint, and the forecast of the stint's laps ahead",
    model=TireDegradationModel,
    baseline=TrackMeanSlopeBaseline,
    rows=tire_rows,
    score=score_tire,
    parts=tire_parts,
    ablations={"with the median level": MedianLevelTireModel},
    primary="forecast_mae_s",
    needs_truth=False,
    target_source=(
        f"Timing only. Each stint's green laps are split: the first {SEEN_SHARE:.0%} (at "
        f"least {MIN_SEEN_LAPS}) are the inputs, the rest (at least {MIN_AHEAD_LAPS}) the "
        "label, their lap times as timed. forecast_mae_s is the mean absolute error of "
        "the forecast of those laps ahead (seen level + pace trend x age difference). "
        "The loss interval is calibrated on training races' laps ahead, also timing only. "
        "Rows built with the simulator's truth (tire_rows(features, truth)) also get slope "
        "metrics against the true wear rate; truth never trains or calibrates anything, "
        "and `cognirace train` passes truth only to tasks that need it, so its tables "
        "show none."),
    real_data_note=(
        "Trains, calibrates and is scored on real timing as is: the primary metric and the "
        "interval coverage need nothing but lap times, tire ages and flags. Without truth "
        "only the slope metrics against the simulator's wear rate are missing."),
    limits=(
        "Against the fair baseline (the track's pooled fuel-corrected wear rate from the "
        "same training races) the per-stint wear estimate adds nothing: a stint's first "
        "laps are too few and too noisy to move the track's prior, so deg_s_per_lap is "
        "about as good as the baseline's (slope_mae_s_per_lap). The model's gain on "
        "forecast_mae_s, about 0.01 s a lap, comes from its seen level (a Huber mean "
        "along the trend instead of the median); the ablation 'with the median level' "
        "shows the model without it, within a few thousandths of a second of the "
        "baseline.",
        "The forecast is scored on green laps only: laps ahead under yellow, and stints "
        "ended early by a stop, are not forecast.",
        "The fuel-mass trend is assumed proportional to lap length (one constant across "
        "tracks); a season at a single track, or at a few, cannot separate fuel from tires. "
        "It is held at most 0: on the 14 real races the free fit comes out positive "
        "(within-stint trends differ by track for other reasons), so there the model "
        "puts the whole trend on the tires and deg_s_per_lap is not a pure wear rate.",
        "A stint's trend ahead is its track's trend in training races: a real race's own "
        "conditions (a drying or rubbering track, the field settling after a start) change "
        "it from race to race at the same track, and its seen laps tell too little to "
        "follow; on the real races neither the model nor the baseline forecasts better "
        "than no trend (zero_trend_mae_s) with a track held out.",
        "Tire age counts laps run in the race only; laps run on the set before the race "
        "are unknown.",
        "Wear is taken as linear in age within a stint; no cliff.",
        "Track temperature is not an input (so a missing one is never filled): across "
        "tracks it cannot be told from the tracks themselves, and a track's races differ "
        "by too few degrees to measure it.",
        "A track not seen in training gets the prior's overall wear rate and the mean lap "
        "length for the fuel gain.",
        "Lap-to-lap scatter (traffic, mistakes) is most of a lap's forecast error, so "
        "forecast_mae_s separates a good trend from a poor one only over many laps; the "
        "simulator's slope metrics show the trend itself.",
        "The loss interval bounds one lap's time; its width is one calibrated factor, not "
        "per track, and errors shared by a track's stints move its coverage by track.",
    ),
)
