"""The backtest's statistics: paired gains with race-clustered intervals, calibration.

Decision points of one race share its cautions, field and weather, and several points
of one race (cars, laps) are far from independent: the interval resamples whole races
(a cluster bootstrap), each resample the mean gain over the points of the races drawn.
The gain of the advice over a policy at a point is the policy's finish position less
the advice's (positive: the advice finished ahead); the pairing removes everything the
two branches share.

Calibration asks whether the advice's odds mean what they say: at every point and for
every place k = 1..n-1, the predicted P(finish at or ahead of k) of the recommended
candidate against whether its branch did. Predictions are binned by tenths; the
calibration error is the points-weighted mean of |predicted - observed| over the bins
(the expected calibration error). Many of those pairs are all but certain (P1 for a car
running 20th); ``informative`` repeats the measure over the pairs predicted between
``INFORMATIVE`` and ``1 - INFORMATIVE`` only, the harder test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

N_RESAMPLES = 2000
"""Bootstrap resamples."""
LEVEL = 0.95
"""Coverage of the interval."""
N_BINS = 10
"""Bins of predicted probability in the reliability table."""
INFORMATIVE = 0.05
"""Pairs predicted within this of 0 or 1 are left out of the informative calibration."""


@dataclass(frozen=True)
class PairedGain:
    """The mean gain, its race-clustered interval and the win, tie and loss shares."""

    mean: float
    low: float
    high: float
    win: float
    tie: float
    loss: float
    n: int

    def to_json(self) -> dict[str, object]:
        return {"mean_gain": self.mean, "ci95": [self.low, self.high], "win": self.win,
                "tie": self.tie, "loss": self.loss, "n": self.n}


def cluster_bootstrap(values: Sequence[float] | FloatArray, clusters: Sequence[int] | IntArray,
                      *, n_resamples: int = N_RESAMPLES, level: float = LEVEL, seed: int = 0
                      ) -> tuple[float, float, float]:
    """The mean of ``values`` and its percentile interval, resampling whole clusters.

    Args:
        values: One value per point.
        clusters: The cluster (race) of each point.
        n_resamples: Resamples.
        level: Coverage.
        seed: The resamples' seed.

    Returns:
        ``(mean, low, high)``; NaN for no value; the mean twice for one cluster (a
        cluster resampled alone is always itself).
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return (float("nan"),) * 3
    _, index = np.unique(np.asarray(clusters), return_inverse=True)
    sums = np.bincount(index, weights=x)
    counts = np.bincount(index).astype(np.float64)
    mean = float(x.mean())
    if sums.size < 2:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(sums.size, np.full(sums.size, 1.0 / sums.size),
                              size=n_resamples).astype(np.float64)
    means = (weights @ sums) / (weights @ counts)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return mean, float(low), float(high)


def paired_gain(baseline: Sequence[int] | IntArray, advice: Sequence[int] | IntArray,
                clusters: Sequence[int] | IntArray, *, seed: int = 0) -> PairedGain:
    """Places the advice finished ahead of ``baseline`` at the same points."""
    gain = np.asarray(baseline, dtype=np.float64) - np.asarray(advice, dtype=np.float64)
    mean, low, high = cluster_bootstrap(gain, clusters, seed=seed)
    n = int(gain.size)

    def share(flags: npt.NDArray[np.bool_]) -> float:
        return float(flags.mean()) if n else float("nan")

    return PairedGain(mean, low, high, share(gain > 0), share(gain == 0), share(gain < 0), n)


def oracle_share(stay_out: Sequence[int], advice: Sequence[int], oracle: Sequence[int]
                 ) -> float | None:
    """The share of the oracle's gain over staying out that the advice captures.

    ``sum(stay_out - advice) / sum(stay_out - oracle)``; None when the oracle gains
    nothing (no point where any stop beats staying out).
    """
    ceiling = float(np.sum(np.asarray(stay_out) - np.asarray(oracle)))
    if ceiling <= 0:
        return None
    return float(np.sum(np.asarray(stay_out) - np.asarray(advice))) / ceiling


@dataclass(frozen=True)
class Reliability:
    """A reliability table and its calibration error.

    Attributes:
        bins: Per bin of predicted probability: ``(low, high, n, mean predicted,
            observed share)``; empty bins left out.
        error: The expected calibration error (NaN with no pair).
        n: Pairs.
    """

    bins: tuple[tuple[float, float, int, float, float], ...]
    error: float
    n: int

    def to_json(self) -> dict[str, object]:
        return {"calibration_error": self.error, "n_pairs": self.n, "bins": [
            {"p_low": lo, "p_high": hi, "n": n, "predicted": p, "observed": o}
            for lo, hi, n, p, o in self.bins]}


def reliability(predicted: FloatArray, observed: npt.NDArray[np.bool_],
                n_bins: int = N_BINS) -> Reliability:
    """Predicted probabilities against outcomes, by tenths (see the module docstring)."""
    p = np.asarray(predicted, dtype=np.float64)
    o = np.asarray(observed, dtype=np.float64)
    if p.size == 0:
        return Reliability((), float("nan"), 0)
    index = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    rows, error = [], 0.0
    for b in range(n_bins):
        inside = index == b
        n = int(inside.sum())
        if n:
            mean_p, mean_o = float(p[inside].mean()), float(o[inside].mean())
            rows.append((b / n_bins, (b + 1) / n_bins, n, mean_p, mean_o))
            error += n * abs(mean_p - mean_o)
    return Reliability(tuple(rows), error / p.size, int(p.size))


def calibration_pairs(p_at_or_ahead: Sequence[Sequence[float]], finish: Sequence[int]
                      ) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Every point's ``(predicted P(finish <= k), finish <= k)`` for k = 1..n-1."""
    predicted: list[float] = []
    observed: list[bool] = []
    for probs, place in zip(p_at_or_ahead, finish, strict=True):
        for k, p in enumerate(probs[:-1], start=1):
            predicted.append(p)
            observed.append(place <= k)
    return np.asarray(predicted, dtype=np.float64), np.asarray(observed, dtype=np.bool_)


__all__ = ["INFORMATIVE", "LEVEL", "N_BINS", "N_RESAMPLES", "PairedGain", "Reliability",
           "calibration_pairs", "cluster_bootstrap", "oracle_share", "paired_gain",
           "reliability"]
