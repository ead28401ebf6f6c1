"""Train every task: evaluate on races the models did not see, then publish.

For each task the model and its baseline are fitted on the same rows and scored with
the same metrics, twice: on a held-out share of whole races, and leave-one-track-out
(each track's races kept out in turn, which is what a new venue looks like). Then both
are refitted on every row and published with their model card; the new versions
become ``production``, since the card says plainly how they compare.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from cognirace.features import Split, leave_one_track_out, split_by_race
from cognirace.lake import Lake, open_lake
from cognirace.models.base import Model
from cognirace.models.fingerprint import data_fingerprint
from cognirace.models.task import Task
from cognirace.registry import Registry
from cognirace.registry.production import PRODUCTION
from cognirace.training.bootstrap import GainInterval, gain_interval, race_parts
from cognirace.training.cards import TrainingData, card_json, card_markdown
from cognirace.training.catalogue import baseline_name
from cognirace.training.examples import examples_with_history
from cognirace.training.report import (
    Comparison,
    TaskTraining,
    TrainingReport,
    compare,
    compare_ablation,
    mean_metrics,
)

TEST_FRACTION = 0.25
"""Share of races held out by the race split."""

Progress = Callable[[str, int, int], None]
"""Called as ``progress(label, steps_done, steps_total)``; a step is one fit-and-score."""

Metrics = dict[str, float]


def build(cls: type[Model], seed: int) -> Model:
    """A model with default hyperparameters, seeded when it takes a seed, so a training
    run is repeatable."""
    params = cls.param_names()
    return cls(**{name: seed for name in ("seed", "random_state") if name in params})


@dataclass(frozen=True)
class Scored:
    """A baseline, a model and its ablations scored on the same rows.

    Attributes:
        baseline: The baseline's metrics.
        model: The model's metrics.
        ablations: Each ablation's metrics, by its name (``Task.ablations``).
        parts: Per-race parts of the primary metric (``race_parts``) by who was scored:
            ``"baseline"``, ``"model"`` and each ablation's name; empty when the task
            does not split its metric.
    """

    baseline: Metrics
    model: Metrics
    ablations: dict[str, Metrics] = field(default_factory=dict)
    parts: dict[str, pl.DataFrame] = field(default_factory=dict)


def score_fitted(task: Task, rows: pl.DataFrame, baseline: Model, model: Model,
                 ablations: Mapping[str, Model] | None = None) -> Scored:
    """Score fitted models on ``rows``, with the per-race parts for the bootstrap."""
    fitted = {"baseline": baseline, "model": model, **(ablations or {})}
    metrics, parts = {}, {}
    for who, fit in fitted.items():
        predictions = fit.predict(rows)
        metrics[who] = task.score(rows, predictions)
        if task.parts is not None:
            parts[who] = race_parts(task, rows, predictions)
    return Scored(baseline=metrics.pop("baseline"), model=metrics.pop("model"),
                  ablations=metrics, parts=parts)


def fit_and_score(task: Task, train: pl.DataFrame, test: pl.DataFrame, seed: int) -> Scored:
    """Fit baseline, model and ablations on ``train``, score them on ``test``."""
    baseline = build(task.baseline, seed).fit(train)
    model = build(task.model, seed).fit(train)
    ablations = {name: build(cls, seed).fit(train) for name, cls in task.ablations.items()}
    return score_fitted(task, test, baseline, model, ablations)


def comparisons_of(task: Task, evaluation: str, folds: Sequence[Scored]) -> list[Comparison]:
    """The table rows of one evaluation: the mean over ``folds`` (one for a held-out set),
    with the bootstrap interval by race of the primary gain and of each ablation's."""

    def interval(who: str) -> GainInterval | None:
        if not all(who in f.parts and "baseline" in f.parts for f in folds):
            return None
        return gain_interval(task, [(f.parts["baseline"], f.parts[who]) for f in folds],
                             seed=len(evaluation))

    rows = compare(task, evaluation, mean_metrics([f.baseline for f in folds]),
                   mean_metrics([f.model for f in folds]), interval("model"))
    for name in task.ablations:
        if not all(name in f.ablations for f in folds):
            continue  # scored in training only: the registry keeps no ablations
        rows.insert(1, compare_ablation(
            task, evaluation, name, mean_metrics([f.baseline for f in folds]),
            mean_metrics([f.ablations[name] for f in folds]), interval(name)))
    return rows


def _splits(rows: pl.DataFrame, seed: int) -> Iterator[Split]:
    yield from split_by_race(rows, test_fraction=TEST_FRACTION, seed=seed)
    if n_splits(rows) > 1:
        yield from leave_one_track_out(rows)


def evaluation_splits(rows: pl.DataFrame, seed: int) -> list[Split]:
    """The race split, then leave-one-track-out (skipped when the rows hold one track):
    the splits every task is scored on, each fitted on its own (see ``train``)."""
    return list(_splits(rows, seed))


def n_splits(rows: pl.DataFrame) -> int:
    """How many splits ``evaluation_splits`` makes of ``rows``."""
    n_tracks = rows["track"].n_unique()
    return 1 + (n_tracks if n_tracks >= 2 else 0)


def score_split(task: Task, rows: pl.DataFrame, seed: int, index: int) -> tuple[str, Scored]:
    """The ``index``-th evaluation split of ``rows``, fitted and scored: one piece of work
    that needs only the task's rows, so a worker elsewhere can run it (it builds the
    splits up to that one, not the others)."""
    split = next(itertools.islice(_splits(rows, seed), index, None))
    return split.name, fit_and_score(task, split.train, split.test, seed)


