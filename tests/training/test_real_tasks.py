"""Every task of the catalogue trains, publishes and evaluates on a small season.

Whether a model beats its baseline is judged on the demo season (too few laps here);
these tests hold each task to the platform's contract: rows it can split, metrics both
sides report, a card naming the primary metric, and evaluation without refitting.
"""

from __future__ import annotations

import pytest

from cognirace.lake import Lake
from cognirace.training import (
    PRODUCTION,
    TASK_MODULES,
    all_tasks,
    evaluate,
    open_registry,
    train,
)


@pytest.mark.parametrize("module", TASK_MODULES)
def test_the_task_trains_and_evaluates(module: str, season: Lake, heldout: Lake,
                                       memory_url: str) -> None:
    (task,) = [t for t in all_tasks().values() if t.model.__module__.endswith(f".{module}")]
    registry = open_registry(memory_url, [task])
    report = train(season, registry, [task], seed=0)
    primary = [c for c in report.comparisons() if c.primary]
    assert {c.evaluation for c in primary} == {"races", "loto"}
    card = registry.card_markdown(task.name, PRODUCTION)
    assert card is not None and f"{task.primary} (primary)" in card
    evaluation = evaluate(heldout, registry, [task])
    assert [c.metric for c in evaluation.comparisons if c.primary] == [task.primary]
    assert evaluation.n_rows[task.name] > 0
