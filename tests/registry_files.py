"""A folder's files, and a registry's content without its timestamps, to compare runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TIMESTAMPS = ("created_at", "updated_at")


def files_of(root: Path) -> dict[str, bytes]:
    """Every file under a local folder by its relative path, with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def without_timestamps(value: Any) -> Any:
    """A parsed JSON value with every ``TIMESTAMPS`` key left out, at any depth."""
    if isinstance(value, dict):
        return {k: without_timestamps(v) for k, v in value.items() if k not in TIMESTAMPS}
    if isinstance(value, list):
        return [without_timestamps(v) for v in value]
    return value


def registry_content(root: Path) -> dict[str, Any]:
    """Every registry file; JSON ones parsed and stripped of their timestamps."""
    return {name: without_timestamps(json.loads(data)) if name.endswith(".json") else data
            for name, data in files_of(root).items()}
