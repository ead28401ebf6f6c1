"""Scoring the caution hazard: Brier score, log loss and calibration over horizons 1..6.

A row's label for horizon ``k`` is whether a caution starts within ``k`` leader laps
(``laps_to_fcy_start <= k``). Calibration is reported plain (ECE) and debiased, since
the plain binned error favours a forecast that never moves. ``brier_parts`` splits the
primary metric by row for the bootstrap by race.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

FloatArray = npt.NDArray[np.float64]

TARGET = "laps_to_fcy_start"
"""Leader laps until the next caution starts (null when none starts before the end)."""
HORIZONS: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
"""Laps ahead the hazard model gives a probability for."""


def horizon_labels(rows: pl.DataFrame) -> FloatArray:
    """Whether a caution starts within k laps, one column per horizon of ``HORIZONS``."""
    laps = rows[TARGET].fill_null(10**6).to_numpy()
    return np.column_stack([(laps <= k) for k in HORIZONS]).astype(np.float64)


def reliability_table(p: FloatArray, y: FloatArray, n_bins: int = 10) -> pl.DataFrame:
    """Predictions in ``n_bins`` equal-width bins: count, mean prediction, observed rate."""
    bins = np.minimum((np.asarray(p) * n_bins).astype(np.int64), n_bins - 1)
    table = pl.DataFrame({"bin": bins, "p": p, "y": y}).group_by("bin").agg(
        n=pl.len().cast(pl.Int64), p_mean=pl.col("p").mean(), y_rate=pl.col("y").mean())
    return table.sort("bin").with_columns(
        p_low=pl.col("bin") / n_bins, p_high=(pl.col("bin") + 1) / n_bins)


def calibration_error(p: FloatArray, y: FloatArray, n_bins: int = 10) -> float:
    """Expected calibration error: the count-weighted mean |prediction - observed| per bin."""
    table = reliability_table(p, y, n_bins)
    if table.is_empty():
        return 0.0
    gap = (table["p_mean"] - table["y_rate"]).abs() * table["n"]
    return float(gap.sum()) / float(table["n"].sum())


def calibration_error_debiased(p: FloatArray, y: FloatArray, n_bins: int = 10) -> float:
    """Root of the squared calibration error less its sampling noise (Kumar et al. 2019).

    The plain binned error of a perfectly calibrated forecast is not 0 on finite data,
    and grows with the bins its predictions spread over, so it favours a constant
    forecast; subtracting each bin's variance of the observed rate removes that bias.
    """
    table = reliability_table(p, y, n_bins).filter(pl.col("n") > 1)
    if table.is_empty():
        return 0.0
    n, rate = table["n"].to_numpy().astype(np.float64), table["y_rate"].to_numpy()
    gap = (table["p_mean"].to_numpy() - rate) ** 2 - rate * (1.0 - rate) / (n - 1.0)
    return float(np.sqrt(max(float((gap * n).sum() / len(p)), 0.0)))


def _probabilities(predictions: pl.DataFrame) -> FloatArray:
    """The predicted probabilities, one column per horizon of ``HORIZONS``."""
    return np.column_stack([predictions[f"p_fcy_start_{k}"].to_numpy() for k in HORIZONS]
                           ).astype(np.float64)


def brier_parts(rows: pl.DataFrame, predictions: pl.DataFrame) -> pl.DataFrame:
    """The Brier score (over rows and horizons) as per-row parts: ``race_id``, ``num``
    (the row's squared errors summed over horizons) and ``den`` (its horizons).

    ``sum(num) / sum(den)`` is ``score_fcy(rows, predictions)["brier"]``.
    """
    if rows.height == 0:
        return pl.DataFrame({"race_id": [], "num": [], "den": []},
                            schema={"race_id": pl.String, "num": pl.Float64, "den": pl.Float64})
    errors = (_probabilities(predictions) - horizon_labels(rows)) ** 2
    return pl.DataFrame({"race_id": rows["race_id"], "num": errors.sum(axis=1),
                         "den": np.full(rows.height, float(len(HORIZONS)))})


def score_fcy(rows: pl.DataFrame, predictions: pl.DataFrame) -> dict[str, float]:
    """Brier score and log loss over horizons 1..6 (and at 1 and 6), and the pooled
    calibration error, plain (ECE) and debiased."""
    y = horizon_labels(rows)
    p = _probabilities(predictions)
    q = np.clip(p, 1e-6, 1.0 - 1e-6)
    brier = ((p - y) ** 2).mean(axis=0) if rows.height else np.zeros(len(HORIZONS))
    loss = (-(y * np.log(q) + (1 - y) * np.log(1 - q))).mean(axis=0) if rows.height \
        else np.zeros(len(HORIZONS))
    last = len(HORIZONS) - 1
    return {
        "n_rows": float(rows.height), "n_starts": float((rows[TARGET] == 1).sum()),
        "brier": float(brier.mean()), "log_loss": float(loss.mean()),
        "brier_loss_k1": float(brier[0]), f"brier_loss_k{HORIZONS[last]}": float(brier[last]),
        "log_loss_k1": float(loss[0]), f"log_loss_k{HORIZONS[last]}": float(loss[last]),
        "calibration_error": calibration_error(p.ravel(), y.ravel()),
        "calibration_error_debiased": calibration_error_debiased(p.ravel(), y.ravel()),
    }


__all__ = [
    "HORIZONS",
    "TARGET",
    "brier_parts",
    "calibration_error",
    "calibration_error_debiased",
    "horizon_labels",
    "reliability_table",
    "score_fcy",
]
