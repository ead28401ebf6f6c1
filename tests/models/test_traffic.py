"""Traffic: pass labels from the order at the line, a graph network against a logistic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cognirace.errors import DataError, SchemaError
from cognirace.models.traffic import (
    TASK,
    GapPaceLogisticBaseline,
    TrafficGnnModel,
    traffic_rows,
)
from cognirace.models.traffic_graph import build_graph, score_traffic
from cognirace.registry.kinds import resolve_kind
from models.conftest import SmallSeason


def traffic_frame(rng: np.random.Generator, n_races: int = 2, n_laps: int = 12,
                  n_cars: int = 10) -> pl.DataFrame:
    """Fields of ``n_cars`` where a faster car close behind tends to pass the car ahead."""
    parts = []
    for race in range(n_races):
        pace = rng.normal(100.0, 0.6, n_cars)
        for lap in range(2, n_laps + 2):
            gaps = rng.exponential(2.0, n_cars)
            gaps[0] = 0.0
            ahead_pace = np.r_[np.nan, pace[:-1]]
            z = -1.5 - 0.8 * gaps + 1.5 * np.nan_to_num(ahead_pace - pace)
            passed_ahead = (rng.random(n_cars) < 1 / (1 + np.exp(-z))) & (np.arange(n_cars) > 0)
            parts.append(pl.DataFrame({
                "track": "barber", "race_id": f"r{race}", "lap": np.full(n_cars, lap),
                "car_number": np.arange(1, n_cars + 1).astype(str),
                "position": np.arange(1, n_cars + 1),
                "gap_ahead_s": pl.Series(np.where(np.arange(n_cars) == 0, np.nan, gaps),
                                         nan_to_null=True),
                "gap_leader_s": np.cumsum(gaps), "pace_median3_s": pace,
                "field_median_green_s": np.full(n_cars, float(np.median(pace))),
                "tire_age_laps": np.full(n_cars, lap - 1),
                "passed_ahead_next": passed_ahead,
                "was_passed_next": np.r_[passed_ahead[1:], False],
                "traffic_next_s": np.clip(1.5 - 0.5 * gaps + rng.normal(0, 0.2, n_cars), 0, None),
            }))
    return pl.concat(parts).with_columns(
        pl.col("lap", "position", "tire_age_laps").cast(pl.Int32))


T0 = datetime(2025, 5, 1, 14, 0, tzinfo=UTC)


def _laps(ends: dict[str, list[float]], pits: set[tuple[str, int]] | None = None
          ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """A lap feature table of cars (by number, text) whose lap ``k`` ends at
    ``ends[car][k-1]`` s, and the truth's traffic loss of each lap."""
    pits = pits or set()
    rows = [{"race_id": "r", "track": "vir", "car_number": car, "lap": lap,
             "lap_end": T0 + timedelta(seconds=t), "in_pit": (car, lap) in pits,
             "green_lap": lap > 1 and (car, lap) not in pits and (car, lap - 1) not in pits,
             "pace_median3_s": 100.0, "field_median_green_s": 100.0, "tire_age_laps": lap - 1}
            for car, times in ends.items() for lap, t in enumerate(times, start=1)]
    frame = pl.DataFrame(rows).with_columns(pl.col("lap", "tire_age_laps").cast(pl.Int32))
    frame = frame.sort("lap", "lap_end").with_columns(
        position=pl.col("lap_end").rank("ordinal").over("lap").cast(pl.Int32),
        gap_leader_s=(pl.col("lap_end") - pl.col("lap_end").min().over("lap"))
        .dt.total_milliseconds() / 1000.0)
    frame = frame.with_columns(gap_ahead_s=pl.when(pl.col("position") > 1).then(
        pl.col("gap_leader_s") - pl.col("gap_leader_s").shift(1).over("lap")))
    truth = frame.select("race_id", "car_number", "lap", traffic_s=pl.lit(0.5))
    return frame, {"laps": truth}


def test_a_pass_is_a_swap_of_order_at_the_next_line() -> None:
    # car 2 runs 0.8 s behind car 1 at the end of laps 1-2, and ahead at the end of lap 3
    features, truth = _laps({"1": [100.0, 200.0, 301.0, 401.0],
                             "2": [100.8, 200.8, 300.5, 400.5],
                             "3": [105.0, 205.0, 305.0, 405.0]})
    rows = traffic_rows(features, truth).filter(pl.col("lap") == 2).sort("car_number")
    assert rows["passed_ahead_next"].to_list() == [False, True, False]
    assert rows["was_passed_next"].to_list() == [True, False, False]
    assert rows["lap"].to_list() == [2, 2, 2]  # lap 1 is not green; lap 4 has no next lap
    assert set(traffic_rows(features, truth)["lap"].to_list()) == {2, 3}


def test_a_place_gained_in_the_pits_is_not_a_pass() -> None:
    features, truth = _laps({"1": [100.0, 200.0, 330.0, 430.0],
                             "2": [100.8, 200.8, 300.8, 400.8]}, pits={("1", 3)})
    rows = traffic_rows(features, truth).filter(pl.col("car_number") == "2")
    assert not rows["passed_ahead_next"].any()


