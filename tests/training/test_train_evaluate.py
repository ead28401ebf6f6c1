"""Training publishes honest models with their cards; evaluation scores them on a new lake."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from cognirace.errors import ArtifactError, ConfigError, DataError
from cognirace.features import split_by_race
from cognirace.lake import Lake
from cognirace.registry import Registry
from cognirace.training import (
    HELDOUT,
    HISTORY_PREFIX,
    PRODUCTION,
    TEST_FRACTION,
    evaluate,
    markdown_table,
    select_tasks,
    task_examples,
    train,
)
from training.toy import FITTED_RACES, SCORED_RACES, TOY


def test_train_publishes_model_baseline_and_card(season: Lake, registry: Registry) -> None:
    report = train(season, registry, [TOY], seed=1)
    (result,) = report.tasks
    assert registry.aliases("toy")[PRODUCTION] == result.version
    assert registry.aliases("toy-baseline")[PRODUCTION] == result.baseline_version
    card = registry.card_markdown("toy", PRODUCTION)
    assert card is not None
    assert "mae_s (primary)" in card and "GlobalMeanBaseline" in card
    assert "leave-one-track-out" in card and result.data_fingerprint in card
    data = registry.card_json("toy", PRODUCTION)
    assert data is not None
    assert data["training_data"]["n_races"] == 4 and data["training_data"]["seed"] == 1
    assert {row["evaluation"] for row in data["evaluation"]} >= {"races", "loto", "track=barber"}
    assert data["inputs"][0]["name"] == "track"
    json.dumps(data, allow_nan=False)
    manifest = registry.manifest("toy", PRODUCTION)
    assert manifest.data_fingerprint == result.data_fingerprint
    assert {"races.mae_s", "loto.mae_s", "baseline.races.mae_s"} <= set(manifest.metrics)


def test_the_summaries_compare_model_and_baseline(season: Lake, registry: Registry) -> None:
    report = train(season, registry, [TOY], seed=1)
    rows = report.comparisons()
    assert {(c.evaluation, c.metric) for c in rows} == {
        (e, m) for e in ("races", "loto")
        for m in ("mae_s", "rmse_s", "share_within_1s", "mae_s (global mean)")}
    primary = [c for c in rows if c.primary]
    assert all(c.metric == "mae_s" and c.gain == pytest.approx(c.baseline - c.model)
               for c in primary)
    (loto,) = [c for c in primary if c.evaluation == "loto"]
    assert loto.has_interval and loto.low is not None and loto.high is not None
    assert loto.low <= loto.high and loto.wins is (loto.low > 0)
    ablated = [c for c in rows if c.metric == "mae_s (global mean)"]
    # the ablation is the baseline itself, so it gains exactly nothing, on every resample
    assert all(c.gain == pytest.approx(0.0) and not c.primary for c in ablated)
    assert all(c.low == pytest.approx(0.0) and c.high == pytest.approx(0.0)
               for c in ablated if c.has_interval)
    undirected = [c for c in rows if c.metric == "share_within_1s"]
    assert all(c.gain is None and c.wins is None for c in undirected)


def test_no_model_is_scored_on_a_race_it_learned_from(season: Lake, registry: Registry) -> None:
    train(season, registry, [TOY], seed=2, workers=1)  # the toy records fits in order
    assert SCORED_RACES and len(FITTED_RACES) == len(SCORED_RACES) + 2
    for fitted, scored in zip(FITTED_RACES, SCORED_RACES, strict=False):
        assert fitted and scored and not fitted & scored
    assert FITTED_RACES[-1] == set(season.race_ids)  # the published fit sees every race


@pytest.mark.parametrize("seed", range(4))
def test_the_race_split_keeps_whole_races_apart(season: Lake, seed: int) -> None:
    rows = task_examples(season, [TOY])["toy"]
    (split,) = split_by_race(rows, test_fraction=TEST_FRACTION, seed=seed)
    train_races, test_races = set(split.train["race_id"]), set(split.test["race_id"])
    assert not train_races & test_races
    assert train_races | test_races == set(season.race_ids)


def test_evaluate_scores_the_production_versions(season: Lake, heldout: Lake,
                                                 registry: Registry) -> None:
    trained = train(season, registry, [TOY], seed=1)
    FITTED_RACES.clear()
    report = evaluate(heldout, registry, [TOY])
    assert report.versions == {"toy": trained.tasks[0].version}
    assert {c.metric for c in report.comparisons} == {"mae_s", "rmse_s", "share_within_1s"}
    assert all(c.evaluation == HELDOUT and c.task == "toy" for c in report.comparisons)
    assert set(report.primary_wins()) == {"toy"}
    assert not FITTED_RACES  # nothing is refitted on the evaluated lake
    table = markdown_table(report.comparisons)
    assert table.splitlines()[0] == (
        "| model | metric | baseline | model | gain | 95% interval | beats baseline |")
    assert "| toy | mae_s (primary) |" in table


def test_evaluate_without_a_trained_model_says_to_train(heldout: Lake,
                                                        registry: Registry) -> None:
    with pytest.raises(ArtifactError, match="no production model 'toy'") as info:
        evaluate(heldout, registry, [TOY])
    assert "cognirace train" in str(info.value)


def test_an_empty_lake_is_refused(lake_dir: Path, registry: Registry) -> None:
    empty = lake_dir
    with pytest.raises(DataError, match="holds no races"):
        train(empty, registry, [TOY])


def test_an_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown model 'laptimes'") as info:
        select_tasks(["laptimes"], {"toy": TOY})
    assert "known models: toy" in str(info.value)
    assert select_tasks(None, {"toy": TOY}) == [TOY]


def test_truth_tasks_on_a_lake_without_truth_say_what_to_do(tmp_path: Path) -> None:
    from cognirace.ingest import ingest
    from cognirace.lake import open_lake
    from cognirace.training import select_tasks, task_examples
    from factories import write_race

    write_race(tmp_path / "barber")
    ingest(tmp_path / "barber", tmp_path / "lake")
    with pytest.raises(DataError, match="need the simulator's truth"):
        task_examples(open_lake(tmp_path / "lake"), select_tasks(["fuel"]))


def test_a_history_task_also_learns_from_the_history_lake(
        season: Lake, heldout: Lake, registry: Registry) -> None:
    train(season, registry, [replace(TOY, history=True)], seed=1, history=heldout)
    past = {HISTORY_PREFIX + race for race in heldout.race_ids}
    assert FITTED_RACES[-1] == set(season.race_ids) | past  # same ids, kept apart
    FITTED_RACES.clear()
    train(season, registry, [TOY], seed=1, history=heldout)  # no history flag: lake only
    assert FITTED_RACES[-1] == set(season.race_ids)


def test_a_history_task_is_scored_on_the_history_lake_too(
        season: Lake, heldout: Lake, registry: Registry) -> None:
    task = replace(TOY, history=True)
    train(season, registry, [task], seed=1)
    alone = evaluate(heldout, registry, [task])
    both = evaluate(heldout, registry, [task], history=season)
    assert both.n_rows["toy"] > alone.n_rows["toy"] > 0


def test_the_lake_itself_is_refused_as_history(season: Lake, registry: Registry) -> None:
    with pytest.raises(DataError, match="the history lake is the lake itself"):
        train(season, registry, [replace(TOY, history=True)], seed=1, history=season)
