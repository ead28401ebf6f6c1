"""The traffic models keep issue 11's promises: what happens after the line never
reaches a prediction, the Brier score splits into per-row parts, nothing missing is
filled silently, and the baseline reads only what it uses."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cognirace.errors import SchemaError
from cognirace.models.traffic import (
    TASK,
    GapPaceLogisticBaseline,
    TrafficGnnModel,
    TrafficGnnWithoutTrackRate,
    pass_rates,
    traffic_rows,
)
from cognirace.models.traffic_graph import score_traffic, traffic_parts
from cognirace.models.traffic_labels import labelled
from models.conftest import SmallSeason
from models.test_traffic import _laps, traffic_frame

KEYS = ["race_id", "lap", "car_number"]


def _gnn() -> TrafficGnnModel:
    return TrafficGnnModel(epochs=15, seed=1)


@pytest.fixture(scope="module")
def season(pace_lake: SmallSeason) -> tuple[pl.DataFrame, GapPaceLogisticBaseline,
                                            TrafficGnnModel]:
    """The small season's rows, with both models fitted on them."""
    rows = traffic_rows(pace_lake.features, pace_lake.truth)
    return rows, GapPaceLogisticBaseline().fit(rows), _gnn().fit(rows)


def _future_scrambled(features: pl.DataFrame, truth: pl.DataFrame, cut: int,
                      rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The season as known at the line of lap ``cut``: the next lap reordered, pit stops
    and flags on it changed, its traffic loss redrawn, every lap after it gone."""
    later = pl.col("lap") > cut
    features = features.filter(pl.col("lap") <= cut + 1).with_columns(
        lap_end=pl.when(later).then(pl.col("lap_end") + pl.duration(
            milliseconds=pl.Series(rng.integers(-3000, 3000, features.height)).filter(
                features["lap"] <= cut + 1))).otherwise(pl.col("lap_end")),
        in_pit=pl.when(later).then(pl.Series(rng.random(features.height) < 0.3).filter(
            features["lap"] <= cut + 1)).otherwise(pl.col("in_pit")),
        green_lap=pl.when(later).then(pl.Series(rng.random(features.height) < 0.7).filter(
            features["lap"] <= cut + 1)).otherwise(pl.col("green_lap")))
    truth = truth.filter(pl.col("lap") <= cut + 1).with_columns(
        traffic_s=pl.when(pl.col("lap") > cut).then(pl.lit(9.0)).otherwise(pl.col("traffic_s")))
    return features, truth


@pytest.mark.parametrize("which", ["baseline", "model"])
def test_the_next_lap_and_later_ones_never_reach_a_prediction(
        pace_lake: SmallSeason, season: tuple[pl.DataFrame, GapPaceLogisticBaseline,
                                              TrafficGnnModel], which: str) -> None:
    """Rows are rebuilt from a season whose future after lap ``cut`` is scrambled or
    gone: the labels of lap ``cut`` change, the predictions of laps up to it do not.

    A lap's graph is left out when no car of it has a label (here: when the scrambled
    next lap has no green lap), so the laps compared are those both seasons have; the
    cars in each of them, their inputs and their predictions must be the same.
    """
    rows, baseline, model = season
    fitted = baseline if which == "baseline" else model
    cut = 8
    features, truth = _future_scrambled(pace_lake.features, pace_lake.truth["laps"], cut,
                                        np.random.default_rng(3))
    scrambled = traffic_rows(features, {**pace_lake.truth, "laps": truth})
    changed = scrambled.filter(pl.col("lap") <= cut)
    original = rows.join(changed.select("race_id", "lap").unique(), on=["race_id", "lap"],
                         how="semi").sort("race_id", "lap", "position")
    assert changed.filter(pl.col("lap") == cut)["race_id"].n_unique() >= 6
    assert changed.filter(pl.col("lap") < cut).height == rows.filter(pl.col("lap") < cut).height
    labels = ["passed_ahead_next", "was_passed_next", "traffic_next_s"]
    assert not changed.select(labels).equals(original.select(labels)), "the future changed"
    assert_frame_equal(changed.drop(labels), original.drop(labels))  # the same field
    assert_frame_equal(fitted.predict(changed), fitted.predict(original))


def test_a_car_that_pits_next_lap_is_still_a_node_of_this_lap() -> None:
    features, truth = _laps({"1": [100.0, 200.0, 300.0, 430.0, 530.0],
                             "2": [100.8, 200.8, 300.8, 400.8, 500.8],
                             "3": [101.5, 201.5, 301.5, 401.5, 501.5]}, pits={("1", 4)})
    rows = traffic_rows(features, truth)
    lap3 = rows.filter(pl.col("lap") == 3).sort("position")
    assert lap3["car_number"].to_list() == ["1", "2", "3"]
    assert labelled(lap3).to_list() == [False, True, True], "its next lap is in the pits"
    no_stop = traffic_rows(*_laps({"1": [100.0, 200.0, 300.0, 400.0, 500.0],
                                   "2": [100.8, 200.8, 300.8, 400.8, 500.8],
                                   "3": [101.5, 201.5, 301.5, 401.5, 501.5]}))
    model = GapPaceLogisticBaseline().fit(traffic_frame(np.random.default_rng(0)))
    same = no_stop.filter(pl.col("lap") == 3).sort("position")
    assert_frame_equal(model.predict(lap3), model.predict(same))


@pytest.mark.parametrize("which", ["baseline", "model"])
def test_brier_is_the_sum_of_its_parts(
        season: tuple[pl.DataFrame, GapPaceLogisticBaseline, TrafficGnnModel],
        which: str) -> None:
    rows, baseline, model = season
    fitted = baseline if which == "baseline" else model
    predictions = fitted.predict(rows)
    parts = traffic_parts(rows, predictions)
    score = score_traffic(rows, predictions)
    assert parts.columns == ["race_id", "num", "den"]
    assert parts.height == score["n_rows"] == labelled(rows).sum() < rows.height
    assert parts["num"].sum() / parts["den"].sum() == pytest.approx(score["brier"], rel=1e-12)
    assert set(parts["race_id"]) == set(rows["race_id"])
    assert TASK.parts is traffic_parts


def test_only_labelled_rows_are_scored() -> None:
    rows = traffic_frame(np.random.default_rng(2), n_races=1, n_laps=2, n_cars=4)
    rows = rows.with_columns(pl.when(pl.col("car_number") == "2").then(None)
                             .otherwise(pl.col(c)).alias(c)
                             for c in ("passed_ahead_next", "was_passed_next", "traffic_next_s"))
    predictions = pl.DataFrame({"p_pass_ahead": [0.5] * 8, "p_passed": [0.25] * 8,
                                "traffic_loss_s": [1.0] * 8})
    kept = rows.filter(pl.col("car_number") != "2")
    expected = ((0.5 - kept["passed_ahead_next"].cast(pl.Float64)) ** 2).mean() / 2 + \
        ((0.25 - kept["was_passed_next"].cast(pl.Float64)) ** 2).mean() / 2
    assert score_traffic(rows, predictions)["brier"] == pytest.approx(expected)
    assert score_traffic(rows, predictions)["n_rows"] == 6
    assert traffic_parts(rows, predictions)["den"].sum() == 12


@pytest.mark.parametrize("make", [GapPaceLogisticBaseline, _gnn])
def test_a_car_without_a_pace_says_so(make: type, seed: int) -> None:
    frame = traffic_frame(np.random.default_rng(seed))
    model = make().fit(frame)
    field = frame.filter((pl.col("race_id") == "r0") & (pl.col("lap") == 3)).with_columns(
        pace_median3_s=pl.when(pl.col("position") == 2).then(None)
        .otherwise(pl.col("pace_median3_s")))
    out = model.predict(field)
    expected = [["pace_median3_s"] if p == 2 else [] for p in field["position"]]
    assert out["fallbacks"].to_list() == expected
    as_nan = field.with_columns(pl.col("pace_median3_s").fill_null(float("nan")))
    assert_frame_equal(model.predict(as_nan), out)
    assert np.isfinite(out.select("p_pass_ahead", "p_passed", "traffic_loss_s").to_numpy()).all()


@pytest.mark.parametrize("make", [GapPaceLogisticBaseline, _gnn])
def test_a_gap_is_null_for_the_leader_only(make: type, seed: int) -> None:
    frame = traffic_frame(np.random.default_rng(seed))
    model = make().fit(frame)
    field = frame.filter((pl.col("race_id") == "r0") & (pl.col("lap") == 3))
    model.predict(field)  # the leader's null gap is fine
    for missing in (None, float("nan")):
        broken = field.with_columns(gap_ahead_s=pl.when(pl.col("position") == 4)
                                    .then(missing).otherwise(pl.col("gap_ahead_s")))
        with pytest.raises(SchemaError, match="gap_ahead_s"):
            model.predict(broken)


@pytest.mark.parametrize("column", ["tire_age_laps", "gap_leader_s", "position", "track"])
def test_the_network_refuses_a_missing_value_it_needs(column: str, seed: int) -> None:
    frame = traffic_frame(np.random.default_rng(seed))
    model = _gnn().fit(frame)
    field = frame.filter((pl.col("race_id") == "r0") & (pl.col("lap") == 3))
    holed = field.with_columns(pl.when(pl.col("position") == 3).then(None)
                               .otherwise(pl.col(column)).alias(column))
    with pytest.raises(SchemaError, match=column):
        model.predict(holed)


def test_the_baseline_needs_only_what_it_reads(seed: int) -> None:
    frame = traffic_frame(np.random.default_rng(seed))
    model = GapPaceLogisticBaseline().fit(frame)
    unused = {"tire_age_laps", "gap_leader_s", "track"}
    assert unused.isdisjoint(s.name for s in model.input_schema())
    assert_frame_equal(model.predict(frame.drop(unused)), model.predict(frame))
    assert all(not s.nullable for s in model.input_schema()
               if s.name not in ("gap_ahead_s", "pace_median3_s", "field_median_green_s"))


def test_the_baseline_learns_from_its_training_rows(seed: int) -> None:
    frame = traffic_frame(np.random.default_rng(seed))
    fewer = frame.with_columns(passed_ahead_next=pl.col("passed_ahead_next")
                               & (pl.col("lap") % 3 == 0))
    p_many = GapPaceLogisticBaseline().fit(frame).predict(frame)["p_pass_ahead"].mean()
    p_few = GapPaceLogisticBaseline().fit(fewer).predict(frame)["p_pass_ahead"].mean()
    assert isinstance(p_many, float) and isinstance(p_few, float)
    assert p_few < 0.6 * p_many
    assert p_many == pytest.approx(frame["passed_ahead_next"].mean(), abs=0.02)


def test_the_track_pass_rate_and_its_ablation(seed: int) -> None:
    frame = pl.concat([
        traffic_frame(np.random.default_rng(seed)),
        traffic_frame(np.random.default_rng(seed + 1)).with_columns(
            track=pl.lit("sonoma"), race_id=pl.col("race_id") + "-s",
            passed_ahead_next=pl.lit(False), was_passed_next=pl.lit(False))])
    rates, pooled = pass_rates(frame)
    assert rates["sonoma"] < pooled < rates["barber"], "shrunk toward, not onto, the pool"
    assert rates["sonoma"] > 0.0
    model = TrafficGnnModel(epochs=15, seed=seed).fit(frame)
    ablation = TrafficGnnWithoutTrackRate(epochs=15, seed=seed).fit(frame)
    field = frame.filter((pl.col("race_id") == "r0") & (pl.col("lap") == 3))
    elsewhere = field.with_columns(track=pl.lit("sonoma"))
    assert not model.predict(elsewhere)["p_pass_ahead"].equals(
        model.predict(field)["p_pass_ahead"]), "the track's rate is read"
    assert_frame_equal(ablation.predict(elsewhere), ablation.predict(field))
    unseen = model.predict(field.with_columns(track=pl.lit("cota")))
    assert unseen["fallbacks"].to_list() == [["track"]] * field.height
    assert model.predict(field)["fallbacks"].to_list() == [[]] * field.height
    assert TASK.ablations == {"without track pass rate": TrafficGnnWithoutTrackRate}


def test_rows_leave_out_a_car_without_a_required_value() -> None:
    features, truth = _laps({"1": [100.0, 200.0, 300.0, 400.0],
                             "2": [100.8, 200.8, 300.8, 400.8]})
    features = features.with_columns(
        tire_age_laps=pl.when((pl.col("car_number") == "2") & (pl.col("lap") == 2))
        .then(None).otherwise(pl.col("tire_age_laps")),
        lap_end=pl.col("lap_end") + timedelta(0))
    rows = traffic_rows(features, truth)
    assert rows.filter(pl.col("lap") == 2)["car_number"].to_list() == ["1"]
