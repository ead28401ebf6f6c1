"""The production version of the models a tool needs, loaded as published.

``load_production`` loads one task's production model (checksums verified by
``Registry.load``); ``production_models`` loads several and reports by name each one the
registry lacks, rather than skipping it in silence: the caller decides whether it can
answer without it. A model whose files do not match its manifest is never "missing":
it stops the caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cognirace.errors import ArtifactError, ChecksumMismatchError
from cognirace.models.base import Model
from cognirace.registry.store import Registry

PRODUCTION = "production"
"""The alias of the version a task serves."""


def load_production(registry: Registry, name: str) -> tuple[Model, str]:
    """The ``production`` version of ``name`` and its version string.

    Raises:
        ArtifactError: Not in the registry (or never promoted); says to train first.
        ChecksumMismatchError: Its files do not match its manifest.
    """
    try:
        version = registry.resolve(name, PRODUCTION)
        return registry.load(name, version), version
    except ChecksumMismatchError:
        raise
    except ArtifactError as exc:
        raise ArtifactError(f"the registry has no production model {name!r}",
                            path=registry.url,
                            hint="train it first: `cognirace train --lake DIR "
                            f"--registry {registry.url}`") from exc


@dataclass(frozen=True)
class Production:
    """The loaded models by task name, and why each missing one is missing."""

    models: dict[str, Model] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)

    def __call__(self, name: str) -> Model | None:
        """The model of a task, or None (the live engine's and the strategy's lookup)."""
        return self.models.get(name)


def production_models(registry: Registry, names: Iterable[str]) -> Production:
    """Each named task's production model (``load_production``), and the reason for
    each one not there.

    Raises:
        ChecksumMismatchError: A model's files do not match its manifest.
    """
    loaded: dict[str, Model] = {}
    missing: dict[str, str] = {}
    for name in names:
        try:
            loaded[name] = load_production(registry, name)[0]
        except ChecksumMismatchError:
            raise
        except ArtifactError as exc:
            missing[name] = str(exc.args[0]) if exc.args else type(exc).__name__
    return Production(loaded, missing)


__all__ = ["PRODUCTION", "Production", "load_production", "production_models"]
