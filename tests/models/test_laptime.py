"""The lap-time model and its baseline on a small simulated season."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cognirace.errors import DataError
from cognirace.features import split_by_race
from cognirace.models.laptime import (
    OUTPUT_NAMES,
    TASK,
    LapTimeModel,
    PaceMedianBaseline,
    laptime_rows,
    score_laptime,
)
from features import timing_cars
from models.conftest import SmallSeason


def laptime_frame(rng: np.random.Generator, n_rows: int = 400) -> pl.DataFrame:
    """Synthetic lap-time rows over four races: pace, wear and noise, for the contract."""
    pace = rng.uniform(95.0, 160.0, n_rows)
    age = rng.integers(1, 25, n_rows)
    return pl.DataFrame({
        "race_id": rng.choice(["r1", "r2", "r3", "r4"], n_rows),
        "vehicle_id": rng.choice(["GR86-001-2", "GR86-004-7"], n_rows),
        "car_number": rng.integers(1, 99, n_rows).astype(str),
        "lap": (age + 1).astype(np.int32),
        "pace_median3_s": pace, "lap_time_s": pace + rng.normal(0, 0.4, n_rows),
        "best_green_s": pace - rng.uniform(0.0, 1.0, n_rows),
        "field_median_green_s": pace + rng.normal(0, 0.8, n_rows),
        "track": rng.choice(["barber", "sonoma", "unknown_track"], n_rows),
        "tire_age_laps": age.astype(np.int32),
        "race_time_left_s": rng.uniform(0, 2700, n_rows),
        "laps_left_est": rng.integers(0, 25, n_rows).astype(np.int32),
        "position": rng.integers(1, 25, n_rows).astype(np.int32),
        "gap_ahead_s": rng.uniform(0.2, 20.0, n_rows),
        "next_lap_time_s": pace + 0.03 * age + rng.normal(0, 0.5, n_rows),
    })


@pytest.fixture(scope="module")
def rows(pace_lake: SmallSeason) -> pl.DataFrame:
    return laptime_rows(pace_lake.features)


def test_target_is_the_next_green_lap_from_timing(pace_lake: SmallSeason,
                                                  rows: pl.DataFrame) -> None:
    green = pace_lake.features.filter("green_lap").select(
        "race_id", "vehicle_id", "stint", "lap", pl.col("lap_time_s").alias("actual"))
    nxt = rows.select("race_id", "vehicle_id", "stint", "lap", "next_lap_time_s").join(
        green, on=["race_id", "vehicle_id", "stint"]).filter(pl.col("lap_right") > pl.col("lap"))
    first = nxt.sort("lap_right").group_by("race_id", "vehicle_id", "lap").first()
    assert first.height == rows.height
    assert (first["next_lap_time_s"] == first["actual"]).all()


def test_each_timing_car_is_its_own_target_logged_or_not() -> None:
    rows = laptime_rows(timing_cars.feature_rows())
    for number in ("021", "3#2", "7"):
        # Every green lap's target is the car's own next lap (all green but the stop's),
        # never another car's lap of the same number.
        times = timing_cars.lap_times(number)
        car = rows.filter(pl.col("car_number") == number).sort("lap")
        assert car["next_lap_time_s"].to_list() == [times[lap] for lap in car["lap"]]
    # The last green lap before a stop has no next green lap in its stint.
    assert rows.filter(pl.col("car_number") == "021")["lap"].to_list() == [2, 3, *range(7, 20)]
    assert rows.filter(pl.col("car_number") == "3#2")["lap"].to_list() == [
        *range(2, 11), *range(14, 20)]


def test_model_beats_baseline_with_calibrated_interval(rows: pl.DataFrame) -> None:
    split = next(split_by_race(rows, test_fraction=0.25, seed=1))
    model = LapTimeModel(n_estimators=120).fit(split.train)
    baseline = PaceMedianBaseline().fit(split.train)
    ours = score_laptime(split.test, model.predict(split.test))
    base = score_laptime(split.test, baseline.predict(split.test))
    assert ours["mae_s"] < base["mae_s"]
    assert ours["pinball_s"] < base["pinball_s"]
    assert 0.68 <= ours["coverage_p10_p90"] <= 0.92


def test_quantiles_are_ordered_and_single_rows_work(rows: pl.DataFrame) -> None:
    model = LapTimeModel(n_estimators=30).fit(rows)
    one = model.predict(rows.head(1))
    assert one.height == 1
    p10, p50, p90 = (model.predict(rows)[name].to_numpy() for name in OUTPUT_NAMES)
    assert np.all(p10 <= p50) and np.all(p50 <= p90)


def test_one_race_cannot_be_calibrated(rng: np.random.Generator) -> None:
    frame = laptime_frame(rng).with_columns(pl.lit("r1").alias("race_id"))
    with pytest.raises(DataError, match="two races"):
        LapTimeModel(n_estimators=5).fit(frame)


def test_task_ties_model_rows_and_scorer() -> None:
    assert TASK.name == "laptime" and TASK.model is LapTimeModel
    assert TASK.baseline is PaceMedianBaseline and not TASK.needs_truth
    assert TASK.gain(0.5, 0.6) == pytest.approx(0.1)
