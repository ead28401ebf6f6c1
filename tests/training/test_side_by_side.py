"""Fits side by side in threads publish what fits one after another publish."""

from __future__ import annotations

from pathlib import Path

from cognirace.lake import Lake
from cognirace.training import open_registry, select_tasks, train
from registry_files import registry_content


def test_two_workers_publish_what_one_publishes(season: Lake, tmp_path: Path) -> None:
    tasks = select_tasks(["pitloss", "laptime", "traffic"])  # traffic: PyTorch in threads
    steps: list[tuple[str, int, int]] = []
    one = train(season, open_registry(tmp_path / "one"), tasks, seed=5, workers=1)
    two = train(season, open_registry(tmp_path / "two"), tasks, seed=5, workers=2,
                progress=lambda label, done, total: steps.append((label, done, total)))
    assert [t.comparisons for t in two.tasks] == [t.comparisons for t in one.tasks]
    content = registry_content(tmp_path / "one")
    assert sum(name.endswith("manifest.json") for name in content) == 6
    assert registry_content(tmp_path / "two") == content
    fits = [s for s in steps if s[0].endswith(("held out", "published"))]
    tracks = season.races["track"].n_unique()
    assert len(fits) == len(tasks) * (tracks + 2)  # race split, each track, the refit
    assert [done for _, done, _ in fits] == list(range(1, len(fits) + 1))
    assert {total for _, _, total in fits} == {len(fits)}
