"""Registries over memory:// and a local folder, allowed to load the reference model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cognirace.registry import Registry
from models.reference import LinearLapTimeModel, lap_frame

KINDS = {LinearLapTimeModel.kind: LinearLapTimeModel}


@pytest.fixture(params=["memory", "local"])
def registry(request: pytest.FixtureRequest, memory_url: str, tmp_path: Path) -> Registry:
    """The same tests run against object-store semantics and a local folder."""
    url = memory_url if request.param == "memory" else str(tmp_path / "registry")
    return Registry(url, kinds=KINDS, cache_dir=tmp_path / "cache")


@pytest.fixture
def frame(rng: np.random.Generator) -> pl.DataFrame:
    return lap_frame(rng, 80)


@pytest.fixture
def model(frame: pl.DataFrame) -> LinearLapTimeModel:
    return LinearLapTimeModel(ridge=1.0).fit(frame)
