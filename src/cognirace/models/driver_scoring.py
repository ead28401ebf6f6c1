"""Scoring a driver-style embedding: can a lap's vector name its driver in another race?

The gallery holds each driver's mean embedding per unit (a race); queries are single
laps, or stint means, from other units, for drivers the gallery holds. A query is a hit
at rank k when fewer than k gallery drivers lie nearer (Euclidean) to it than its own
driver's nearest gallery entry. Every embedding (the model's, the baseline's) is scored
by this one code path, and ``driver_parts`` splits top-1 into its per-query hits with
the very same ranks, so a bootstrap over races resamples exactly what ``score_driver``
averaged.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

FloatArray = npt.NDArray[np.float64]

TARGET = "driver_id"
KEYS: tuple[str, ...] = ("race_id", "vehicle_id", "lap")
STINT: tuple[str, ...] = ("car_number", "stint")
"""Keys of a stint query within a unit: its car and stint number."""


def embedding_columns(predictions: pl.DataFrame) -> list[str]:
    """The embedding's columns (``emb_0`` ...), in order."""
    return [c for c in predictions.columns if c.startswith("emb_")]


def _split_units(frame: pl.DataFrame) -> pl.Series:
    """Each row's gallery unit: its race; with a single race, its car's half of the race
    (first or second half of its laps), so a one-race test still has disjoint sides."""
    if frame["race_id"].n_unique() >= 2:
        return frame["race_id"]
    car = ["race_id", "car_number"]
    late = pl.col("lap").rank("ordinal").over(car) > pl.len().over(car) / 2
    return frame.select(pl.col("race_id") + pl.when(late).then(pl.lit("#b"))
                        .otherwise(pl.lit("#a"))).to_series()


def _ranks(gallery: pl.DataFrame, queries: pl.DataFrame, dims: list[str]) -> FloatArray:
    """Rank of each query's true driver (0 = nearest) among the gallery's drivers."""
    g = gallery.select(dims).to_numpy()
    q = queries.select(dims).to_numpy()
    dist = ((q[:, None, :] - g[None, :, :]) ** 2).sum(axis=2)
    drivers = np.array(sorted(set(gallery[TARGET].to_list())))
    g_driver = np.searchsorted(drivers, gallery[TARGET].to_numpy().astype(str))
    per_driver = np.full((len(q), len(drivers)), np.inf)
    for j, d in enumerate(g_driver):
        per_driver[:, d] = np.minimum(per_driver[:, d], dist[:, j])
    truth = np.searchsorted(drivers, queries[TARGET].to_numpy().astype(str))
    own = per_driver[np.arange(len(q)), truth]
    return np.asarray((per_driver < own[:, None]).sum(axis=1), dtype=np.float64)


def identification(rows: pl.DataFrame, predictions: pl.DataFrame,
                   by: tuple[str, ...] = ()) -> pl.DataFrame:
    """Nearest-neighbour rank of the true driver for every query.

    Args:
        rows: The task's rows (``race_id``, ``vehicle_id``, ``lap``, ``car_number``,
            ``stint``, ``driver_id``).
        predictions: Row-aligned embeddings (``emb_*`` columns).
        by: Empty for lap queries, else the columns a query averages over within a unit
            (``STINT``: stint means).

    Returns:
        One row per query: ``race_id`` (the query's race), ``rank`` (0 = its driver is
        nearest) and ``n_gallery`` (drivers it was told apart from); no rows when no
        unit has a driver another unit also holds.
    """
    dims = embedding_columns(predictions)
    frame = pl.concat([rows.select(*KEYS, *STINT, TARGET), predictions.select(dims)],
                      how="horizontal").with_columns(_unit=_split_units(rows))
    gallery = frame.group_by("_unit", TARGET).agg(pl.col(dims).mean())
    queries = frame if not by else frame.group_by("_unit", TARGET, *by).agg(
        pl.col("race_id").first(), pl.col(dims).mean())
    parts = []
    for unit in sorted(set(frame["_unit"].to_list())):
        others = gallery.filter(pl.col("_unit") != unit)
        mine = queries.filter((pl.col("_unit") == unit)
                              & pl.col(TARGET).is_in(others[TARGET].unique().to_list()))
        if mine.is_empty():
            continue
        parts.append(pl.DataFrame({
            "race_id": mine["race_id"], "rank": _ranks(others, mine, dims),
            "n_gallery": np.full(mine.height, float(others[TARGET].n_unique()))}))
    if not parts:
        return pl.DataFrame(schema={"race_id": pl.String, "rank": pl.Float64,
                                    "n_gallery": pl.Float64})
    return pl.concat(parts)


def _share(hits: pl.Series) -> float:
    return float(hits.mean()) if hits.len() else 0.0  # type: ignore[arg-type]


def score_driver(rows: pl.DataFrame, predictions: pl.DataFrame) -> dict[str, float]:
    """Top-1 and top-5 identification of laps and of stint means, with chance level."""
    metrics: dict[str, float] = {}
    for suffix, by in (("", ()), ("_stint", STINT)):
        found = identification(rows, predictions, by)
        metrics[f"top1{suffix}"] = _share(found["rank"] < 1)
        metrics[f"top5{suffix}"] = _share(found["rank"] < 5)
        metrics[f"n_queries{suffix}"] = float(found.height)
        if not suffix:
            metrics["chance_top1"] = _share(1.0 / found["n_gallery"])
            metrics["n_drivers"] = float(rows[TARGET].n_unique())
    return metrics


def driver_parts(rows: pl.DataFrame, predictions: pl.DataFrame) -> pl.DataFrame:
    """Top-1 of lap queries as additive parts: (hit, 1) per query, keyed by its race.

    ``sum(num) / sum(den)`` is ``score_driver(...)["top1"]`` (the same ranks); with no
    query at all the parts are empty, where the score reports 0.
    """
    found = identification(rows, predictions)
    return found.select("race_id", num=(pl.col("rank") < 1).cast(pl.Float64),
                        den=pl.lit(1.0, dtype=pl.Float64))


__all__ = ["STINT", "TARGET", "driver_parts", "embedding_columns", "identification",
           "score_driver"]
