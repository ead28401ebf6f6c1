"""A 95% interval on a model's gain over its baseline, by resampling whole races.

Laps of one race are not independent: they share the weather, the cautions, the field
and the track, so an interval over laps would be far too narrow. The unit resampled is
the race. Each task splits its primary metric into additive per-race pieces
(``Task.parts``: ``sum(num) / sum(den)``), so a resample is a weighted sum and a
thousand of them cost a matrix product, not a thousand scorings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from cognirace.errors import ModelError
from cognirace.models.task import Task

N_RESAMPLES = 2000
"""Bootstrap resamples; the interval's ends move by well under its width between seeds."""
LEVEL = 0.95
"""Coverage of the interval."""
MIN_RACES = 2
"""Fewer races than this give no interval: one race resampled is always itself."""


@dataclass(frozen=True)
class GainInterval:
    """The gain on the primary metric and its bootstrap interval.

    Attributes:
        gain: The gain on all the rows (positive: the model is better).
        low: Lower end of the interval.
        high: Upper end of the interval.
        n_races: Races resampled.
    """

    gain: float
    low: float
    high: float
    n_races: int

    @property
    def above_zero(self) -> bool:
        """Whether the whole interval is a gain: the only case that counts as a win."""
        return self.low > 0


def race_parts(task: Task, rows: pl.DataFrame, predictions: pl.DataFrame) -> pl.DataFrame:
    """The task's primary metric as ``num`` and ``den`` summed per race (sorted by race).

    Raises:
        ModelError: The task does not split its metric, or its parts lack a column.
    """
    if task.parts is None:
        raise ModelError(f"task {task.name!r} has no parts for the bootstrap",
                         hint="set Task.parts so the primary metric splits by race")
    parts = task.parts(rows, predictions)
    missing = {"race_id", "num", "den"} - set(parts.columns)
    if missing:
        raise ModelError(f"task {task.name!r} parts lack {sorted(missing)}")
    return (parts.group_by("race_id").agg(pl.col("num").cast(pl.Float64).sum(),
                                          pl.col("den").cast(pl.Float64).sum())
            .sort("race_id"))


def race_weights(n_races: int, n_resamples: int = N_RESAMPLES, seed: int = 0) -> np.ndarray:
    """How often each race is drawn in each resample: ``[n_resamples, n_races]`` counts."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_races, np.full(n_races, 1.0 / n_races), size=n_resamples
                           ).astype(np.float64)


Strata = list[tuple[pl.DataFrame, pl.DataFrame]]
"""``(baseline_parts, model_parts)`` per group of races scored together (one fold each)."""


def _resampled(parts: pl.DataFrame, weights: np.ndarray) -> np.ndarray:
    num, den = parts["num"].to_numpy(), parts["den"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((weights @ num) / (weights @ den), dtype=np.float64)


def _metric(parts: pl.DataFrame) -> float:
    den = float(parts["den"].sum())
    return float(parts["num"].sum()) / den if den else float("nan")


def gain_interval(task: Task, strata: Strata, *, n_resamples: int = N_RESAMPLES,
                  seed: int = 0) -> GainInterval | None:
    """Bootstrap the gain from per-race parts of baseline and model on the same races.

    Each stratum is a ``(baseline, model)`` pair of ``race_parts`` outputs on one set of
    races: one pair for a held-out set, one per fold for leave-one-track-out, whose
    summary is the mean over folds. Races are resampled within each stratum and the
    metric averaged over strata, so the interval is of the figure the table shows.
    Returns None when a stratum has fewer than ``MIN_RACES`` races. A resample whose
    races hold no denominator (no rows the metric counts) is dropped, not read as zero.

    Raises:
        ModelError: A baseline and model were not scored on the same races.
    """
    if not strata:
        return None
    sign = 1.0 if task.higher_is_better else -1.0
    resampled, point = [], []
    for index, (baseline, model) in enumerate(strata):
        if baseline["race_id"].to_list() != model["race_id"].to_list():
            raise ModelError(f"task {task.name!r}: baseline and model parts cover other races")
        if baseline.height < MIN_RACES:
            return None
        weights = race_weights(baseline.height, n_resamples, seed + index)
        resampled.append(sign * (_resampled(model, weights) - _resampled(baseline, weights)))
        point.append(sign * (_metric(model) - _metric(baseline)))
    gains = np.mean(np.vstack(resampled), axis=0)
    gains = gains[np.isfinite(gains)]
    if gains.size == 0:
        return None
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(gains, [tail, 100 - tail])
    return GainInterval(gain=float(np.mean(point)), low=float(low), high=float(high),
                        n_races=sum(b.height for b, _ in strata))


__all__ = ["LEVEL", "MIN_RACES", "N_RESAMPLES", "GainInterval", "Strata", "gain_interval",
           "race_parts", "race_weights"]
