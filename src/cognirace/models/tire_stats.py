"""The statistics behind the tire degradation model: fuel trend, robust stint slopes
(every stint at once, on NaN-padded matrices), the track prior, shrinkage, lap scatter,
and the folds and quantile that calibrate its interval.

Pure functions on arrays and frames, kept apart from the model class so each can be
tested on hand-made numbers.
"""

from __future__ import annotations

from typing import Any

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
    robust standard deviations (driver errors, traffic). Returns ``(s per km-lap, s/lap)``.
    Burning fuel can only make laps faster, so the first is at most 0: a positive fit
    says the season's within-stint trends vary by track for other reasons (a drying or
    rubbering track, the field settling), and the bound then holds, the tire slope
    alone taking the trend.
    """
    laps = stint_laps(frame).drop_nulls()
    x = laps.select("tire_ages_laps", "fuel_km").to_numpy().astype(np.float64)
    y = laps.get_column("lap_times_s").to_numpy().astype(np.float64)
    coef = _trimmed_fit(x, y, n_iter, trim)
    if coef[1] > 0.0:
        return 0.0, float(_trimmed_fit(x[:, :1], y, n_iter, trim)[0])
    return float(coef[1]), float(coef[0])


def pooled_track_slopes(frame: pl.DataFrame, fuel_s_per_km_lap: float, *, n_iter: int = 4,
                        trim: float = 2.5) -> dict[str, float]:
    """Each track's pooled tire slope (s/lap), fuel burn removed, and ``""`` for all tracks.

    One trimmed least-squares line per track through every stint's lap times, centred
    within the stint and corrected by ``fuel_s_per_km_lap`` x fuel-laps x lap length, on
    centred tire age: the track's typical wear rate over its training stints (laps weigh
    alike, so long stints count for more). ``frame`` holds whole stints (see
    ``whole_stints``).
    """
    n_laps = frame.get_column("lap_times_s").list.len().to_numpy()
    tracks = np.repeat(frame.get_column("track").cast(pl.String).to_numpy(), n_laps)
    laps = stint_laps(frame).with_columns(pl.Series("_track", tracks))
    laps = laps.with_columns(
        (pl.col("lap_times_s") - fuel_s_per_km_lap * pl.col("fuel_km")).alias("_y")
    ).drop_nulls(["_y", "tire_ages_laps"])

    def slope(part: pl.DataFrame) -> float:
        x = part.select("tire_ages_laps").to_numpy().astype(np.float64)
        return float(_trimmed_fit(x, part.get_column("_y").to_numpy(), n_iter, trim)[0])

    slopes = {str(t[0]): slope(part) for t, part in laps.group_by("_track")}
    slopes[""] = slope(laps)
    return slopes


def _trimmed_fit(x: FloatArray, y: FloatArray, n_iter: int, trim: float) -> FloatArray:
    """Least squares of ``y`` on ``x``, refitted without points beyond ``trim`` robust
    standard deviations of the residuals."""
    keep = np.ones(y.size, dtype=bool)
    coef = np.zeros(x.shape[1])
    for _ in range(n_iter):
        coef = np.asarray(np.linalg.lstsq(x[keep], y[keep], rcond=None)[0], dtype=np.float64)
        resid = y - x @ coef
        keep = np.abs(resid) <= trim * 1.4826 * float(np.median(np.abs(resid[keep])))
    return coef


def padded(column: pl.Series) -> FloatArray:
    """A list column as a matrix, one row per list, NaN past each list's end (and for
    null items), so per-stint statistics run on every stint at once."""
    if column.len() <= _FEW_ROWS:
        return _padded_few(column.to_list())
    lengths = column.list.len().fill_null(0).to_numpy().astype(np.int64)
    out = np.full((lengths.size, max(int(lengths.max(initial=0)), 1)), np.nan)
    rows = np.repeat(np.arange(lengths.size), lengths)
    cols = np.arange(rows.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    values = column.explode(empty_as_null=False, keep_nulls=False)
    out[rows, cols] = values.cast(pl.Float64).fill_null(np.nan).to_numpy()
    return out


_FEW_ROWS = 32
"""Up to this many lists (a live car's stint), ``padded`` fills the matrix in Python:
the column queries cost far more than the few values."""


def _padded_few(lists: list[list[Any] | None]) -> FloatArray:
    width = max((len(items) for items in lists if items is not None), default=0)
    out = np.full((len(lists), max(width, 1)), np.nan)
    for row, items in enumerate(lists):
        if items:
            out[row, :len(items)] = [np.nan if v is None else float(v) for v in items]
    return out


def _row_median(values: FloatArray) -> FloatArray:
    """Median of each row's values that are not NaN (every row must have one): the same
    numbers as ``np.nanmedian(values, axis=1)``, which on a few short rows takes the
    masked-array path and costs ten times as much."""
    ordered = np.sort(values, axis=1)  # NaN last
    n = (~np.isnan(values)).sum(axis=1)
    rows = np.arange(values.shape[0])
    low, high = ordered[rows, np.maximum(n - 1, 0) // 2], ordered[rows, n // 2 - (n == 0)]
    return np.where(n > 0, (low + high) / 2.0, np.nan)


def huber_slopes(age: FloatArray, y: FloatArray, k: float | None
                 ) -> tuple[FloatArray, FloatArray]:
    """Slope of each row of ``y`` on the same row of ``age``, and its standard error,
    Huber-weighted when ``k`` is set (rows padded with NaN, see ``padded``).

    Iteratively reweighted least squares with a MAD scale; laps beyond ``k`` robust
    standard deviations get weight ``k / |r|``. NaN slope and infinite error for a
    stint with fewer than three laps or a single tire age.
    """
    mask = np.isfinite(age) & np.isfinite(y)
    n = mask.sum(axis=1)
    a, v = np.where(mask, age, 0.0), np.where(mask, y, 0.0)
    spread = np.where(mask, a, -np.inf).max(axis=1) - np.where(mask, a, np.inf).min(axis=1)
    ok = (n >= 3) & (spread > 0)
    slope, se = np.full(n.size, np.nan), np.full(n.size, np.inf)
    if not ok.any():
        return slope, se
    mask, a, v, n = mask[ok], a[ok], v[ok], n[ok]
    w = mask.astype(np.float64)
    for _ in range(6 if k is not None else 1):
        am = (w * a).sum(axis=1) / w.sum(axis=1)
        ym = (w * v).sum(axis=1) / w.sum(axis=1)
        da, dy = a - am[:, None], v - ym[:, None]
        b = (w * da * dy).sum(axis=1) / (w * da**2).sum(axis=1)
        resid = np.where(mask, dy - b[:, None] * da, np.nan)
        scale = np.maximum(1.4826 * _row_median(np.abs(resid)), 1e-6)
        if k is not None:
            w = np.where(mask, np.minimum(1.0, k * scale[:, None]
                                          / np.maximum(np.abs(resid), 1e-12)), 0.0)
    centred = np.where(mask, a - (a.sum(axis=1) / n)[:, None], 0.0)
    sxx = (centred**2).sum(axis=1)
    slope[ok] = b
    se[ok] = scale / np.sqrt(sxx) * np.sqrt(n / np.maximum(n - 2, 1))
    return slope, se


def huber_slope(age: FloatArray, y: FloatArray, k: float | None) -> tuple[float, float]:
    """``huber_slopes`` of one stint: its slope and standard error (s/lap)."""
    slope, se = huber_slopes(age[None, :], y[None, :], k)
    return float(slope[0]), float(se[0])


MIN_LAP_SCATTER_S = 0.05
"""Floor of a stint's lap scatter (s): a few laps that happen to sit on a line say
little about the next lap's time."""


def huber_levels(frame: pl.DataFrame, trend: FloatArray, k: float, *, n_iter: int = 10
                 ) -> FloatArray:
    """Each stint's seen level (s): the Huber mean of its seen lap times, each moved by
    ``trend`` (s/lap) to the seen laps' mean tire age.

    Laps within ``k`` robust standard deviations (1.4826 x MAD, at least
    ``MIN_LAP_SCATTER_S``) of the level count fully, laps beyond count ``k`` spreads'
    worth, so a lap lost in traffic pulls it a little and a spin hardly at all. With
    lap scatter near normal it wastes fewer laps than the median does.
    """
    age = padded(frame.get_column("tire_ages_laps"))
    times = padded(frame.get_column("lap_times_s"))
    mean_age = np.nanmean(age, axis=1)
    moved = times - trend[:, None] * (age - mean_age[:, None])
    usable = np.isfinite(moved)
    values = np.where(usable, moved, 0.0)
    level = _row_median(moved)
    for _ in range(n_iter):
        dev = np.where(usable, moved - level[:, None], np.nan)
        scale = np.maximum(1.4826 * _row_median(np.abs(dev)), MIN_LAP_SCATTER_S)
        weight = np.where(usable, np.minimum(1.0, k * scale[:, None]
                                             / np.maximum(np.abs(dev), 1e-12)), 0.0)
        level = (weight * values).sum(axis=1) / weight.sum(axis=1)
    return np.asarray(level, dtype=np.float64)


def lap_scatter(frame: pl.DataFrame) -> FloatArray:
    """Each stint's lap-to-lap scatter (s): the robust spread of its lap times about their
    Theil-Sen line on tire age (1.4826 x median absolute deviation), floored at
    ``MIN_LAP_SCATTER_S``.

    The line's slope is the median of the slopes between every two laps, so one lap
    lost to a spin neither tilts it (as it would a least-squares or even a Huber line
    through a few laps) nor makes the other laps look scattered.
    """
    out = np.full(frame.height, MIN_LAP_SCATTER_S)
    columns = zip(frame.get_column("lap_times_s").to_list(),
                  frame.get_column("tire_ages_laps").to_list(), strict=True)
    for i, (times, ages) in enumerate(columns):
        y, age = np.asarray(times, dtype=np.float64), np.asarray(ages, dtype=np.float64)
        keep = np.isfinite(y) & np.isfinite(age)
        y, age = y[keep], age[keep]
        if y.size < 2:
            continue
        run = age[None, :] - age[:, None]
        pairs = run > 0
        slope = float(np.median(((y[None, :] - y[:, None])[pairs]) / run[pairs])) \
            if pairs.any() else 0.0
        resid = y - slope * age
        out[i] = max(1.4826 * float(np.median(np.abs(resid - np.median(resid)))),
                     MIN_LAP_SCATTER_S)
    return out


def predictive_scale(scatter: FloatArray, n_seen: FloatArray, se: FloatArray,
                     delta_age: FloatArray) -> FloatArray:
    """Standard deviation (s) of one lap's time ``delta_age`` laps of tire age from the
    seen laps' mean age: its own scatter, the seen level's error (the median of
    ``n_seen`` laps, variance pi/2 x scatter^2 / n) and the slope's (``se`` x age).
    """
    level = scatter**2 * (1.0 + np.pi / (2.0 * np.maximum(n_seen, 1)))
    return np.asarray(np.sqrt(level + (se * delta_age) ** 2), dtype=np.float64)


def whole_stints(frame: pl.DataFrame) -> pl.DataFrame:
    """Training stints with the laps ahead appended to the laps seen, in lap order.

    Fitting may learn from every lap of a training race; only a forecast is limited to
    the laps seen.
    """
    return frame.with_columns(
        pl.concat_list(seen, f"ahead_{seen}").alias(seen)
        for seen in ("lap_times_s", "tire_ages_laps", "fuel_laps"))


def per_stint_slopes(frame: pl.DataFrame, fuel_per_lap: FloatArray, huber_k: float | None
                     ) -> tuple[FloatArray, FloatArray]:
    """Each stint's slope of fuel-corrected lap time on tire age, and its error (s/lap).

    Args:
        frame: Stint rows (``lap_times_s``, ``tire_ages_laps``, ``fuel_laps`` lists).
        fuel_per_lap: Per stint, lap time change per fuel-equivalent lap (s, negative).
        huber_k: Huber threshold, None for plain least squares.
    """
    y = padded(frame.get_column("lap_times_s"))
    fuel = padded(frame.get_column("fuel_laps"))
    return huber_slopes(padded(frame.get_column("tire_ages_laps")),
                        y - fuel_per_lap[:, None] * fuel, huber_k)


def prior_design(frame: pl.DataFrame, tracks: tuple[str, ...]) -> FloatArray:
    """Prior columns: intercept, and one indicator per known track.

    Track temperature is left out on purpose: each track runs in its own weather, so
    across tracks temperature cannot be told from everything else about a track, and a
    track's races differ by a few degrees, far too little to measure its effect on wear
    (the simulator's is 1.5% of the wear rate per degC, about 0.0005 s/lap).
    """
    names = frame.get_column("track").to_numpy()
    onehot = (names[:, None] == np.array(tracks)[None, :]).astype(np.float64)
    return np.column_stack([np.ones(frame.height), onehot])


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


def track_prior(frame: pl.DataFrame, slopes: dict[str, float], ridge: float
                ) -> FloatArray:
    """Coefficients of ``prior_design``: the pooled slope over every track, then each
    known track's offset from it, shrunk by its number of stints ``n`` in ``frame`` to
    ``n / (n + ridge)`` of its own pooled slope's (``pooled_track_slopes``, s/lap).

    Pooled slopes weigh laps alike, so a track's many short, noisy stints do not drag its
    prior the way a mean of per-stint slopes would; a track with few stints stays near
    the others.
    """
    counts = dict(frame.group_by("track").len().iter_rows())
    overall = slopes[""]
    offsets = [counts[t] / (counts[t] + ridge) * (slopes[t] - overall) if t in counts
               and t in slopes else 0.0 for t in TRACK_ORDER]
    return np.array([overall, *offsets], dtype=np.float64)


def robust_spread(values: FloatArray) -> float:
    """1.4826 x the median absolute deviation: the standard deviation, were ``values``
    normal, unmoved by a few wild ones; NaN values are left out."""
    values = values[np.isfinite(values)]
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def slope_noise(resid: FloatArray, se: FloatArray, tau: float) -> float:
    """The seen slopes' noise beyond their lap scatter (s/lap), added to every ``se``.

    A stint's first laps move together (the field settling after a start, traffic,
    battles), so their slope strays from the stint's wear by far more than their lap
    scatter says, and by about as much for a smooth stint as for a ragged one. With the
    between-driver spread ``tau`` (s/lap) and the stints' own errors ``se``, whatever
    else spreads the slopes ``resid`` (slopes minus their prior, s/lap) around the prior
    is that noise: its variance is the robust variance of ``resid`` less ``tau``^2 and
    the median ``se``^2 (0 when they explain it all).
    """
    usable = np.isfinite(resid) & np.isfinite(se)
    spread = robust_spread(resid[usable])
    return float(np.sqrt(max(spread**2 - tau**2 - float(np.median(se[usable] ** 2)), 0.0)))


__all__ = [
    "FCY_FUEL_SHARE",
    "MIN_LAP_SCATTER_S",
    "TRACK_ORDER",
    "conformal_factor",
    "fuel_trend",
    "huber_levels",
    "huber_slope",
    "huber_slopes",
    "lap_scatter",
    "padded",
    "per_stint_slopes",
    "pooled_track_slopes",
    "predictive_scale",
    "prior_design",
    "race_folds",
    "robust_spread",
    "shrink",
    "slope_noise",
    "stint_laps",
    "track_lengths",
    "track_prior",
    "whole_stints",
]
