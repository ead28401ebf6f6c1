"""Evaluate published models on a lake they never saw, without refitting anything.

The production model and the production baseline of each task are loaded from the
registry (the baseline is published beside the model for this reason: a baseline
refitted here would learn from the very races it is scored on) and scored on every row
of the lake, typically a season simulated from another seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from cognirace.lake import Lake, open_lake
from cognirace.models.task import Task
from cognirace.registry import Registry
from cognirace.registry.production import load_production
from cognirace.training.catalogue import baseline_name
from cognirace.training.examples import examples_with_history
from cognirace.training.report import Comparison, EvaluationReport
from cognirace.training.trainer import comparisons_of, score_fitted

HELDOUT = "heldout"
"""The ``evaluation`` of comparisons made on an unseen lake."""


def evaluate(lake: Lake | str | Path, registry: Registry, tasks: Sequence[Task], *,
             examples: Mapping[str, pl.DataFrame] | None = None,
             history: Lake | str | Path | None = None) -> EvaluationReport:
    """Score each task's production model and baseline on every row of ``lake``.

    Args:
        examples: The tasks' rows from ``lake`` when the caller built them already
            (``examples_with_history``), so they are not built twice.
        history: Further unseen races (timing files are enough) that tasks with
            ``Task.history`` are scored on as well.

    Raises:
        ArtifactError: A task's model or baseline is missing from the registry.
        DataError: The lake is empty or a task finds no rows in it.
    """
    lake = lake if isinstance(lake, Lake) else open_lake(lake)
    loaded = {}
    for task in tasks:  # fail on a missing model before the costly feature table
        model, version = load_production(registry, task.name)
        baseline, _ = load_production(registry, baseline_name(task))
        loaded[task.name] = (model, baseline, version)
    if examples is None:
        examples = examples_with_history(lake, tasks, history)
    comparisons: list[Comparison] = []
    for task in tasks:
        rows = examples[task.name]
        model, baseline, _ = loaded[task.name]
        comparisons += comparisons_of(task, HELDOUT, [score_fitted(task, rows, baseline, model)])
    return EvaluationReport(
        lake=str(lake.root), registry=registry.url,
        versions={name: version for name, (_, _, version) in loaded.items()},
        n_rows={task.name: examples[task.name].height for task in tasks},
        comparisons=tuple(comparisons))


__all__ = ["HELDOUT", "evaluate", "load_production"]
