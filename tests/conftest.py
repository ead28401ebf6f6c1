"""Shared fixtures: a seed, a temporary lake, and an environment free of COGNIRACE_* settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cognirace.config import get_settings

pytest_plugins = ["redis_server"]
"""The ``redis_url`` fixture: a real Redis server, started when none runs."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first, in their order: with ``-n 2`` a worker starts on the
    longest (training a demo season and scoring three more) while the other takes the
    rest, instead of one worker being left alone with it at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def seed() -> int:
    """A fixed seed; tests that must hold for any seed parametrise over a range instead."""
    return 20250720


@pytest.fixture
def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.fixture(scope="session")
def real_lake_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lake of every real race in ``../shared/real`` (skips without the folder)."""
    from real_data import real_lake

    return real_lake(tmp_path_factory)


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    """An empty folder for a lake."""
    path = tmp_path / "lake"
    path.mkdir()
    return path


@pytest.fixture
def memory_url() -> Iterator[str]:
    """A fresh memory:// root, removed afterwards (the memory file system is global)."""
    import uuid

    import fsspec

    url = f"memory://test-{uuid.uuid4().hex}"
    yield url
    fs = fsspec.filesystem("memory")
    if fs.exists(url):
        fs.rm(url, recursive=True)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No COGNIRACE_* variable of the caller's shell leaks into a test."""
    import os

    for key in list(os.environ):
        if key.startswith("COGNIRACE_"):
            monkeypatch.delenv(key)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
