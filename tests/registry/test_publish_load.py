"""Publishing and loading: round trip, manifest, versions, aliases, cards."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import cognirace
from cognirace.errors import ArtifactError, ConfigError, ModelError, NotFittedError
from cognirace.registry import Registry, data_fingerprint
from models.reference import LinearLapTimeModel


def _publish(registry: Registry, model: LinearLapTimeModel, frame: pl.DataFrame) -> str:
    return registry.publish(model, "lap_time", metrics={"mae_s": 0.17},
                            data_fingerprint=data_fingerprint(frame))


def test_round_trip_gives_identical_predictions(
    registry: Registry, model: LinearLapTimeModel, frame: pl.DataFrame,
) -> None:
    version = registry.publish(
        model, "lap_time", metrics={"mae_s": 0.17, "coverage": 0.8},
        data_fingerprint=data_fingerprint(frame), card_markdown="# Lap time\n",
        card_json={"purpose": "next lap time"},
    )
    loaded = registry.load("lap_time", version)
    assert isinstance(loaded, LinearLapTimeModel)
    assert_frame_equal(loaded.predict(frame), model.predict(frame))
    assert loaded.metadata().metrics == {"mae_s": 0.17, "coverage": 0.8}
    assert loaded.metadata().data_fingerprint == data_fingerprint(frame)
    assert registry.card_markdown("lap_time") == "# Lap time\n"
    assert registry.card_json("lap_time") == {"purpose": "next lap time"}


def test_the_manifest_records_files_origin_and_metrics(
    registry: Registry, model: LinearLapTimeModel, frame: pl.DataFrame,
) -> None:
    _publish(registry, model, frame)
    manifest = registry.manifest("lap_time", "v1")
    assert set(manifest.files) == {
        "model/model.json", "model/state.json", "model/arrays/coef.npy"}
    assert all(re.fullmatch("[0-9a-f]{64}", f.sha256) and f.size_bytes > 0
               for f in manifest.files.values())
    assert manifest.kind == "reference_linear"
    assert manifest.model_class.endswith("LinearLapTimeModel")
    assert manifest.code_version.cognirace == cognirace.__version__
    commit = manifest.code_version.git_commit
    assert commit is None or re.fullmatch("[0-9a-f]{40}", commit)
    assert manifest.metrics == {"mae_s": 0.17}
    assert datetime.now(UTC) - manifest.created_at < timedelta(minutes=1)
    assert registry.card_markdown("lap_time") is None


def test_versions_grow_and_sort_by_number(
    registry: Registry, model: LinearLapTimeModel, frame: pl.DataFrame,
) -> None:
    versions = [_publish(registry, model, frame) for _ in range(11)]
    assert versions == [f"v{i}" for i in range(1, 12)]
    assert registry.list_versions("lap_time") == versions
    assert registry.resolve("lap_time", "latest") == "v11"
    assert registry.list_models() == ["lap_time"]


def test_aliases_are_set_moved_and_removed(
    registry: Registry, model: LinearLapTimeModel, frame: pl.DataFrame,
) -> None:
    _publish(registry, model, frame)
    registry.set_alias("lap_time", "production", "v1")
    _publish(registry, LinearLapTimeModel(ridge=50.0).fit(frame), frame)
    assert registry.aliases("lap_time") == {"latest": "v2", "production": "v1"}
    assert registry.load("lap_time", "production").get_params()["ridge"] == 1.0
    registry.set_alias("lap_time", "production", "latest")
    registry.set_alias("lap_time", "candidate-2", "v1")
    assert registry.aliases("lap_time") == {"latest": "v2", "production": "v2", "candidate-2": "v1"}
    registry.set_alias("lap_time", "latest", "v1")  # a rollback
    assert registry.resolve("lap_time") == "v1"
    registry.remove_alias("lap_time", "latest")
    assert registry.resolve("lap_time") == "v2"  # falls back to the newest version


def test_unknown_names_versions_and_aliases_are_explained(
    registry: Registry, model: LinearLapTimeModel, frame: pl.DataFrame,
) -> None:
    with pytest.raises(ArtifactError, match="no model named"):
        registry.load("lap_time")
    _publish(registry, model, frame)
    with pytest.raises(ArtifactError, match="versions: v1"):
        registry.load("lap_time", "v7")
    with pytest.raises(ArtifactError, match="no alias"):
        registry.load("lap_time", "production")
    with pytest.raises(ArtifactError, match="no version"):
        registry.set_alias("lap_time", "production", "v9")
    with pytest.raises(ConfigError, match="look like a version"):
        registry.set_alias("lap_time", "v2", "v1")
    with pytest.raises(ConfigError, match="invalid model name"):
        registry.list_versions("../etc")


def test_bad_publishes_leave_nothing(
    registry: Registry, model: LinearLapTimeModel, frame: pl.DataFrame,
) -> None:
    with pytest.raises(NotFittedError):
        registry.publish(LinearLapTimeModel(), "lap_time", metrics={}, data_fingerprint="x")
    with pytest.raises(ModelError, match="finite"):
        registry.publish(model, "lap_time", metrics={"auc": float("nan")}, data_fingerprint="x")
    with pytest.raises(ArtifactError, match="allow-list"):
        Registry(registry.url).publish(model, "lap_time", metrics={}, data_fingerprint="x")
    assert registry.list_models() == []
