"""The production version of each model a tool needs, loaded once, with what is missing.

A strategy answer, a backtest or a benchmark asks several models; each is loaded from
the registry as published (checksums verified by ``Registry.load``), and a model the
registry lacks, or has no production version of, is reported by name rather than
skipped in silence: the caller decides whether it can answer without it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cognirace.errors import ArtifactError, ChecksumMismatchError
from cognirace.models.base import Model
from cognirace.registry.store import Registry


@dataclass(frozen=True)
class Production:
    """The loaded models by task name, and why each missing one is missing."""

    models: dict[str, Model] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def __call__(self, name: str) -> Model | None:
        """The model of a task, or None (the live engine's and the strategy's lookup)."""
        return self.models.get(name)


def load_production(registry: Registry, names: Iterable[str]) -> Production:
    """Each named model's production version (``Registry.load(name, "production")``).

    Raises:
        ChecksumMismatchError: A model's files do not match its manifest.
    """
    loaded: dict[str, Model] = {}
    missing: dict[str, str] = {}
    for name in names:
        try:
            loaded[name] = registry.load(name, "production")
        except ChecksumMismatchError:
            raise  # an altered artifact is never "missing": it stops the caller
        except ArtifactError as exc:
            missing[name] = str(exc.args[0]) if exc.args else type(exc).__name__
    return Production(loaded, missing)


__all__ = ["Production", "load_production"]
