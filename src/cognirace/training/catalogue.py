"""The task catalogue: which models ``cognirace train`` knows, found in their modules.

Each model module under ``cognirace.models`` exposes one ``TASK``; the catalogue reads
them by module name, so adding a model is one line in ``TASK_MODULES``. Importing the
models loads their libraries (LightGBM and the like), so the catalogue is built on
first use, not when ``cognirace.training`` is imported: ``cognirace --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from importlib import import_module
from pathlib import Path

from cognirace.errors import ConfigError, ModelError
from cognirace.models.base import Model
from cognirace.models.task import Task
from cognirace.registry import Registry

TASK_MODULES: tuple[str, ...] = (
    "laptime", "tire", "fuel", "pitloss", "fcy", "driver", "traffic", "anomaly",
)
"""Modules of ``cognirace.models`` that expose a ``TASK``, in training order."""

BASELINE_SUFFIX = "-baseline"
"""A task's baseline is published as ``<task name>-baseline`` beside the model."""


@cache
def all_tasks() -> dict[str, Task]:
    """Every task of ``TASK_MODULES``, by name, in catalogue order.

    Raises:
        ModelError: A module's ``TASK`` is not a ``Task``, or two tasks share a name.
    """
    tasks: dict[str, Task] = {}
    for module_name in TASK_MODULES:
        task = getattr(import_module(f"cognirace.models.{module_name}"), "TASK", None)
        if not isinstance(task, Task):
            raise ModelError(f"cognirace.models.{module_name}.TASK is not a Task",
                             value=type(task).__name__, hint="define TASK = Task(...)")
        if task.name in tasks:
            raise ModelError("two model modules declare the same task name", value=task.name)
        tasks[task.name] = task
    return tasks


def select_tasks(names: Sequence[str] | None = None,
                 catalogue: Mapping[str, Task] | None = None) -> list[Task]:
    """The tasks called ``names`` (all of them when None or empty), in catalogue order.

    Raises:
        ConfigError: A name is not in the catalogue; the message lists the known ones.
    """
    known = all_tasks() if catalogue is None else catalogue
    if not names:
        return list(known.values())
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(f"unknown model {unknown[0]!r}", value=unknown,
                          hint=f"known models: {', '.join(known)}")
    wanted = set(names)
    return [task for name, task in known.items() if name in wanted]


def baseline_name(task: Task) -> str:
    """The registry name of a task's baseline."""
    return f"{task.name}{BASELINE_SUFFIX}"


def task_kinds(tasks: Iterable[Task]) -> dict[str, type[Model]]:
    """The registry allow-list for ``tasks``: model kind to class, models and baselines.

    Raises:
        ModelError: Two classes claim the same kind.
    """
    kinds: dict[str, type[Model]] = {}
    for task in tasks:
        for cls in (task.model, task.baseline):
            if kinds.setdefault(cls.kind, cls) is not cls:
                raise ModelError("two model classes share a kind", value=cls.kind,
                                 hint="give each class its own `kind`")
    return kinds


def open_registry(url: str | Path, tasks: Iterable[Task] | None = None) -> Registry:
    """A registry allowed to store and load the models and baselines of ``tasks``.

    The allow-list comes from the tasks themselves, so a registry opened here can load
    every model the catalogue can train, and nothing else.
    """
    chosen = list(all_tasks().values()) if tasks is None else list(tasks)
    return Registry(url, kinds=task_kinds(chosen))


__all__ = [
    "BASELINE_SUFFIX",
    "TASK_MODULES",
    "all_tasks",
    "baseline_name",
    "open_registry",
    "select_tasks",
    "task_kinds",
]
