"""The code base keeps its own rules: lint, types and the layer contracts of DESIGN.md."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

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


def _render_results() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "render_results", ROOT / "docs" / "render_results.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_shows_the_measured_results_as_they_are() -> None:
    """Every table of figures in the README is a saved script output, copied verbatim:
    a figure edited by hand, or a result re-run and not copied in, fails here."""
    render = _render_results()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = render.blocks(readme)
    assert "docs/results/evaluation.md" in named
    assert all((ROOT / path).is_file() for path in named)
    assert render.render(readme, ROOT) == readme, "run `python docs/render_results.py`"


def test_a_stale_results_block_is_caught(tmp_path: Path) -> None:
    render = _render_results()
    (tmp_path / "r.txt").write_text("new figure 2.0\n", encoding="utf-8")
    stale = "x\n<!-- results: r.txt -->\n```\nold figure 1.0\n```\n<!-- /results -->\ny\n"
    fresh = render.render(stale, tmp_path)
    assert fresh != stale and "new figure 2.0" in fresh and "old figure" not in fresh
    assert render.render(fresh, tmp_path) == fresh
