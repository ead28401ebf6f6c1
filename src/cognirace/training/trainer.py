"""Train every task: evaluate on races the models did not see, then publish.

For each task the model and its baseline are fitted on the same rows and scored with
the same metrics, twice: on a held-out share of whole races, and leave-one-track-out
(each track's races kept out in turn, which is what a new venue looks like). Then both
are refitted on every row and published with their model card; the new versions
become ``production``, since the card says plainly how they compare.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import polars as pl

from cognirace.features import leave_one_track_out, split_by_race
from cognirace.lake import Lake, open_lake
from cognirace.models.base import Model
from cognirace.models.fingerprint import data_fingerprint
from cognirace.models.task import Task
from cognirace.registry import Registry
from cognirace.training.cards import TrainingData, card_json, card_markdown
from cognirace.training.catalogue import baseline_name
from cognirace.training.examples import examples_with_history
from cognirace.training.report import (
    Comparison,
    TaskTraining,
    TrainingReport,
    compare,
    mean_metrics,
)

TEST_FRACTION = 0.25
"""Share of races held out by the race split."""

PRODUCTION = "production"

Progress = Callable[[str, int, int], None]
"""Called as ``progress(label, steps_done, steps_total)``; a step is one fit-and-score."""

Metrics = dict[str, float]


def build(cls: type[Model], seed: int) -> Model:
    """A model with default hyperparameters, seeded when it takes a seed, so a training
    run is repeatable."""
    params = cls.param_names()
    return cls(**{name: seed for name in ("seed", "random_state") if name in params})


def fit_and_score(task: Task, train: pl.DataFrame, test: pl.DataFrame, seed: int
                  ) -> tuple[Metrics, Metrics]:
    """Fit baseline and model on ``train``, score both on ``test``: (baseline, model)."""
    baseline = build(task.baseline, seed).fit(train)
    model = build(task.model, seed).fit(train)
    return (task.score(test, baseline.predict(test)), task.score(test, model.predict(test)))


def _evaluate_splits(task: Task, rows: pl.DataFrame, seed: int,
                     tick: Callable[[str], None]) -> list[Comparison]:
    """Race split, then leave-one-track-out (skipped when the rows hold one track)."""
    tick(f"{task.name}: held-out races")
    (split,) = split_by_race(rows, test_fraction=TEST_FRACTION, seed=seed)
    races = compare(task, "races", *fit_and_score(task, split.train, split.test, seed))
    if rows["track"].n_unique() < 2:
        return races
    folds: list[tuple[Metrics, Metrics]] = []
    per_fold: list[Comparison] = []
    for fold in leave_one_track_out(rows):
        tick(f"{task.name}: {fold.name} held out")
        scores = fit_and_score(task, fold.train, fold.test, seed)
        folds.append(scores)
        per_fold += compare(task, fold.name, *scores)
    loto = compare(task, "loto", mean_metrics([b for b, _ in folds]),
                   mean_metrics([m for _, m in folds]))
    return races + loto + per_fold


def _manifest_metrics(comparisons: Sequence[Comparison], *, of_baseline: bool) -> Metrics:
    """Flat ``<evaluation>.<metric>`` metrics for the registry, finite values only."""
    metrics: Metrics = {}
    for c in comparisons:
        if c.evaluation not in ("races", "loto"):
            continue
        own, other = (c.baseline, c.model) if of_baseline else (c.model, c.baseline)
        if math.isfinite(own):  # the registry stores finite numbers; undefined is left out
            metrics[f"{c.evaluation}.{c.metric}"] = own
        if not of_baseline and math.isfinite(other):
            metrics[f"baseline.{c.evaluation}.{c.metric}"] = other
    return metrics


def _publish(task: Task, rows: pl.DataFrame, registry: Registry, data: TrainingData,
             comparisons: Sequence[Comparison]) -> tuple[str, str]:
    """Refit both on every row, publish them with the card, promote to production."""
    baseline = build(task.baseline, data.seed).fit(rows)
    model = build(task.model, data.seed).fit(rows)
    base_version = registry.publish(
        baseline, baseline_name(task), data_fingerprint=data.data_fingerprint,
        metrics=_manifest_metrics(comparisons, of_baseline=True))
    version = registry.publish(
        model, task.name, data_fingerprint=data.data_fingerprint,
        metrics=_manifest_metrics(comparisons, of_baseline=False),
        card_markdown=card_markdown(task, model, baseline, data, comparisons),
        card_json=card_json(task, model, baseline, data, comparisons))
    registry.set_alias(baseline_name(task), PRODUCTION, base_version)
    registry.set_alias(task.name, PRODUCTION, version)
    return version, base_version


def _train_task(task: Task, rows: pl.DataFrame, registry: Registry, lake: Lake, seed: int,
                tick: Callable[[str], None]) -> TaskTraining:
    started = time.perf_counter()
    comparisons = _evaluate_splits(task, rows, seed, tick)
    data = TrainingData(
        lake=str(lake.root), races=tuple(sorted(rows["race_id"].unique().to_list())),
        tracks=tuple(sorted(rows["track"].unique().to_list())), n_rows=rows.height,
        data_fingerprint=data_fingerprint(rows), seed=seed)
    tick(f"{task.name}: final fit and publish")
    version, base_version = _publish(task, rows, registry, data, comparisons)
    return TaskTraining(
        task=task.name, title=task.title, version=version, baseline_version=base_version,
        n_rows=rows.height, n_races=len(data.races), n_tracks=len(data.tracks),
        data_fingerprint=data.data_fingerprint, seconds=time.perf_counter() - started,
        comparisons=tuple(comparisons))


def train(lake: Lake | str | Path, registry: Registry, tasks: Sequence[Task], *,
          seed: int = 0, progress: Progress | None = None,
          history: Lake | str | Path | None = None) -> TrainingReport:
    """Train, evaluate and publish ``tasks`` from the races of ``lake``.

    Args:
        lake: A lake or its folder.
        registry: Where models, baselines and cards are published.
        tasks: The tasks to train (see ``select_tasks``).
        seed: Seed of the race split and of seeded models.
        progress: Told of each step (see ``Progress``).
        history: A lake of other seasons' races (timing files are enough); tasks with
            ``Task.history`` learn from its races too.

    Raises:
        DataError: The lake is empty, a task finds no rows, or fewer than two races.
    """
    started = time.perf_counter()
    lake = lake if isinstance(lake, Lake) else open_lake(lake)
    n_tracks = lake.races["track"].n_unique()
    per_task = 2 + (n_tracks if n_tracks > 1 else 0)
    total, done = 1 + per_task * len(tasks), 0
    report = progress or (lambda _label, _done, _total: None)
    report("building features", 0, total)
    examples: Mapping[str, pl.DataFrame] = examples_with_history(
        lake, tasks, history, on_step=lambda what: report(f"building rows: {what}", 0, total))

    def tick(label: str) -> None:
        nonlocal done
        report(label, done, total)
        done += 1

    results = []
    for index, task in enumerate(tasks):
        done = 1 + per_task * index
        results.append(_train_task(task, examples[task.name], registry, lake, seed, tick))
    report("done", total, total)
    return TrainingReport(lake=str(lake.root), registry=registry.url, seed=seed,
                          tasks=tuple(results), seconds=time.perf_counter() - started)


__all__ = ["PRODUCTION", "TEST_FRACTION", "Progress", "build", "fit_and_score", "train"]
