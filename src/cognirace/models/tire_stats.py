"""The statistics behind the tire degradation model: fuel trend, robust stint slopes,
the track prior, shrinkage, and the folds and quantile that calibrate its interval.

Pure functions on arrays and frames, kept apart from the model class so each can be
tested on hand-made numbers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.domain.tracks import TRACKS
from cognirace.errors import DataError
from cognirace.models.lgbm import FloatArray
from cognirace.models.per_track import MEAN_TRACK_LENGTH_KM, TRACK_LENGTH_KM, per_track

FCY_FUEL_SHARE = 0.5
"""Fuel burned on a full-course-yellow lap relative to a green lap (about half)."""


def track_lengths(tracks: pl.Series) -> FloatArray:
    """Lap length of each row's track (km); an unknown track gets the mean length."""
    return per_track(TRACK_LENGTH_KM, tracks, MEAN_TRACK_LENGTH_KM)


def stint_laps(frame: pl.DataFrame) -> pl.DataFrame:
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
    laps = stint_laps(frame).drop_nulls()
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


def fit_prior(x: FloatArray, slope: FloatArray, se: FloatArray, ridge: float,
               tau: float) -> tuple[FloatArray, float]:
    """Weighted ridge fit of stint slopes on the prior design, and the stints' noise factor.

    The fit gives every stint the same weight, Huber-downweighting stints beyond two
    robust spreads: a stint's real error is not its lap scatter (traffic and battles
    move several consecutive laps together), so the stints' own errors are poor weights.
    The factor (>= 1) scales every stint's standard error so that, with the
    between-driver spread ``tau`` (s/lap), the robust spread of the slopes around the
    prior is explained. The intercept (first column) and temperature (last column) are
    not penalised, so a season without a track temperature (tracks whose timing writes
    0, "not measured") leaves the temperature column all zeros; the least-squares
    solution of minimum norm then gives it no effect instead of failing on a singular
    system, and is the exact solution whenever the system is regular.
    """
    usable = np.isfinite(slope) & np.isfinite(se)
    x, slope, se = x[usable], slope[usable], se[usable]
    penalty = np.full(x.shape[1], ridge)
    penalty[[0, -1]] = 0.0
    w = np.ones(slope.size)
    for _ in range(4):
        coef = np.asarray(np.linalg.lstsq((x.T * w) @ x + np.diag(penalty),
                                          (x.T * w) @ slope, rcond=None)[0], dtype=np.float64)
        resid = slope - x @ coef
        spread = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
        w = np.minimum(1.0, 2.0 * spread / np.maximum(np.abs(resid), 1e-12))
    factor = float(np.sqrt(max(spread**2 - tau**2, 0.0) / float(np.median(se**2))))
    return coef, max(factor, 1.0)


__all__ = [
    "FCY_FUEL_SHARE",
    "TRACK_ORDER",
    "conformal_factor",
    "fit_prior",
    "fuel_trend",
    "huber_slope",
    "per_stint_slopes",
    "prior_design",
    "race_folds",
    "shrink",
    "stint_laps",
    "track_lengths",
]
