"""The models a worker serves: loaded once from the registry, swapped whole on reload.

Each worker holds one ``Served`` per task, an immutable bundle of the model, its version
and everything a request needs precomputed (input dtypes, output names, the JSON that
describes it). A request takes the bundle once and keeps it to the end, so a reload that
swaps the bundle under it never mixes versions. A version that fails to load (checksum
mismatch, missing file) leaves the previous one serving; the failure is logged and shown
by ``readiness`` until a later reload succeeds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from cognirace.errors import CogniraceError
from cognirace.models.base import Model
from cognirace.models.schema import ColumnSpec
from cognirace.registry import Registry
from cognirace.training.catalogue import TASK_MODULES, all_tasks, task_kinds

logger = logging.getLogger("cognirace.api.store")

REACHABLE_TTL_S = 5.0
"""How long a registry reachability probe is trusted, so ``/ready`` polls stay cheap."""


@dataclass(frozen=True)
class Served:
    """One model as served: never mutated, replaced whole by a reload."""

    name: str
    version: str
    model: Model
    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...]
    frame_schema: dict[str, pl.DataType]
    output_names: tuple[str, ...]
    info: dict[str, Any]
    loaded_at: float = field(default_factory=time.time)


def describe(name: str, version: str, model: Model, *, title: str = "",
             created_at: datetime | None = None) -> Served:
    """Bundle a loaded model with what requests need, computed once here."""
    meta = model.metadata()
    inputs, outputs = tuple(meta.inputs), tuple(meta.outputs)
    info = {
        "name": name, "version": version, "title": title, "kind": meta.kind,
        "kind_version": meta.kind_version, "metrics": dict(meta.metrics),
        "data_fingerprint": meta.data_fingerprint,
        "created_at": None if created_at is None else created_at.isoformat(),
        "inputs": [c.to_dict() for c in inputs], "outputs": [c.to_dict() for c in outputs],
        "keys": list(meta.keys),
    }
    return Served(name=name, version=version, model=model, inputs=inputs, outputs=outputs,
                  frame_schema={c.name: c.polars_dtype for c in inputs},
                  output_names=tuple(c.name for c in outputs), info=info)


@dataclass(frozen=True)
class LoadOutcome:
    """What a load or reload did for one model."""

    name: str
    status: str  # "loaded", "unchanged" or "failed"
    version: str | None
    previous: str | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the reload route."""
        return {"status": self.status, "version": self.version, "previous": self.previous,
                "error": self.error}


class ModelStore:
    """The production version of each task, per worker.

    Args:
        registry: Where the models come from (checksums verified on every load).
        names: The models served (default: the eight tasks).
        alias: The registry alias served, ``production`` in practice.
        on_loaded: Told ``(name, version)`` after each successful swap (metrics).
        on_failed: Told the name of each model whose load failed (metrics).
    """

    def __init__(self, registry: Registry, names: Sequence[str] = TASK_MODULES, *,
                 alias: str = "production",
                 on_loaded: Callable[[str, str], None] | None = None,
                 on_failed: Callable[[str], None] | None = None) -> None:
        self.registry = registry
        self.names = tuple(names)
        self.alias = alias
        self.on_loaded = on_loaded
        self.on_failed = on_failed
        self._served: dict[str, Served] = {}
        self._failures: dict[str, str] = {}
        self._lock = threading.Lock()
        self.probe_ttl_s = REACHABLE_TTL_S
        self._reachable: tuple[float, str | None] = (-float("inf"), None)

    @classmethod
    def open(cls, registry_url: str, cache_dir: Path | None, *, alias: str = "production"
             ) -> ModelStore:
        """A store over ``registry_url``; a remote registry's files are kept in ``cache_dir``."""
        kinds = task_kinds(all_tasks().values())
        return cls(Registry(registry_url, cache_dir=cache_dir, kinds=kinds), alias=alias)

    def get(self, name: str) -> Served | None:
        """The bundle now serving ``name``, or None when it never loaded."""
        return self._served.get(name)

    def served(self) -> dict[str, Served]:
        """Every model serving now, by name (a snapshot)."""
        return dict(self._served)

    def put(self, served: Served) -> None:
        """Serve ``served`` from now on; in-flight requests keep the bundle they took."""
        self._served = {**self._served, served.name: served}
        self._failures.pop(served.name, None)
        if self.on_loaded is not None:
            self.on_loaded(served.name, served.version)

    def reload(self) -> dict[str, LoadOutcome]:
        """Load the alias's version of every model; keep the previous one on failure.

        Reloads are serialised; a model whose version did not change is not read again.
        """
        with self._lock:
            return {name: self._reload_one(name) for name in self.names}

    def _reload_one(self, name: str) -> LoadOutcome:
        current = self._served.get(name)
        previous = None if current is None else current.version
        version: str | None = None
        try:
            version = self.registry.resolve(name, self.alias)
            if current is not None and current.version == version:
                self._failures.pop(name, None)
                return LoadOutcome(name, "unchanged", version, previous)
            model = self.registry.load(name, version)
            manifest = self.registry.manifest(name, version)
            tasks = all_tasks()
            title = tasks[name].title if name in tasks else ""
            self.put(describe(name, version, model, title=title,
                              created_at=manifest.created_at))
        except (CogniraceError, OSError, ValueError) as exc:
            message = f"{name} {version or self.alias}: {exc}"
            self._failures[name] = message
            logger.error("model load failed, %s", "keeping " + previous if previous
                         else "not serving it", extra={"model": name, "error": message})
            if self.on_failed is not None:
                self.on_failed(name)
            return LoadOutcome(name, "failed", version, previous, message)
        logger.info("model loaded", extra={"model": name, "version": version,
                                           "previous": previous})
        return LoadOutcome(name, "loaded", version, previous)

    def registry_error(self) -> str | None:
        """Why the registry cannot be listed, or None; probed at most every few seconds."""
        checked, error = self._reachable
        if time.monotonic() - checked < self.probe_ttl_s:
            return error
        try:
            error = None if self.registry.list_models() else (
                f"registry {self.registry.url} lists no models (missing or unreachable)")
        except Exception as exc:  # any storage failure means "unreachable"
            error = f"registry {self.registry.url} unreachable: {type(exc).__name__}: {exc}"
        self._reachable = (time.monotonic(), error)
        return error

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether every model serves and the registry answers, with the reasons if not.

        A model whose newer version failed but whose previous one serves keeps the
        service ready; the failure is listed under ``problems`` all the same.
        """
        reasons: list[str] = []
        models: dict[str, Any] = {}
        for name in self.names:
            served = self._served.get(name)
            failure = self._failures.get(name)
            models[name] = {"version": None if served is None else served.version,
                            "error": failure}
            if served is None:
                reasons.append(failure or f"{name}: no {self.alias} version loaded")
        problems = [f for n, f in self._failures.items() if n in self._served]
        error = self.registry_error()
        if error is not None:
            reasons.append(error)
        return not reasons, {"ready": not reasons, "reasons": reasons,
                             "problems": problems, "models": models}


def served_from(models: Mapping[str, tuple[Model, str]]) -> list[Served]:
    """Bundles for models already in memory (tests, embedding the app in-process)."""
    return [describe(name, version, model) for name, (model, version) in models.items()]


__all__ = ["LoadOutcome", "ModelStore", "Served", "describe", "served_from"]
