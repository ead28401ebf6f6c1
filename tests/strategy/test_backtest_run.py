"""The backtest end to end on three small races: models fitted on the small season
(``training.conftest.tiny_lake``, seed 5), races from another seed, a few simulations."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math

import pytest

from cognirace.lake import Lake
from cognirace.models.base import Model
from cognirace.sim import RaceConfig
from cognirace.strategy.backtest_policies import POLICIES
from cognirace.strategy.backtest_report import build_report, render
from cognirace.strategy.backtest_run import BacktestSettings, RaceJob, RaceOutcome, run_backtest
from training.conftest import tiny_lake

NAMES = ("laptime", "tire", "fuel", "pitloss", "fcy", "traffic")
SEED = 6
"""Not the models' season (5): races they never saw."""


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Model]:
    from cognirace.training import all_tasks, task_examples

    lake: Lake = tiny_lake(tmp_path_factory.mktemp("backtest"), seed=5)
    tasks = [all_tasks()[name] for name in NAMES]
    examples = task_examples(lake, tasks)
    return {task.name: task.model().fit(examples[task.name]) for task in tasks}


@pytest.fixture(scope="module")
def outcomes(models: dict[str, Model]) -> list[RaceOutcome]:
    jobs = [RaceJob(i, SEED, RaceConfig(
        track, session=session, event_number=event, n_cars=12, duration_s=1800.0,
        event_date=dt.date(2025, 4, 6) + dt.timedelta(days=14 * event), telemetry_hz=0.0))
        for i, (track, session, event) in enumerate(
            [("sonoma", "R1", 1), ("sonoma", "R2", 1), ("barber", "R1", 2)])]
    settings = BacktestSettings(n_sims=200, cars_per_race=0, seed=SEED)
    return list(run_backtest(jobs, lambda: models.get, settings))


def test_every_race_is_scored_with_decision_points(outcomes: list[RaceOutcome]) -> None:
    assert [o.race for o in outcomes] == [0, 1, 2]
    points = [p for o in outcomes for p in o.points]
    assert len(points) >= 5
    for p in points:
        assert set(p.finish) == set(POLICIES)
        assert all(1 <= f <= p.n_cars for f in p.finish.values())
        assert 1 <= p.position_now <= p.n_cars and p.kinds
        probs = p.p_at_or_ahead
        assert len(probs) == p.n_cars and probs[-1] == pytest.approx(1.0)
        assert all(a <= b for a, b in itertools.pairwise(probs))


def test_the_oracle_is_never_worse_than_any_policy(outcomes: list[RaceOutcome]) -> None:
    for p in (p for o in outcomes for p in o.points):
        assert p.finish["oracle"] == min(p.finish.values()), p


def test_advice_to_stay_out_finishes_where_staying_out_does(outcomes: list[RaceOutcome]
                                                            ) -> None:
    stay = [p for o in outcomes for p in o.points if p.advice == "stay out"]
    assert stay
    assert all(p.finish["advice"] == p.finish["stay_out"] for p in stay)


def test_the_report_has_the_issues_keys_with_sane_values(outcomes: list[RaceOutcome]) -> None:
    report = json.loads(json.dumps(build_report(outcomes, {
        "seed": SEED, "n_sims": 200, "cars_per_race": 0, "elapsed_s": 1.0})))
    assert report["races"] == 3
    assert report["decision_points"] == sum(len(o.points) for o in outcomes)
    assert set(report["vs"]) == {"stay_out", "first_caution", "fixed_lap"}
    for row in report["vs"].values():
        low, high = row["ci95"]
        assert low <= row["mean_gain"] <= high
        assert row["win"] + row["tie"] + row["loss"] == pytest.approx(1.0)
        assert {"with_caution", "without_caution"} <= set(row)
    assert report["oracle_share"] is None or report["oracle_share"] <= 1.0 + 1e-9
    assert 0.0 <= report["calibration_error"] <= 1.0
    within = report["rejoin_within_one"]
    assert within is None or 0.0 <= within <= 1.0
    assert not math.isnan(report["mean_finish"]["advice"])
    text = "\n".join(render(report))
    assert "goals:" in text and "calibration error" in text
