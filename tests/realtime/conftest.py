"""A small simulated season to stream, ingested once per session."""

from __future__ import annotations

import pytest

from cognirace.lake import Lake
from training.conftest import tiny_lake


@pytest.fixture(scope="session")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """Two tracks, two 30-minute races each, telemetry at 2 Hz in each Race 2."""
    return tiny_lake(tmp_path_factory.mktemp("live"), seed=5)


@pytest.fixture(scope="session")
def telemetry_race(lake: Lake) -> str:
    """A race of the lake with telemetry."""
    summary = lake.summary().filter(pl_samples_positive := (lake.summary()["n_samples"] > 0))
    del pl_samples_positive
    return str(summary["race_id"][0])
