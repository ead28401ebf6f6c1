"""The tire-degradation model and its baseline on a small simulated season."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cognirace.features import split_by_race
from cognirace.models.tire import (
    TASK,
    TireDegradationModel,
    TrackMeanSlopeBaseline,
    score_tire,
    tire_rows,
)
from cognirace.models.tire_stats import conformal_factor, huber_slope, race_folds, shrink
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
        "car_number": np.arange(n_stints).astype(str), "stint": np.ones(n_stints, np.int32),
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


def test_task_uses_truth_for_scoring_and_interval_width_only() -> None:
    assert TASK.name == "tire" and TASK.needs_truth
    assert "truth" in TASK.target_source and TireDegradationModel.targets == ()


def calibration_frame(rng: np.random.Generator, n_races: int = 12) -> pl.DataFrame:
    """Synthetic stints whose wear rates spread far more than the prior's ``tau``.

    Each stint carries its true loss (rate x last age), as simulated rows do.
    """
    frame = tire_frame(rng, n_stints=30 * n_races)
    deg = 0.035 + rng.normal(0.0, 0.02, frame.height)
    times = [(np.asarray(t) + (d - 0.035) * np.asarray(a)).tolist() for t, a, d in
             zip(frame["lap_times_s"].to_list(), frame["tire_ages_laps"].to_list(), deg,
                 strict=True)]
    return frame.with_columns(
        pl.Series("lap_times_s", times),
        pl.Series("race_id", [f"r{i % n_races}" for i in range(frame.height)]),
        (pl.Series(deg) * pl.col("horizon_age_laps")).alias("true_loss_s"),
        pl.Series("true_deg_s_per_lap", deg), pl.Series("true_slope_s_per_lap", deg))


def test_calibrated_interval_covers_80_percent_of_held_out_races(
        rng: np.random.Generator) -> None:
    frame = calibration_frame(rng)
    test = frame.get_column("race_id").is_in(["r0", "r1", "r2"])
    model = TireDegradationModel(calibration_repeats=2).fit(frame.filter(~test))
    held = frame.filter(test)
    raw = TireDegradationModel().fit(frame.filter(~test).drop("true_loss_s"))
    raw_cover = score_tire(held, raw.predict(held))
    cover = score_tire(held, model.predict(held))["loss_coverage_p10_p90"]
    assert model.interval_factor_ > 1.0 and model.n_calibration_ > 0
    assert raw_cover["loss_coverage_p10_p90"] < 0.7
    assert cover == pytest.approx(0.8, abs=0.1)


def test_calibration_keeps_slopes_and_survives_save_and_load(
        rng: np.random.Generator, tmp_path: Path) -> None:
    frame = calibration_frame(rng, n_races=6)
    model = TireDegradationModel(calibration_repeats=1).fit(frame)
    plain = TireDegradationModel().fit(frame.drop("true_loss_s"))
    assert plain.interval_factor_ == 1.0 and plain.n_calibration_ == 0
    one_race = TireDegradationModel().fit(frame.filter(pl.col("race_id") == "r0"))
    assert one_race.interval_factor_ == 1.0  # nothing to hold out
    ours, theirs = model.predict(frame), plain.predict(frame)
    assert np.allclose(ours["deg_s_per_lap"], theirs["deg_s_per_lap"])
    assert np.allclose(ours["deg_se_s_per_lap"],
                       model.interval_factor_ * theirs["deg_se_s_per_lap"])
    model.save(tmp_path / "tire")
    loaded = TireDegradationModel.load(tmp_path / "tire")
    assert loaded.interval_factor_ == model.interval_factor_
    assert loaded.predict(frame).equals(ours)


def test_a_season_without_track_temperature_fits_and_calibrates(
        rng: np.random.Generator) -> None:
    # Tracks whose timing writes TRACK_TEMP 0 ("not measured") give null temperatures.
    frame = calibration_frame(rng).with_columns(pl.lit(None, pl.Float64).alias("track_temp_c"))
    model = TireDegradationModel(calibration_repeats=1).fit(frame)
    assert model.prior_coef_[-1] == 0.0, "no temperature, no temperature effect"
    assert np.isfinite(model.prior_coef_).all() and model.n_calibration_ > 0
    warm = TireDegradationModel().fit(tire_frame(rng))
    assert warm.predict(frame)["deg_s_per_lap"].is_finite().all()


def test_conformal_factor_is_the_finite_sample_quantile() -> None:
    scores = np.arange(1.0, 101.0)
    assert conformal_factor(scores, 0.8) == 81.0  # ceil(0.8 x 101) = 81st of 100
    assert conformal_factor(np.array([0.5, 2.0]), 0.8) == 2.0
    errors = np.random.default_rng(0).normal(0.0, 2.5, 20_000)  # 2.5 x the standard error
    normal = np.abs(errors) / 1.2816
    assert conformal_factor(normal, 0.8) == pytest.approx(2.5, rel=0.05)


def test_race_folds_keep_races_whole_and_tracks_in_training(
        rng: np.random.Generator) -> None:
    frame = calibration_frame(rng, n_races=6).with_columns(
        pl.format("{}-{}", "track", "race_id").alias("race_id"))
    fold = race_folds(frame, 3, rng)
    per_race = pl.DataFrame({"race_id": frame["race_id"], "fold": fold}) \
        .group_by("race_id").agg(pl.col("fold").n_unique())
    assert (per_race["fold"] == 1).all()
    for j in range(3):
        assert set(frame.filter(pl.Series(fold != j))["track"]) == set(frame["track"])