def comparisons_of_splits(task: Task, scored: Sequence[tuple[str, Scored]]
                          ) -> list[Comparison]:
    """The table rows of a task from its splits in ``evaluation_splits``' order: the race
    split, then the mean over tracks held out, then each track's."""
    races = comparisons_of(task, "races", [scored[0][1]])
    folds = scored[1:]
    if not folds:
        return races
    per_fold = [row for name, one in folds for row in comparisons_of(task, name, [one])]
    return races + comparisons_of(task, "loto", [one for _, one in folds]) + per_fold


def _manifest_metrics(comparisons: Sequence[Comparison], *, of_baseline: bool) -> Metrics:
    """Flat ``<evaluation>.<metric>`` metrics for the registry, finite values only."""
    metrics: Metrics = {}
    for c in comparisons:
        if c.evaluation not in ("races", "loto") or c.metric != c.metric.split(" ")[0]:
            continue  # ablation rows ("brier (without x)") live in the card only
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


def publish_task(task: Task, rows: pl.DataFrame, registry: Registry, lake: str, seed: int,
                 comparisons: Sequence[Comparison], seconds: float = 0.0) -> TaskTraining:
    """Refit model and baseline on every row and publish them with the card built from
    ``comparisons``; ``seconds`` is the time already spent on the task's splits."""
    started = time.perf_counter()
    data = TrainingData(
        lake=lake, races=tuple(sorted(rows["race_id"].unique().to_list())),
        tracks=tuple(sorted(rows["track"].unique().to_list())), n_rows=rows.height,
        data_fingerprint=data_fingerprint(rows), seed=seed)
    version, base_version = _publish(task, rows, registry, data, comparisons)
    return TaskTraining(
        task=task.name, title=task.title, version=version, baseline_version=base_version,
        n_rows=rows.height, n_races=len(data.races), n_tracks=len(data.tracks),
        data_fingerprint=data.data_fingerprint,
        seconds=seconds + time.perf_counter() - started, comparisons=tuple(comparisons))


def default_workers() -> int:
    """Fits run at once by ``train``: one per core this process may use."""
    return max(1, len(os.sched_getaffinity(0)))


def _timed(fit: Callable[[], Scored]) -> tuple[Scored, float]:
    started = time.perf_counter()
    return fit(), time.perf_counter() - started


def train(lake: Lake | str | Path, registry: Registry, tasks: Sequence[Task], *,
          seed: int = 0, progress: Progress | None = None,
          history: Lake | str | Path | None = None,
          workers: int | None = None) -> TrainingReport:
    """Train, evaluate and publish ``tasks`` from the races of ``lake``.

    Every task's splits are independent fits, and so are the final refits: they run
    ``workers`` at a time in threads (the fitting libraries release the GIL while they
    work). Each fit is seeded on its own, so the registry's content does not depend on
    ``workers`` or on which fit finished first.

    Args:
        lake: A lake or its folder.
        registry: Where models, baselines and cards are published.
        tasks: The tasks to train (see ``select_tasks``).
        seed: Seed of the race split and of seeded models.
        progress: Told of each step (see ``Progress``).
        history: A lake of other seasons' races (timing files are enough); tasks with
            ``Task.history`` learn from its races too.
        workers: Fits at once (default: ``default_workers``); 1 fits one after another.

    Raises:
        DataError: The lake is empty, a task finds no rows, or fewer than two races.
    """
    started = time.perf_counter()
    lake = lake if isinstance(lake, Lake) else open_lake(lake)
    report = progress or (lambda _label, _done, _total: None)
    n_tracks = lake.races["track"].n_unique()
    guess = len(tasks) * (2 + (n_tracks if n_tracks > 1 else 0))  # until the rows are built
    report("building features", 0, guess)
    examples: Mapping[str, pl.DataFrame] = examples_with_history(
        lake, tasks, history, on_step=lambda what: report(f"building rows: {what}", 0, guess))
    splits = {task.name: evaluation_splits(examples[task.name], seed) for task in tasks}
    total = sum(len(s) + 1 for s in splits.values())
    done = 0

    def tick(label: str) -> None:
        nonlocal done
        done += 1
        report(label, done, total)

    scored: dict[str, list[tuple[str, Scored]]] = {task.name: [] for task in tasks}
    spent = dict.fromkeys(scored, 0.0)
    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
        fits = {pool.submit(_timed, functools.partial(fit_and_score, task, one.train,
                                                      one.test, seed)): (task, one.name)
                for task in tasks for one in splits[task.name]}
        for fit in as_completed(fits):
            task, name = fits[fit]
            spent[task.name] += fit.result()[1]
            tick(f"{task.name}: {name} held out")
        for fit, (task, name) in fits.items():  # in the splits' order, whoever finished
            scored[task.name].append((name, fit.result()[0]))
        published = {pool.submit(publish_task, task, examples[task.name], registry,
                                 str(lake.root), seed,
                                 comparisons_of_splits(task, scored[task.name]),
                                 spent[task.name]): task for task in tasks}
        for job in as_completed(published):
            tick(f"{published[job].name}: published")
        results = [job.result() for job in published]
    report("done", total, total)
    return TrainingReport(lake=str(lake.root), registry=registry.url, seed=seed,
                          tasks=tuple(results), seconds=time.perf_counter() - started)


__all__ = ["PRODUCTION", "TEST_FRACTION", "Progress", "Scored", "build", "comparisons_of",
           "comparisons_of_splits", "default_workers", "evaluation_splits", "fit_and_score",
           "n_splits", "publish_task", "score_fitted", "score_split", "train"]
