"""Fits side by side in threads publish what fits one after another publish."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cognirace.lake import Lake
from cognirace.training import open_registry, select_tasks, train

TIMESTAMPS = ("created_at", "updated_at")


def _content(root: Path) -> dict[str, Any]:
    """Every registry file; JSON ones parsed and stripped of their timestamps."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in TIMESTAMPS}
        return value

    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {p.relative_to(root).as_posix(): clean(json.loads(p.read_bytes()))
            if p.suffix == ".json" else p.read_bytes() for p in files}


def test_two_workers_publish_what_one_publishes(season: Lake, tmp_path: Path) -> None:
    tasks = select_tasks(["pitloss", "laptime", "traffic"])  # traffic: PyTorch in threads
    steps: list[tuple[str, int, int]] = []
    one = train(season, open_registry(tmp_path / "one"), tasks, seed=5, workers=1)
    two = train(season, open_registry(tmp_path / "two"), tasks, seed=5, workers=2,
                progress=lambda label, done, total: steps.append((label, done, total)))
    assert [t.comparisons for t in two.tasks] == [t.comparisons for t in one.tasks]
    content = _content(tmp_path / "one")
    assert sum(name.endswith("manifest.json") for name in content) == 6
    assert _content(tmp_path / "two") == content
    fits = [s for s in steps if s[0].endswith(("held out", "published"))]
    tracks = season.races["track"].n_unique()
    assert len(fits) == len(tasks) * (tracks + 2)  # race split, each track, the refit
    assert [done for _, done, _ in fits] == list(range(1, len(fits) + 1))
    assert {total for _, _, total in fits} == {len(fits)}
