"""Training on an engine: the rows built once and stored, then one piece per model.

``train`` builds every task's rows, then trains the tasks one after the other. The
tasks are independent, so ``train_on`` runs each as a piece of work of an engine (a
Ray task with ``--engine ray``): one piece builds every task's rows (the lap feature
table once, as ``train`` does) and writes them as Parquet in a scratch folder inside
the lake; then one piece per task reads its rows from there, evaluates, refits and
publishes, exactly as ``train`` does for that task (``trainer.train_task``). The
driver only sees paths and each task's summary. The registry's entries are those of
``train`` apart from their timestamps: same rows, same seeds, same code.

The lake and the registry must be on storage every worker sees (a shared volume, or a
bucket for the registry); the scratch folder is removed at the end.
"""

from __future__ import annotations

import functools
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cognirace.lake import Lake, open_lake
from cognirace.models.task import Task
from cognirace.registry import Registry
from cognirace.scale import Engine, in_order
from cognirace.training.examples import examples_with_history
from cognirace.training.report import TaskTraining, TrainingReport
from cognirace.training.trainer import train_task


@dataclass(frozen=True)
class RowsPiece:
    """Build every task's rows from a lake (and a history lake) into ``scratch``."""

    lake: Path
    history: Path | None
    tasks: tuple[Task, ...]
    scratch: Path


def write_rows(piece: RowsPiece) -> dict[str, Path]:
    """Each task's rows as a Parquet file in the scratch folder, by task name."""
    history = None if piece.history is None else open_lake(piece.history)
    examples = examples_with_history(open_lake(piece.lake), piece.tasks, history)
    paths = {}
    for name, rows in examples.items():
        path = piece.scratch / f"{name}.parquet"
        rows.write_parquet(path)
        paths[name] = path
    return paths


@dataclass(frozen=True)
class TaskPiece:
    """Train one task from its stored rows and publish it."""

    task: Task
    rows: Path


def train_piece(lake: Path, registry: Registry, seed: int, piece: TaskPiece) -> TaskTraining:
    """``train``'s work for one task (runs on a worker)."""
    rows = pl.read_parquet(piece.rows)
    return train_task(piece.task, rows, registry, open_lake(lake), seed,
                      lambda _label: None)


def train_on(engine: Engine, lake: Lake | str | Path, registry: Registry,
             tasks: Sequence[Task], *, seed: int = 0,
             history: Lake | str | Path | None = None,
             on_task: Callable[[TaskTraining], None] | None = None) -> TrainingReport:
    """``train`` with one piece of work per task on ``engine`` (see the module docstring).

    Args:
        engine: Where the pieces run.
        lake: A lake or its folder.
        registry: Where models, baselines and cards are published (a folder or a bucket
            every worker reaches: ``memory://`` lives in one process only).
        tasks: The tasks to train.
        seed: Seed of the race split and of seeded models.
        history: A lake of other seasons' races, as for ``train``.
        on_task: Called with each task's summary as its piece finishes.
    """
    started = time.perf_counter()
    root = (lake.root if isinstance(lake, Lake) else Path(lake)).resolve()
    past = None if history is None else (
        history.root if isinstance(history, Lake) else Path(history)).resolve()
    scratch = root / f".train-{uuid.uuid4().hex[:12]}"
    scratch.mkdir()
    try:
        ((_, paths),) = engine.map(write_rows, [RowsPiece(root, past, tuple(tasks), scratch)])
        pieces = [TaskPiece(task, paths[task.name]) for task in tasks]
        results = in_order(engine.map(functools.partial(train_piece, root, registry, seed),
                                      pieces),
                           None if on_task is None else lambda _i, done: on_task(done))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return TrainingReport(lake=str(root), registry=registry.url, seed=seed,
                          tasks=tuple(results), seconds=time.perf_counter() - started)


__all__ = ["RowsPiece", "TaskPiece", "train_on", "train_piece", "write_rows"]
