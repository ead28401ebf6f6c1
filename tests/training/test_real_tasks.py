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
    baseline_name,
    evaluate,
    open_registry,
    task_examples,
    train,
)
from cognirace.training.bootstrap import race_parts


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
    # the primary metric splits by race exactly, so the bootstrap interval is of it
    assert task.parts is not None, f"{task.name} sets no Task.parts"
    rows = task_examples(heldout, [task])[task.name]
    for name in (task.name, baseline_name(task)):
        predictions = registry.load(name, registry.resolve(name, PRODUCTION)).predict(rows)
        parts = race_parts(task, rows, predictions)
        assert set(parts["race_id"]) <= set(rows["race_id"])
        assert parts["num"].sum() / parts["den"].sum() == pytest.approx(
            task.score(rows, predictions)[task.primary], rel=1e-9, abs=1e-12)
