"""Training and evaluation of the models: rows, splits, baselines, reports, model cards.

``train(lake, registry, tasks, seed=...)`` fits each task's model and baseline, scores
both on held-out races and leave-one-track-out, refits on every row and publishes
them with a model card as ``production``; ``evaluate(lake, registry, tasks)`` scores
the production versions on a lake they never saw. ``TASKS`` (every task of the model
modules, by name) is read on first access, since it imports the models' libraries.
"""

from typing import Any

from cognirace.models.task import Task
from cognirace.training.cards import TrainingData, card_json, card_markdown
from cognirace.training.catalogue import (
    BASELINE_SUFFIX,
    TASK_MODULES,
    all_tasks,
    baseline_name,
    open_registry,
    select_tasks,
    task_kinds,
)
from cognirace.training.evaluation import HELDOUT, evaluate, load_production
from cognirace.training.examples import HISTORY_PREFIX, examples_with_history, task_examples
from cognirace.training.report import (
    Comparison,
    EvaluationReport,
    TaskTraining,
    TrainingReport,
    markdown_table,
    table_header,
    table_rows,
    wins_line,
)
from cognirace.training.trainer import PRODUCTION, TEST_FRACTION, Progress, train
from cognirace.training.truth import TRUTH_TABLES, load_truth, truth_files

TASKS: dict[str, Task]
"""Every task of ``TASK_MODULES`` by name; resolved by ``__getattr__`` on first access."""


def __getattr__(name: str) -> Any:
    """``TASKS`` is built on first access (see ``catalogue.all_tasks``)."""
    if name == "TASKS":
        return all_tasks()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BASELINE_SUFFIX",
    "HELDOUT",
    "HISTORY_PREFIX",
    "PRODUCTION",
    "TASKS",
    "TASK_MODULES",
    "TEST_FRACTION",
    "TRUTH_TABLES",
    "Comparison",
    "EvaluationReport",
    "Progress",
    "TaskTraining",
    "TrainingData",
    "TrainingReport",
    "all_tasks",
    "baseline_name",
    "card_json",
    "card_markdown",
    "evaluate",
    "examples_with_history",
    "load_production",
    "load_truth",
    "markdown_table",
    "open_registry",
    "select_tasks",
    "table_header",
    "table_rows",
    "task_examples",
    "task_kinds",
    "train",
    "truth_files",
    "wins_line",
]
