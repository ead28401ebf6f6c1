"""The code version stamped on every published model: package version and git commit.

A manifest should say which code trained a model, so a surprising model can be traced
back. The commit is read with the local ``git`` binary (no network); when the package is
not in a git checkout, or git is absent, the commit is simply unknown.
"""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

import cognirace
from cognirace.registry.manifest import CodeVersion

_GIT_TIMEOUT_S = 5.0


@lru_cache(maxsize=1)
def code_version() -> CodeVersion:
    """The running code's version; computed once per process."""
    return CodeVersion(cognirace=cognirace.__version__, git_commit=git_commit())


def git_commit(where: Path | None = None) -> str | None:
    """The commit checked out around ``where`` (default: this package), or None."""
    folder = where or Path(cognirace.__file__).resolve().parent
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True,
            timeout=_GIT_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and len(commit) == 40 else None
