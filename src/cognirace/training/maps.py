"""Pictures of what a trained model learned, drawn from a lake it did not train on.

The driver-style map shows the production embedding's view of a lake's laps: if drivers
form clusters across tracks, the embedding describes style rather than the track.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cognirace.lake import open_lake
from cognirace.models.driver_map import plot_embedding
from cognirace.registry import Registry
from cognirace.training.catalogue import select_tasks
from cognirace.training.evaluation import load_production
from cognirace.training.examples import task_examples


def driver_map(lake_path: Path, registry: Registry, path: Path, *,
               rows: pl.DataFrame | None = None) -> Path:
    """Draw the production driver embedding of ``lake_path``'s telemetry laps as a PNG.

    Args:
        lake_path: A lake with telemetry and the simulator's truth (for driver ids).
        registry: Where the production ``driver`` model lives.
        path: The PNG to write.
        rows: The driver task's rows of that lake, when the caller built them already.

    Raises:
        ArtifactError: No production driver model in the registry.
        DataError: The lake has no telemetry laps or no truth.
    """
    task = select_tasks(["driver"])[0]
    model, _version = load_production(registry, task.name)
    if rows is None:
        rows = task_examples(open_lake(lake_path), [task])[task.name]
    return plot_embedding(rows, model.predict(rows), path)


__all__ = ["driver_map"]
