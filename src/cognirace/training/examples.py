"""Every task's examples from one lake, with the feature table built once.

The lap feature table is the expensive step (telemetry aggregates over every lap), and
most tasks read it, so it is built once per lake and shared; a task that reads another
table (telemetry windows, style vectors) names its builder as ``Task.source``. The
simulator's truth is read only when a task needs it for its labels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from cognirace.errors import DataError
from cognirace.features import feature_table
from cognirace.lake import Lake, open_lake
from cognirace.models.task import Task
from cognirace.training.truth import load_truth

REQUIRED_COLUMNS = ("race_id", "track")
"""Columns every task's rows must carry: the splits hold out whole races and tracks."""


def task_examples(lake: Lake, tasks: Sequence[Task],
                  on_step: Callable[[str], None] | None = None) -> dict[str, pl.DataFrame]:
    """Each task's rows from ``lake``, by task name.

    Args:
        lake: An open lake.
        tasks: The tasks whose rows to build.
        on_step: Told what is being built (``"features"``, ``"truth"``, a task name).

    Raises:
        DataError: The lake holds no race, or a task builds no rows from it.
    """
    if not lake.race_ids:
        raise DataError("the lake holds no races", path=lake.root,
                        hint="ingest race files first: `cognirace ingest SRC --lake DIR`")
    step = on_step or (lambda _label: None)
    features = None
    if any(task.source is None for task in tasks):
        step("features")
        features = feature_table(lake)
    truth = None
    if any(task.needs_truth or task.reads_truth for task in tasks):
        step("truth")
        truth = load_truth(lake)
        if truth["laps"].is_empty() and any(task.needs_truth for task in tasks):
            names = ", ".join(t.name for t in tasks if t.needs_truth)
            raise DataError(
                f"{names} need the simulator's truth for their labels or scores, and no "
                "race of this lake has a truth/ folder at its source_dir", path=lake.root,
                hint="train and evaluate them on simulated races (`cognirace simulate`), "
                "or leave them out with --models")
    examples = {}
    for task in tasks:
        step(task.name)
        table = task.source(lake) if task.source is not None else features
        assert table is not None  # built above for every task without a source
        rows = task.rows(table, truth if task.needs_truth or task.reads_truth else None)
        _check_rows(task, rows, lake)
        examples[task.name] = rows
    return examples


HISTORY_PREFIX = "history/"
"""Put before the history lake's race ids: ids are unique within a lake only
(``barber-R1`` may name a race of each lake), and splits group rows by race id."""


def examples_with_history(lake: Lake, tasks: Sequence[Task],
                          history: Lake | str | Path | None,
                          on_step: Callable[[str], None] | None = None
                          ) -> dict[str, pl.DataFrame]:
    """``task_examples`` of ``lake``, with the history lake's rows added for history tasks.

    ``history`` is a lake or its folder; its rows' race ids start with ``HISTORY_PREFIX``.

    Raises:
        DataError: As ``task_examples``; or the history lake is the lake itself (its
            rows would count twice and land on both sides of a split).
    """
    examples = task_examples(lake, tasks, on_step)
    wanting = [task for task in tasks if task.history]
    if history is None or not wanting:
        return examples
    history = history if isinstance(history, Lake) else open_lake(history)
    if history.root.resolve() == lake.root.resolve():
        raise DataError("the history lake is the lake itself", path=history.root,
                        hint="a history lake holds other seasons' races; ingest them "
                        "into a folder of their own")
    step = on_step or (lambda _what: None)
    extra = task_examples(history, wanting, on_step=lambda what: step(f"history: {what}"))
    for task in wanting:
        past = extra[task.name].with_columns((HISTORY_PREFIX + pl.col("race_id")).alias("race_id"))
        examples[task.name] = pl.concat([examples[task.name], past], how="vertical_relaxed")
    return examples


def _check_rows(task: Task, rows: pl.DataFrame, lake: Lake) -> None:
    """Refuse rows a split cannot use, naming the task and the likely cause."""
    missing = [c for c in REQUIRED_COLUMNS if c not in rows.columns]
    if missing:
        raise DataError(f"task {task.name!r} built rows without {', '.join(missing)}",
                        hint="a task's rows must say which race and track each came from")
    if rows.height == 0:
        hint = ("this task's labels come from the simulator's truth/ folders, which this "
                "lake's races lack") if task.needs_truth else "ingest more races"
        raise DataError(f"task {task.name!r} found no examples in the lake",
                        path=lake.root, hint=hint)


__all__ = ["HISTORY_PREFIX", "REQUIRED_COLUMNS", "examples_with_history", "task_examples"]