def test_rows_need_the_truth_for_traffic_loss() -> None:
    features, truth = _laps({"1": [100.0, 200.0, 300.0]})
    with pytest.raises(DataError, match="truth"):
        traffic_rows(features, None)
    numeric = truth["laps"].with_columns(pl.col("car_number").cast(pl.Int64))
    with pytest.raises(DataError, match="car_number"):
        traffic_rows(features, {"laps": numeric})


def test_021_and_21_are_two_cars_with_their_own_labels_and_predictions() -> None:
    # 21 runs 0.8 s behind 021 at the end of laps 1-2 and passes it on lap 3.
    features, truth = _laps({"021": [100.0, 200.0, 301.0, 401.0],
                             "21": [100.8, 200.8, 300.5, 400.5]})
    truth["laps"] = truth["laps"].with_columns(
        traffic_s=pl.when(pl.col("car_number") == "21").then(1.5).otherwise(0.2))
    rows = traffic_rows(features, truth).filter(pl.col("lap") == 2).sort("position")
    assert rows["car_number"].to_list() == ["021", "21"]
    assert rows["passed_ahead_next"].to_list() == [False, True]
    assert rows["was_passed_next"].to_list() == [True, False]
    assert rows["traffic_next_s"].to_list() == [0.2, 1.5]
    model = GapPaceLogisticBaseline().fit(traffic_frame(np.random.default_rng(0)))
    out = model.predict(rows)
    assert out["car_number"].to_list() == ["021", "21"]
    assert out["p_pass_ahead"][0] != out["p_pass_ahead"][1]
    with pytest.raises(SchemaError, match="car_number"):
        model.predict(rows.with_columns(pl.col("car_number").cast(pl.Int32)))


def test_graph_joins_cars_within_the_window_only() -> None:
    frame = traffic_frame(np.random.default_rng(0), n_races=1, n_laps=1, n_cars=4)
    frame = frame.with_columns(gap_leader_s=pl.Series([0.0, 1.0, 2.5, 9.0]))
    graph = build_graph(frame, 2.0)
    pairs = set(zip(graph.src.tolist(), graph.dst.tolist(), strict=True))
    assert pairs == {(0, 1), (1, 0), (1, 2), (2, 1)}
    assert graph.edges[graph.src.tolist().index(1)].tolist()[0] in (1.0, -1.5)


def test_predictions_do_not_depend_on_row_order(seed: int) -> None:
    frame = traffic_frame(np.random.default_rng(seed))
    model = TrafficGnnModel(epochs=20, seed=seed).fit(frame)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
    back = model.predict(shuffled).sort("race_id", "lap", "car_number")
    assert_frame_equal(back, model.predict(frame).sort("race_id", "lap", "car_number"),
                       check_exact=False, abs_tol=1e-6)


def test_a_fit_is_reproducible_under_its_seed() -> None:
    frame = traffic_frame(np.random.default_rng(1))
    first = TrafficGnnModel(epochs=20, seed=3).fit(frame).predict(frame)
    assert_frame_equal(first, TrafficGnnModel(epochs=20, seed=3).fit(frame).predict(frame))


def test_the_network_learns_what_the_logistic_sees(seed: int) -> None:
    rng = np.random.default_rng(seed)
    train, test = traffic_frame(rng, n_races=6), traffic_frame(rng, n_races=3)
    model = score_traffic(test, TrafficGnnModel(seed=seed).fit(train).predict(test))
    base = score_traffic(test, GapPaceLogisticBaseline().fit(train).predict(test))
    rate = test["passed_ahead_next"].mean()
    assert isinstance(rate, float)
    assert model["auc_pass_ahead"] > 0.65
    assert model["brier_pass_ahead"] < rate * (1.0 - rate)  # better than the base rate
    assert model["mae_traffic_loss_s"] < base["mae_traffic_loss_s"]


def test_rows_of_a_small_season(pace_lake: SmallSeason) -> None:
    rows = traffic_rows(pace_lake.features, pace_lake.truth)
    assert rows.height > 500
    rate = rows["passed_ahead_next"].mean()
    assert isinstance(rate, float) and 0.0 < rate < 0.5
    leaders = rows.filter(pl.col("position") == 1)
    assert not leaders["passed_ahead_next"].any()
    predictions = TrafficGnnModel(epochs=30).fit(rows).predict(rows)
    assert predictions.select(pl.col("p_pass_ahead", "p_passed").is_between(0, 1).all()).row(0) \
        == (True, True)


def test_the_task_is_registered() -> None:
    assert TASK.name == "traffic" and TASK.needs_truth and TASK.primary == "brier"
    assert resolve_kind("traffic_gnn") is TrafficGnnModel
    assert resolve_kind("traffic_logistic") is GapPaceLogisticBaseline


def test_a_fit_leaves_pytorchs_global_state_alone() -> None:
    """Fits run side by side in threads: none may reseed the process's generator (the
    other's draws would change) or leave PyTorch on another thread count."""
    import torch

    torch.manual_seed(123)
    state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    frame = traffic_frame(np.random.default_rng(0))
    first = TrafficGnnModel(epochs=5, seed=1).fit(frame).predict(frame)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.get_num_threads() == threads
    torch.rand(10)  # the global generator moves on; the next fit does not care
    again = TrafficGnnModel(epochs=5, seed=1).fit(frame).predict(frame)
    assert again.equals(first)
