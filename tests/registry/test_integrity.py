"""A stored model is trusted only when every byte matches its manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fsspec
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cognirace.errors import ArtifactError, ChecksumMismatchError
from cognirace.registry import Registry, data_fingerprint
from models.reference import LinearLapTimeModel
from registry.conftest import KINDS

COEF = "model/arrays/coef.npy"


def _publish(registry: Registry, model: LinearLapTimeModel, frame: pl.DataFrame) -> str:
    return registry.publish(model, "lap_time", metrics={"mae_s": 0.2},
                            data_fingerprint=data_fingerprint(frame))


def _version_path(registry: Registry, version: str = "v1") -> str:
    return f"{registry.url.rstrip('/')}/lap_time/{version}"


def _fs(registry: Registry) -> fsspec.AbstractFileSystem:
    """The registry's file system (fsspec hands out one shared instance per URL kind)."""
    return fsspec.core.url_to_fs(registry.url)[0]


def _root(registry: Registry) -> str:
    return str(fsspec.core.url_to_fs(registry.url)[1])


def test_a_tampered_file_is_refused_by_name(
    registry: Registry, model: LinearLapTimeModel, frame: pl.DataFrame,
) -> None:
    _publish(registry, model, frame)
    fs, path = _fs(registry), f"{_version_path(registry)}/{COEF}"
    data = bytearray(fs.cat_file(path))
    data[-1] ^= 0x01
    fs.pipe_file(path, bytes(data))
    with pytest.raises(ChecksumMismatchError, match=r"coef\.npy"):
        Registry(registry.url, kinds=KINDS).load("lap_time")


@pytest.mark.parametrize("change", ["missing", "extra"])
def test_missing_and_extra_files_are_refused(
    change: str, registry: Registry, model: LinearLapTimeModel, frame: pl.DataFrame,
) -> None:
    _publish(registry, model, frame)
    fs, base = _fs(registry), _version_path(registry)
    if change == "missing":
        fs.rm(f"{base}/{COEF}")
        expected = r"coef\.npy.*missing"
    else:
        fs.pipe_file(f"{base}/model/extra.py", b"print('hi')")
        expected = r"extra\.py.*not in the manifest"
    with pytest.raises(ChecksumMismatchError, match=expected):
        Registry(registry.url, kinds=KINDS).load("lap_time")


def _rewrite_manifest(registry: Registry, **changes: Any) -> None:
    fs, path = _fs(registry), f"{_version_path(registry)}/manifest.json"
    fs.pipe_file(path, json.dumps({**json.loads(fs.cat_file(path)), **changes}).encode())


def test_the_model_class_comes_from_the_allow_list_only(
    registry: Registry, model: LinearLapTimeModel, frame: pl.DataFrame,
) -> None:
    _publish(registry, model, frame)
    _rewrite_manifest(registry, kind="evil", model_class="os.system")
    with pytest.raises(ArtifactError, match="allow-list"):
        registry.load("lap_time")


def test_a_manifest_naming_paths_outside_its_version_is_refused(
    registry: Registry, model: LinearLapTimeModel, frame: pl.DataFrame,
) -> None:
    _publish(registry, model, frame)
    entry = {"sha256": "0" * 64, "size_bytes": 1}
    _rewrite_manifest(registry, files={"../../outside.txt": entry})
    with pytest.raises(ArtifactError, match="unsafe file name"):
        registry.load("lap_time")


def test_a_crash_before_the_manifest_leaves_no_listed_version(
    registry: Registry, model: LinearLapTimeModel, frame: pl.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _publish(registry, model, frame)
    fs = _fs(registry)
    real_mv = fs.mv

    def crash_on_manifest(src: str, dst: str, **kwargs: Any) -> None:
        if dst.endswith("manifest.json"):
            raise OSError("connection lost")
        real_mv(src, dst, **kwargs)

    monkeypatch.setattr(fs, "mv", crash_on_manifest)
    with pytest.raises(OSError, match="connection lost"):
        _publish(registry, LinearLapTimeModel(ridge=9.0).fit(frame), frame)
    monkeypatch.undo()
    assert registry.list_versions("lap_time") == ["v1"]
    assert registry.load("lap_time").get_params()["ridge"] == 1.0
    assert fs.find(f"{_root(registry)}/lap_time/.staging") == []
    assert _publish(registry, model, frame) == "v3"  # the crashed number is not reused
    assert registry.list_versions("lap_time") == ["v1", "v3"]


def test_a_crash_mid_upload_leaves_nothing_in_place(
    registry: Registry, model: LinearLapTimeModel, frame: pl.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fs = _fs(registry)
    real_put = fs.put_file
    calls: list[str] = []

    def crash_on_second(lpath: str, rpath: str, **kwargs: Any) -> None:
        calls.append(rpath)
        if len(calls) == 2:
            raise OSError("disk full")
        real_put(lpath, rpath, **kwargs)

    monkeypatch.setattr(fs, "put_file", crash_on_second)
    with pytest.raises(OSError, match="disk full"):
        _publish(registry, model, frame)
    monkeypatch.undo()
    assert registry.list_models() == []
    assert not fs.exists(f"{_root(registry)}/lap_time/v1")


def test_a_restart_reuses_the_verified_cache(
    memory_url: str, model: LinearLapTimeModel, frame: pl.DataFrame, tmp_path: Path,
) -> None:
    first = Registry(memory_url, kinds=KINDS, cache_dir=tmp_path / "cache")
    _publish(first, model, frame)
    expected = first.load("lap_time").predict(frame)
    fs, base = _fs(first), _version_path(first)
    saved = fs.cat_file(f"{base}/{COEF}")
    fs.rm(f"{base}/{COEF}")  # a download now would fail: only the cache can serve this
    restarted = Registry(memory_url, kinds=KINDS, cache_dir=tmp_path / "cache")
    assert_frame_equal(restarted.load("lap_time").predict(frame), expected)
    fs.pipe_file(f"{base}/{COEF}", saved)
    cached = next((tmp_path / "cache").rglob("coef.npy"))
    cached.write_bytes(cached.read_bytes()[:-1])  # a corrupted cache is downloaded again
    assert_frame_equal(restarted.load("lap_time").predict(frame), expected)
    assert [p.name for p in cached.parents[3].iterdir()] == ["v1"]  # no partial downloads


def test_without_a_cache_each_load_downloads_and_verifies(
    memory_url: str, model: LinearLapTimeModel, frame: pl.DataFrame,
) -> None:
    registry = Registry(memory_url, kinds=KINDS)
    _publish(registry, model, frame)
    assert_frame_equal(registry.load("lap_time").predict(frame), model.predict(frame))
    fs, base = _fs(registry), _version_path(registry)
    fs.pipe_file(f"{base}/model/state.json", b'{"values": {"n_rows": 1}, "arrays": ["coef"]}')
    with pytest.raises(ChecksumMismatchError, match=r"state\.json"):
        registry.load("lap_time")
