"""URLs, names and code versions: the registry's small print."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

from cognirace.errors import ConfigError
from cognirace.registry import Registry
from cognirace.registry.codeversion import git_commit
from cognirace.registry.naming import check_alias, check_name, version_number
from cognirace.registry.storage import join, relative


@pytest.mark.parametrize(("url", "package"), [("gs://bucket/models", "gcsfs"),
                                               ("s3://bucket/models", "s3fs")])
def test_a_missing_object_store_package_is_named(url: str, package: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # as on a machine without it, installed or not: its import fails, and fsspec has
    # not kept the class from an earlier use
    monkeypatch.setitem(sys.modules, package, None)
    known = importlib.import_module("fsspec.registry")._registry  # the classes imported
    monkeypatch.delitem(known, url.split("://")[0], raising=False)
    with pytest.raises(ConfigError, match=rf"needs the {package} package: pip install"):
        Registry(url)


def test_an_unknown_scheme_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown registry URL scheme"):
        Registry("nosuchfs://x")


def test_an_empty_registry_lists_nothing(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "never-created")
    assert registry.list_models() == []
    assert registry.list_versions("lap_time") == []


@pytest.mark.parametrize("name", ["", "..", "a/b", "Lap", "../x", "a\\b", "x" * 101])
def test_unsafe_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError):
        check_name(name)


def test_versions_and_aliases_do_not_mix() -> None:
    assert version_number("v12") == 12
    for bad in ("v0", "v01", "12", "V3"):
        with pytest.raises(ConfigError):
            version_number(bad)
    assert check_alias("production") == "production"
    with pytest.raises(ConfigError):
        check_alias("v3")


def test_paths_join_with_slashes() -> None:
    assert join("/reg", "lap_time", "v1/") == "/reg/lap_time/v1"
    assert relative("/reg/lap_time/v1/model/x.npy", "/reg/lap_time/v1") == "model/x.npy"
    with pytest.raises(ValueError):
        relative("/other/x", "/reg")


def test_git_commit_is_a_hash_or_unknown(tmp_path: Path) -> None:
    commit = git_commit()
    assert commit is None or re.fullmatch("[0-9a-f]{40}", commit)
    assert git_commit(tmp_path) is None  # not a checkout
