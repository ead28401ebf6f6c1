"""The driver-style map is drawn from a lake the embedding did not train on."""

from __future__ import annotations

from pathlib import Path

import pytest

from cognirace.errors import ArtifactError
from cognirace.lake import Lake
from cognirace.training import open_registry, select_tasks, train
from cognirace.training.maps import driver_map


def test_the_map_is_a_png_of_the_unseen_lake(season: Lake, heldout: Lake,
                                              tmp_path: Path) -> None:
    tasks = select_tasks(["driver"])
    registry = open_registry(tmp_path / "registry", tasks)
    train(season, registry, tasks, seed=0)
    path = driver_map(heldout.root, registry, tmp_path / "maps" / "driver.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000


def test_without_a_trained_embedding_it_says_to_train(heldout: Lake, tmp_path: Path) -> None:
    registry = open_registry(tmp_path / "empty", select_tasks(["driver"]))
    with pytest.raises(ArtifactError, match="no production model 'driver'"):
        driver_map(heldout.root, registry, tmp_path / "driver.png")
