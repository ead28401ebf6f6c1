"""The tire-degradation model and its baseline on a small simulated season."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cognirace.features import split_by_race
from cognirace.models.tire import (
    TASK,
    TireDegradationModel,
    TrackMeanSlopeBaseline,
    huber_slope,
    score_tire,
    shrink,
    tire_rows,
)
from models.conftest import SmallSeason


def tire_frame(rng: np.random.Generator, n_stints: int = 60) -> pl.DataFrame:
    """Synthetic stints: wear 0.035 s/lap, fuel 0.012 s per km-lap, noise; for the contract."""
    tracks = rng.choice(["barber", "road_america", "sonoma"], n_stints)
    km = {"barber": 3.675, "road_america": 6.46, "sonoma": 4.031}
    times, ages, fuel = [], [], []
    for track in tracks:
        n = int(rng.integers(8, 20))
        age = np.arange(n, dtype=float) + 1.0
        laps = age + 1.0
        times.append((100.0 + 0.035 * age - 0.012 * km[str(track)] * laps
                      + rng.normal(0, 0.3, n)).tolist())
        ages.append(age.tolist())
        fuel.append(laps.tolist())
    return pl.DataFrame({
        "race_id": rng.choice(["r1", "r2"], n_stints), "vehicle_id": "GR86-001-2",
        "car_number": np.arange(n_stints, dtype=np.int32), "stint": np.ones(n_stints, np.int32),
        "track": tracks, "track_temp_c": rng.uniform(30, 45, n_stints),
        "lap_times_s": times, "tire_ages_laps": ages, "fuel_laps": fuel,
        "horizon_age_laps": [float(a[-1]) for a in ages],
    })


@pytest.fixture(scope="module")
def rows(pace_lake: SmallSeason) -> pl.DataFrame:
    return tire_rows(pace_lake.features, pace_lake.truth)


def test_rows_are_stints_of_green_laps_with_truth_for_scoring(rows: pl.DataFrame) -> None:
    assert rows.height > 50
    assert (rows["n_laps"] >= 5).all()
    assert (rows["lap_times_s"].list.len() == rows["tire_ages_laps"].list.len()).all()
    assert rows["true_deg_s_per_lap"].null_count() == 0
    assert rows.select(pl.struct("race_id", "vehicle_id", "stint").is_unique().all()).item()


def test_model_beats_the_track_mean_slope(rows: pl.DataFrame) -> None:
    split = next(split_by_race(rows, test_fraction=0.25, seed=2))
    ours = score_tire(split.test, TireDegradationModel().fit(split.train).predict(split.test))
    base = score_tire(split.test, TrackMeanSlopeBaseline().fit(split.train).predict(split.test))
    assert ours["slope_mae_s_per_lap"] < base["slope_mae_s_per_lap"]
    assert ours["loss_mae_s"] < base["loss_mae_s"]


def test_fuel_makes_laps_faster_and_wear_slower(rows: pl.DataFrame) -> None:
    model = TireDegradationModel().fit(rows)
    assert model.fuel_s_per_km_lap_ < 0.0
    assert 0.0 < model.pooled_deg_s_per_lap_ < 0.1


def test_huber_slope_ignores_an_error_lap(rng: np.random.Generator) -> None:
    age = np.arange(15, dtype=float)
    y = 90.0 + 0.04 * age + rng.normal(0, 0.05, 15)
    y[7] += 4.0  # a driver error
    slope, se = huber_slope(age, y, k=1.5)
    assert slope == pytest.approx(0.04, abs=0.01) and 0.0 < se < 0.05
    assert np.isnan(huber_slope(age[:2], y[:2], k=1.5)[0])


def test_shrink_keeps_the_prior_without_a_usable_slope() -> None:
    post, se = shrink(np.array([np.nan, 0.1]), np.array([np.inf, 0.01]), np.array([0.03, 0.03]),
                      tau=0.01)
    assert post[0] == pytest.approx(0.03) and se[0] == pytest.approx(0.01)
    assert post[1] == pytest.approx(0.065) and se[1] == pytest.approx(np.sqrt(0.5) * 0.01)


def test_task_uses_truth_for_scoring_only() -> None:
    assert TASK.name == "tire" and TASK.needs_truth
    assert "truth" in TASK.target_source and TireDegradationModel.targets == ()
