"""Each command imports what it uses, when it runs: help and light commands stay fast.

A property, not a time: each probe imports the CLI's ``app`` in a fresh interpreter,
runs one command line and reports which modules ended up in ``sys.modules``.

What help keeps out: the model libraries (torch, LightGBM, scikit-learn), the service
(FastAPI, uvicorn), the data stack (polars, numpy, pyarrow, pandas), plotting
(matplotlib) and our own layers below ``cli``. ``cognirace --help`` keeps pydantic out
too; a sub-command's help cannot, because Typer itself converts the root options'
values with pydantic before the sub-command shows its help.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from factories import write_race

_PROBE = """
import json, sys
from cognirace.cli.main import app
try:
    app(sys.argv[1:], prog_name="cognirace")
except SystemExit as stop:
    code = stop.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""

MODELS_AND_SERVICE = ("torch", "fastapi", "uvicorn", "lightgbm", "sklearn")
KEPT_OUT_OF_HELP = (*MODELS_AND_SERVICE, "polars", "numpy", "pyarrow", "pandas",
                    "matplotlib", "cognirace.lake", "cognirace.ingest", "cognirace.sim",
                    "cognirace.features", "cognirace.models", "cognirace.training",
                    "cognirace.registry", "cognirace.scale", "ray")
KEPT_OUT_OF_TOP_HELP = (*KEPT_OUT_OF_HELP, "pydantic", "pydantic_settings", "cognirace.config")

SUB_COMMANDS = ("demo", "ingest", "simulate", "plot", "train", "evaluate", "serve", "keys",
                "keys create", "keys list", "keys revoke")


def _modules_after(*args: str) -> tuple[str, set[str]]:
    """(what the command printed, the modules it imported) of ``cognirace ARGS``."""
    result = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True,
                            text=True, check=False)
    *printed, last = result.stdout.splitlines() or [""]
    assert result.returncode == 0 and last.startswith("{"), result.stderr
    report = json.loads(last)
    assert report["code"] in (0, None), "\n".join(printed) + result.stderr
    return "\n".join(printed), set(report["modules"])


def _loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Those of ``names`` imported, by themselves or through one of their submodules."""
    return [n for n in names if n in modules or any(m.startswith(n + ".") for m in modules)]


def test_top_help_imports_no_data_model_or_service_library() -> None:
    printed, modules = _modules_after("--help")
    assert "Usage" in printed and "ingest" in printed
    assert _loaded(modules, KEPT_OUT_OF_TOP_HELP) == []


@pytest.mark.parametrize("command", SUB_COMMANDS)
def test_command_help_imports_no_data_model_or_service_library(command: str) -> None:
    printed, modules = _modules_after(*command.split(), "--help")
    assert "Usage" in printed
    assert _loaded(modules, KEPT_OUT_OF_HELP) == []


def test_serve_help_still_lists_every_setting() -> None:
    # the epilog is read from the service's settings when the help is shown
    printed, _ = _modules_after("serve", "--help")
    assert "COGNIRACE_BATCH_LIMIT" in printed and "cognirace keys create" in printed


def test_ingest_imports_no_model_or_service_library(tmp_path: Path) -> None:
    write_race(tmp_path / "races" / "barber")
    printed, modules = _modules_after("ingest", str(tmp_path / "races"), "--lake",
                                      str(tmp_path / "lake"), "--quiet")
    assert "barber-R1" in printed
    assert "polars" in modules  # the probe saw the ingest run
    assert _loaded(modules, (*MODELS_AND_SERVICE, "matplotlib", "cognirace.models",
                             "cognirace.training", "cognirace.api.app")) == []
