"""The command line reports mistakes in one line and an exit code, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _cognirace(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cognirace.cli.main", *args],
                          capture_output=True, text=True, check=False)


def test_a_missing_source_is_a_usage_error(tmp_path: Path) -> None:
    result = _cognirace("ingest", str(tmp_path / "nowhere"), "--lake", str(tmp_path / "lake"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_a_folder_without_race_files_names_the_fix(tmp_path: Path) -> None:
    result = _cognirace("ingest", str(tmp_path), "--lake", str(tmp_path / "lake"))
    assert result.returncode == 2
    assert "no race files found" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = _cognirace("--debug", "ingest", str(tmp_path), "--lake", str(tmp_path / "lake"))
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_every_command_has_help() -> None:
    top = _cognirace("--help")
    assert top.returncode == 0
    for command in ("demo", "ingest", "simulate", "plot", "train", "evaluate"):
        assert command in top.stdout
        sub = _cognirace(command, "--help")
        assert sub.returncode == 0 and "Usage" in sub.stdout, command
