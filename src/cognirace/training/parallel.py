"""Training on an engine: the rows built once and stored, then one piece per fit.

``train`` builds every task's rows and fits their splits side by side in threads of one
process. ``train_on`` runs the same fits as pieces of work of an engine (Ray tasks with
``--engine ray``): one piece builds every task's rows (the lap feature table once, as
``train`` does) and writes them as Parquet in a scratch folder inside the lake; then
one piece per task and evaluation split (the race split, each track held out) reads its
task's rows from there, fits and scores; last, one piece per task refits on every row
and publishes, with the card made from its splits' scores. The driver only sees paths
and scores. The registry's entries are those of ``train`` apart from their timestamps:
same rows, same splits, same seeds, same code.

The lake is a folder every worker sees or a URL (``s3://``...), which each node reads
through its own cached copy; the registry must be reachable from every worker too. The
scratch folder is removed at the end.
"""

from __future__ import annotations

import contextlib
import functools
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cognirace.lake import Lake, open_lake
from cognirace.lake.remote import cached_lake
from cognirace.models.task import Task
from cognirace.registry import Registry
from cognirace.scale import Engine, in_order
from cognirace.scale.remote import download, node_cache, node_scratch, remove, upload
from cognirace.scale.storage import Location, location
from cognirace.training.examples import examples_with_history
from cognirace.training.report import TaskTraining, TrainingReport
from cognirace.training.trainer import (
    Scored,
    comparisons_of_splits,
    n_splits,
    publish_task,
    score_split,
)


def lake_folder(lake: Location) -> Path:
    """The lake as a folder on this node: a local one as it is, one at a URL cached."""
    return lake.local if lake.local is not None else cached_lake(lake, node_cache())


@contextlib.contextmanager
def _writing(scratch: Location) -> Iterator[Path]:
    """A folder to write into that ends up as ``scratch``: the folder itself when it is
    on this disk, else a temporary one uploaded at the end."""
    if scratch.local is not None:
        scratch.local.mkdir(parents=True, exist_ok=True)
        yield scratch.local
        return
    with node_scratch() as folder:
        yield folder
        upload(folder, scratch)


def read_rows(scratch: Location, name: str) -> pl.DataFrame:
    """A task's rows from the scratch folder (fetched first when it is at a URL)."""
    if scratch.local is not None:
        return pl.read_parquet(scratch.local / name)
    with node_scratch() as folder:
        (path,) = download(scratch, [name], folder)
        return pl.read_parquet(path)


@dataclass(frozen=True)
class RowsPiece:
    """Build every task's rows from a lake (and a history lake) into ``scratch``."""

    lake: Location
    history: Location | None
    tasks: tuple[Task, ...]
    scratch: Location


@dataclass(frozen=True)
class StoredRows:
    """A task's rows in the scratch folder, and how many evaluation splits they make."""

    name: str
    splits: int


def write_rows(piece: RowsPiece) -> dict[str, StoredRows]:
    """Each task's rows as a Parquet file in the scratch folder, by task name."""
    history = None if piece.history is None else open_lake(lake_folder(piece.history))
    examples = examples_with_history(open_lake(lake_folder(piece.lake)), piece.tasks,
                                     history)
    stored = {}
    with _writing(piece.scratch) as folder:
        for name, rows in examples.items():
            rows.write_parquet(folder / f"{name}.parquet")
            stored[name] = StoredRows(f"{name}.parquet", n_splits(rows))
    return stored


@dataclass(frozen=True)
class SplitPiece:
    """Fit and score one task on one of its evaluation splits."""

    task: Task
    rows: str
    index: int


def split_piece(scratch: Location, seed: int, piece: SplitPiece
                ) -> tuple[str, Scored, float]:
    """``trainer.score_split`` on the stored rows (runs on a worker), with its time."""
    started = time.perf_counter()
    name, scored = score_split(piece.task, read_rows(scratch, piece.rows), seed, piece.index)
    return name, scored, time.perf_counter() - started


@dataclass(frozen=True)
class PublishPiece:
    """Refit one task on every row and publish it, with its splits' scores."""

    task: Task
    rows: str
    scored: tuple[tuple[str, Scored], ...]
    seconds: float


def publish_piece(scratch: Location, registry: Registry, lake: str, seed: int,
                  piece: PublishPiece) -> TaskTraining:
    """``trainer.publish_task`` on the stored rows (runs on a worker)."""
    return publish_task(piece.task, read_rows(scratch, piece.rows), registry, lake, seed,
                        comparisons_of_splits(piece.task, piece.scored), piece.seconds)


def _located(lake: Lake | Location | str | Path) -> Location:
    if isinstance(lake, Location):
        return lake
    return location(lake.root if isinstance(lake, Lake) else Path(lake), what="lake")


def train_on(engine: Engine, lake: Lake | Location | str | Path, registry: Registry,
             tasks: Sequence[Task], *, seed: int = 0,
             history: Lake | Location | str | Path | None = None,
             on_split: Callable[[str, str], None] | None = None,
             on_task: Callable[[TaskTraining], None] | None = None) -> TrainingReport:
    """``train`` with one piece of work per fit on ``engine`` (see the module docstring).

    Args:
        engine: Where the pieces run.
        lake: A lake: a folder every worker sees, or a ``Location`` at a URL.
        registry: Where models, baselines and cards are published (a folder or a bucket
            every worker reaches: ``memory://`` lives in one process only).
        tasks: The tasks to train.
        seed: Seed of the race split and of seeded models.
        history: A lake of other seasons' races, as for ``train``.
        on_split: Called with a task's name and a split's name as each split is scored.
        on_task: Called with each task's summary as it is published.
    """
    started = time.perf_counter()
    where, past = _located(lake), None if history is None else _located(history)
    scratch = where.child(f".train-{uuid.uuid4().hex[:12]}")
    try:
        ((_, stored),) = engine.map(write_rows, [RowsPiece(where, past, tuple(tasks), scratch)])
        splits = [SplitPiece(task, stored[task.name].name, index)
                  for task in tasks for index in range(stored[task.name].splits)]

        def split_done(index: int, done: tuple[str, Scored, float]) -> None:
            if on_split is not None:
                on_split(splits[index].task.name, done[0])

        scored = in_order(engine.map(functools.partial(split_piece, scratch, seed), splits),
                          split_done)
        by_task: dict[str, list[tuple[str, Scored, float]]] = {t.name: [] for t in tasks}
        for piece, done in zip(splits, scored, strict=True):
            by_task[piece.task.name].append(done)
        publish = [PublishPiece(task, stored[task.name].name,
                                tuple((name, one) for name, one, _ in by_task[task.name]),
                                sum(spent for _, _, spent in by_task[task.name]))
                   for task in tasks]
        results = in_order(
            engine.map(functools.partial(publish_piece, scratch, registry, where.url, seed),
                       publish),
            None if on_task is None else lambda _i, done: on_task(done))
    finally:
        remove(scratch)
    return TrainingReport(lake=where.url, registry=registry.url, seed=seed,
                          tasks=tuple(results), seconds=time.perf_counter() - started)


__all__ = ["PublishPiece", "RowsPiece", "SplitPiece", "StoredRows", "lake_folder",
           "publish_piece", "read_rows", "split_piece", "train_on", "write_rows"]
