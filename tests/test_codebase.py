"""The code base keeps its own rules: lint, types and the layer contracts of DESIGN.md."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: install the dev extra (pip install -e '.[dev]')")
    return found


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_is_clean() -> None:
    result = _run(_tool("ruff"), "check", "src", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = _run(_tool("mypy"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_layer_contracts_hold() -> None:
    result = _run(_tool("lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_public_api_is_pinned() -> None:
    import cognirace
    import cognirace.errors as errors

    assert cognirace.__version__
    assert issubclass(errors.ChecksumMismatchError, errors.ArtifactError)
    assert issubclass(errors.SchemaError, errors.DataError)
    assert issubclass(errors.NotFittedError, errors.ModelError)
    assert set(errors.__all__) >= {
        "CogniraceError", "ConfigError", "DataError", "SchemaError", "QuirkError",
        "ModelError", "NotFittedError", "ArtifactError", "ChecksumMismatchError",
        "StrategyError",
    }
