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
import numpy.typing as npt
import polars as pl

from cognirace.domain.tracks import TRACKS
from cognirace.errors import DataError
from cognirace.models.artifacts import ModelState
from cognirace.models.base import Model
from cognirace.models.lgbm import FloatArray
from cognirace.models.schema import ColumnSpec
from cognirace.models.task import Task

__all__ = ["OUTPUTS", "STINT_KEYS", "TASK", "TireDegradationModel", "TrackMeanSlopeBaseline",
           "score_tire", "tire_rows"]

FCY_FUEL_SHARE = 0.5
"""Fuel burned on a full-course-yellow lap relative to a green lap (about half)."""

STINT_KEYS: tuple[str, ...] = ("race_id", "vehicle_id", "stint")
Z80 = 1.2815515655446004
"""Standard normal quantile of 0.9: P10-P90 is slope ± Z80 x standard error."""
COVERAGE = 0.8
"""Share of held-out true losses the calibrated P10-P90 interval is meant to cover."""


def track_lengths(tracks: pl.Series) -> FloatArray:
    """Lap length of each row's track (km); an unknown track gets the mean length."""
    mean = float(np.mean([t.length_km for t in TRACKS.values()]))
    lookup = {key: t.length_km for key, t in TRACKS.items()}
    return np.array([lookup.get(t, mean) for t in tracks.to_list()], dtype=np.float64)


def _stint_laps(frame: pl.DataFrame) -> pl.DataFrame:
    """The stints' laps, one row each, with values centred within the stint."""
    laps = frame.select(
        pl.int_range(pl.len()).alias("_stint"), "lap_times_s", "tire_ages_laps", "fuel_laps",
        pl.Series("_km", track_lengths(frame.get_column("track"))),
    ).explode("lap_times_s", "tire_ages_laps", "fuel_laps")
    centred = [(pl.col(c) - pl.col(c).mean().over("_stint")) for c in
               ("lap_times_s", "tire_ages_laps")]
    fuel_km = pl.col("fuel_laps") * pl.col("_km")
    return laps.select(*centred, (fuel_km - fuel_km.mean().over("_stint")).alias("fuel_km"))


def fuel_trend(frame: pl.DataFrame, *, n_iter: int = 4, trim: float = 2.5
               ) -> tuple[float, float]:
    """The fuel-mass trend per km of fuel-equivalent laps (s), and the pooled tire slope.

    Least squares of every stint's centred lap times on centred tire age and centred
    fuel-laps x track length, refitted ``n_iter`` times without laps beyond ``trim``
    robust standard deviations (driver errors, traffic). Returns ``(s per km-lap, s/lap)``;
    the first is negative, as burning fuel makes laps faster.
    """
    laps = _stint_laps(frame).drop_nulls()
    x = laps.select("tire_ages_laps", "fuel_km").to_numpy().astype(np.float64)
    y = laps.get_column("lap_times_s").to_numpy()
    keep = np.ones(y.size, dtype=bool)
    coef = np.zeros(2)
    for _ in range(n_iter):
        coef = np.linalg.lstsq(x[keep], y[keep], rcond=None)[0]
        resid = y - x @ coef
        keep = np.abs(resid) <= trim * 1.4826 * float(np.median(np.abs(resid[keep])))
    return float(coef[1]), float(coef[0])


def huber_slope(age: FloatArray, y: FloatArray, k: float | None) -> tuple[float, float]:
    """Slope of ``y`` on ``age`` and its standard error, Huber-weighted when ``k`` is set.

    Iteratively reweighted least squares with a MAD scale; laps beyond ``k`` robust
    standard deviations get weight ``k / |r|``. NaN slope and infinite error when the
    stint has fewer than two distinct ages.
    """
    if age.size < 3 or np.ptp(age) == 0:
        return float("nan"), float("inf")
    w = np.ones(age.size)
    for _ in range(6 if k is not None else 1):
        am, ym = np.average(age, weights=w), np.average(y, weights=w)
        slope = float(np.sum(w * (age - am) * (y - ym)) / np.sum(w * (age - am) ** 2))
        resid = y - ym - slope * (age - am)
        scale = max(1.4826 * float(np.median(np.abs(resid))), 1e-6)
        if k is not None:
            w = np.minimum(1.0, k * scale / np.maximum(np.abs(resid), 1e-12))
    sxx = float(np.sum((age - age.mean()) ** 2))
    return slope, scale / np.sqrt(sxx) * np.sqrt(age.size / max(age.size - 2, 1))


def per_stint_slopes(frame: pl.DataFrame, fuel_per_lap: FloatArray, huber_k: float | None
                     ) -> tuple[FloatArray, FloatArray]:
    """Each stint's slope of fuel-corrected lap time on tire age, and its error (s/lap).

    Args:
        frame: Stint rows (``lap_times_s``, ``tire_ages_laps``, ``fuel_laps`` lists).
        fuel_per_lap: Per stint, lap time change per fuel-equivalent lap (s, negative).
        huber_k: Huber threshold, None for plain least squares.
    """
    out = np.empty((frame.height, 2))
    columns = zip(frame.get_column("lap_times_s").to_list(),
                  frame.get_column("tire_ages_laps").to_list(),
                  frame.get_column("fuel_laps").to_list(), strict=True)
    for i, (times, ages, fuel) in enumerate(columns):
        y = np.asarray(times, dtype=np.float64) - fuel_per_lap[i] * np.asarray(fuel, float)
        out[i] = huber_slope(np.asarray(ages, dtype=np.float64), y, huber_k)
    return out[:, 0], out[:, 1]


def prior_design(frame: pl.DataFrame, tracks: tuple[str, ...]) -> FloatArray:
    """Prior columns: intercept, one indicator per known track, track temperature - 40 °C.

    A missing temperature counts as 40 °C, the middle of the training range.
    """
    names = frame.get_column("track").to_numpy()
    onehot = (names[:, None] == np.array(tracks)[None, :]).astype(np.float64)
    temp = frame.get_column("track_temp_c").fill_null(40.0).fill_nan(40.0).to_numpy() - 40.0
    return np.column_stack([np.ones(frame.height), onehot, temp])


def shrink(slope: FloatArray, se: FloatArray, prior: FloatArray, tau: float
           ) -> tuple[FloatArray, FloatArray]:
    """Posterior slope and standard error of a normal prior (mean, ``tau``) and a stint.

    A stint without a usable slope (NaN) keeps the prior.
    """
    usable = np.isfinite(slope) & np.isfinite(se)
    se2 = np.where(usable, se, 1.0) ** 2
    weight = np.where(usable, tau**2 / (tau**2 + se2), 0.0)
    post = prior + weight * (np.where(usable, slope, prior) - prior)
    return post, np.where(usable, np.sqrt(1.0 / (1.0 / tau**2 + 1.0 / se2)), tau)


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
        self.prior_coef_, self.se_factor_ = _fit_prior(x, slope, se, self.ridge,
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


TRACK_ORDER: tuple[str, ...] = tuple(sorted(TRACKS))
"""Tracks of the prior, in column order (an unknown track gets the overall mean)."""


def race_folds(frame: pl.DataFrame, n_folds: int, rng: np.random.Generator
               ) -> npt.NDArray[np.int64]:
    """Fold number of each stint: whole races, dealt out in random order within each track.

    Dealing within a track keeps every track in every fold's training part whenever the
    track has more than one race, as a new season's races are at known tracks.

    Raises:
        DataError: Fewer than two folds are asked for.
    """
    if n_folds < 2:
        raise DataError("interval calibration needs at least two folds of races",
                        value=n_folds, hint="set calibration_folds >= 2")
    races = frame.select("race_id", "track").unique(subset="race_id").sort("race_id")
    fold_of: dict[str, int] = {}
    for _, group in races.group_by("track", maintain_order=True):
        ids = group.get_column("race_id").to_list()
        start = int(rng.integers(n_folds))
        for i, race in enumerate(rng.permutation(len(ids))):
            fold_of[ids[int(race)]] = (start + i) % n_folds
    return np.array([fold_of[r] for r in frame.get_column("race_id").to_list()],
                    dtype=np.int64)


def conformal_factor(scores: FloatArray, coverage: float) -> float:
    """The split-conformal quantile: the ceil(``coverage`` x (n + 1))-th smallest score."""
    rank = min(scores.size, int(np.ceil(coverage * (scores.size + 1))))
    return float(np.sort(scores)[rank - 1])


def _fit_prior(x: FloatArray, slope: FloatArray, se: FloatArray, ridge: float,
               tau: float) -> tuple[FloatArray, float]:
    """Weighted ridge fit of stint slopes on the prior design, and the stints' noise factor.

    The fit gives every stint the same weight, Huber-downweighting stints beyond two
    robust spreads: a stint's real error is not its lap scatter (traffic and battles
    move several consecutive laps together), so the stints' own errors are poor weights.
    The factor (>= 1) scales every stint's standard error so that, with the
    between-driver spread ``tau`` (s/lap), the robust spread of the slopes around the
    prior is explained. The intercept (first column) and temperature (last column) are
    not penalised.
    """
    usable = np.isfinite(slope) & np.isfinite(se)
    x, slope, se = x[usable], slope[usable], se[usable]
    penalty = np.full(x.shape[1], ridge)
    penalty[[0, -1]] = 0.0
    w = np.ones(slope.size)
    for _ in range(4):
        coef = np.asarray(np.linalg.solve((x.T * w) @ x + np.diag(penalty), (x.T * w) @ slope),
                          dtype=np.float64)
        resid = slope - x @ coef
        spread = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
        w = np.minimum(1.0, 2.0 * spread / np.maximum(np.abs(resid), 1e-12))
    factor = float(np.sqrt(max(spread**2 - tau**2, 0.0) / float(np.median(se**2))))
    return coef, max(factor, 1.0)


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
        pl.when(pl.col("flag") == "FCY").then(FCY_FUEL_SHARE).otherwise(1.0)
        .cum_sum().over("race_id", "vehicle_id").alias("fuel_laps"))
    green = laps.filter(pl.col("green_lap"))
    if truth is not None and truth.get("laps") is not None and truth["laps"].height:
        green = green.join(truth["laps"].select(
            "race_id", pl.col("car_number").cast(pl.Int32), pl.col("lap").cast(pl.Int32),
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
