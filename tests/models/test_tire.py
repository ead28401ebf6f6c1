"""The tire-degradation model, its baseline and its forecast task, on simulated seasons."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cognirace.errors import DataError
from cognirace.features import feature_table, split_by_race
from cognirace.lake import open_lake
from cognirace.models.tire import (
    TARGETS,
    TASK,
    MedianLevelTireModel,
    RawTrendBaseline,
    TireDegradationModel,
    TrackMeanSlopeBaseline,
    score_tire,
    tire_rows,
)
from cognirace.models.tire_forecast import (
    MIN_AHEAD_LAPS,
    MIN_SEEN_LAPS,
    SEEN_SHARE,
    STINT_KEYS,
    ahead_errors,
)
from cognirace.models.tire_stats import (
    MIN_LAP_SCATTER_S,
    conformal_factor,
    huber_levels,
    huber_slope,
    huber_slopes,
    lap_scatter,
    padded,
    race_folds,
    shrink,
)
from cognirace.training.truth import load_truth
from features import timing_cars
from models.conftest import SmallSeason

INPUT_COLUMNS = ("track", "lap_times_s", "tire_ages_laps", "fuel_laps", "horizon_age_laps")
LABEL_COLUMNS = tuple(spec.name for spec in TARGETS)

KM = {"barber": 3.675, "road_america": 6.46, "sonoma": 4.031}


def tire_frame(rng: np.random.Generator, n_stints: int = 60,
               deg_spread_s_per_lap: float = 0.0) -> pl.DataFrame:
    """Synthetic stints split as the task splits them: wear 0.035 s/lap (± a spread
    between drivers), fuel 0.012 s per km-lap, lap noise 0.3 s; for the contract."""
    tracks = rng.choice(list(KM), n_stints)
    parts: dict[str, list[list[float]]] = {name: [] for name in (
        "lap_times_s", "tire_ages_laps", "fuel_laps", *LABEL_COLUMNS)}
    for track in tracks:
        n = int(rng.integers(10, 24))
        age = np.arange(n, dtype=float) + 1.0
        fuel = age + 1.0
        deg = 0.035 + rng.normal(0.0, deg_spread_s_per_lap)
        times = 100.0 + deg * age - 0.012 * KM[str(track)] * fuel + rng.normal(0, 0.3, n)
        seen = max(MIN_SEEN_LAPS, int(n * SEEN_SHARE))
        for name, values in (("lap_times_s", times), ("tire_ages_laps", age),
                             ("fuel_laps", fuel)):
            parts[name].append(values[:seen].tolist())
            parts[f"ahead_{name}"].append(values[seen:].tolist())
    return pl.DataFrame({
        "race_id": [f"r{i % 2}" for i in range(n_stints)], "vehicle_id": "GR86-001-2",
        "car_number": np.arange(n_stints).astype(str), "stint": np.ones(n_stints, np.int32),
        "track": tracks, **parts,
        "horizon_age_laps": [a[-1] for a in parts["ahead_tire_ages_laps"]],
    })


@pytest.fixture(scope="module")
def rows(pace_lake: SmallSeason) -> pl.DataFrame:
    return tire_rows(pace_lake.features, pace_lake.truth)


def test_each_stint_is_split_into_laps_seen_and_laps_ahead(rows: pl.DataFrame) -> None:
    assert rows.height > 50
    n_seen = np.maximum(MIN_SEEN_LAPS, np.floor(rows["n_laps"].to_numpy() * SEEN_SHARE))
    assert (rows["n_seen_laps"].to_numpy() == n_seen).all()
    assert (rows["n_ahead_laps"] >= MIN_AHEAD_LAPS).all()
    assert (rows["n_seen_laps"] + rows["n_ahead_laps"] == rows["n_laps"]).all()
    for seen, ahead in (("lap_times_s", "ahead_lap_times_s"), ("seen_lap", "ahead_lap")):
        assert (rows[seen].list.len() == rows["n_seen_laps"]).all()
        assert (rows[ahead].list.len() == rows["n_ahead_laps"]).all()
    assert (rows["horizon_age_laps"] == rows["ahead_tire_ages_laps"].list.last()).all()
    assert rows["true_deg_s_per_lap"].null_count() == 0
    assert rows.select(pl.struct(*STINT_KEYS).is_unique().all()).item()


def test_the_model_never_sees_a_lap_it_is_scored_on(rows: pl.DataFrame,
                                                    pace_lake: SmallSeason) -> None:
    # Within each stint every lap ahead comes after every lap seen, and seen and ahead
    # laps are exactly the stint's green laps.
    assert (rows["seen_lap"].list.max() < rows["ahead_lap"].list.min()).all()
    green = pace_lake.features.filter(pl.col("green_lap")).group_by(STINT_KEYS) \
        .agg(pl.col("lap").sort().alias("laps"))
    joined = rows.join(green, on=list(STINT_KEYS))
    assert joined.height == rows.height
    assert joined.select((pl.col("laps") == pl.concat_list("seen_lap", "ahead_lap")).all()
                         ).item()
    # Slowing every lap ahead by 30 s changes the label by 30 s and nothing the model
    # reads, so neither its inputs nor its predictions move.
    ahead = rows.select(*STINT_KEYS, pl.col("ahead_lap").alias("lap")).explode("lap") \
        .with_columns(pl.lit(True).alias("_ahead"))
    slowed = pace_lake.features.join(ahead, on=[*STINT_KEYS, "lap"], how="left").with_columns(
        pl.when(pl.col("_ahead")).then(pl.col("lap_time_s") + 30.0)
        .otherwise(pl.col("lap_time_s")).alias("lap_time_s")).drop("_ahead")
    moved = tire_rows(slowed, pace_lake.truth)
    assert moved.select(*STINT_KEYS, *INPUT_COLUMNS).equals(
        rows.select(*STINT_KEYS, *INPUT_COLUMNS))
    shift = (moved["ahead_lap_times_s"].explode() - rows["ahead_lap_times_s"].explode())
    assert np.allclose(shift.to_numpy(), 30.0)
    model = TireDegradationModel(calibration_repeats=1).fit(rows)
    assert model.predict(moved).equals(model.predict(rows))
    assert model.predict(rows.drop(*LABEL_COLUMNS)).equals(model.predict(rows))


def test_timing_cars_without_a_logger_have_stints_of_their_own() -> None:
    rows = tire_rows(timing_cars.feature_rows())
    # 021 stopped after lap 5 (stint 2: 14 green laps), 3#2 after lap 12 (stint 1: 10
    # green laps, its 7 after the stop are too few), 7 never (19 green laps).
    assert rows.select("car_number", "stint", "n_laps").rows() == [
        ("021", 2, 14), ("3#2", 1, 10), ("7", 1, 19)]
    assert rows["vehicle_id"].to_list() == [None, None, "GR86-001-7"]
    new_set = rows.row(0, named=True)
    assert new_set["seen_lap"][0] == 7 and new_set["tire_ages_laps"][0] == 1.0
    assert new_set["horizon_age_laps"] == 14.0  # lap 20, 14 laps after the change
    drive_through = rows.row(1, named=True)
    assert drive_through["ahead_lap"][-1] == 11
    assert drive_through["lap_times_s"] == timing_cars.lap_times("3#2")[1:6]


def test_the_forecast_is_the_seen_level_plus_the_trend() -> None:
    stint = pl.DataFrame({
        "lap_times_s": [[100.0, 100.2, 100.4, 100.6, 100.8]],
        "tire_ages_laps": [[1.0, 2.0, 3.0, 4.0, 5.0]],
        "ahead_lap_times_s": [[101.0, 101.2, 101.4]],
        "ahead_tire_ages_laps": [[6.0, 7.0, 8.0]],
    })
    errors = ahead_errors(stint, np.array([100.4]), np.array([0.2]))
    assert np.allclose(errors["error_s"], 0.0)
    assert errors["delta_age_laps"].to_list() == [3.0, 4.0, 5.0]
    assert errors["last"].to_list() == [False, False, True]
    predictions = pl.DataFrame({
        "pace_level_s": [100.4], "pace_trend_s_per_lap": [0.1],
        "loss_p10_s": [0.9], "loss_p50_s": [0.5], "loss_p90_s": [1.1]})
    metrics = score_tire(stint, predictions)
    assert metrics["forecast_mae_s"] == pytest.approx((0.3 + 0.4 + 0.5) / 3)
    assert metrics["zero_trend_mae_s"] == pytest.approx((0.6 + 0.8 + 1.0) / 3)
    assert metrics["loss_coverage_p10_p90"] == 1.0  # the last lap is 1.0 s above the level
    assert "slope_mae_s_per_lap" not in metrics, "no truth, no slope metrics"


@pytest.fixture(scope="module")
def seven_tracks(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """Rows of a season at all seven tracks (two races each, 14 cars), with truth.

    Fuel and wear separate through the tracks' lengths, so a season must span several.
    """
    from cognirace.ingest import ingest
    from cognirace.sim import simulate_season

    root = tmp_path_factory.mktemp("seven_tracks")
    simulate_season(root / "races", races=2, cars=14, telemetry_hz=0, seed=5)
    ingest(root / "races", root / "lake")
    lake = open_lake(root / "lake")
    return tire_rows(feature_table(lake), load_truth(lake))


def test_fuel_correction_fixes_the_wear_rate_not_the_forecast(
        seven_tracks: pl.DataFrame) -> None:
    """The fair baseline and the model both read the wear rate with the fuel gain taken
    out, the raw trend does not; all three forecast lap times better than no trend."""
    forecast = {"model": 0.0, "fair": 0.0, "raw": 0.0, "flat": 0.0}
    slope = {"model": 0.0, "fair": 0.0, "raw": 0.0}
    for seed in range(4):
        (split,) = split_by_race(seven_tracks, test_fraction=0.25, seed=seed)
        scores = {name: score_tire(split.test, predictor.fit(split.train).predict(split.test))
                  for name, predictor in (
                      ("model", TireDegradationModel(calibration_repeats=1)),
                      ("fair", TrackMeanSlopeBaseline()), ("raw", RawTrendBaseline()))}
        for name in ("model", "fair", "raw"):
            forecast[name] += scores[name]["forecast_mae_s"] / 4
            slope[name] += scores[name]["slope_mae_s_per_lap"] / 4
        forecast["flat"] += scores["model"]["zero_trend_mae_s"] / 4
    assert slope["raw"] > 0.04  # the fuel gain of a lap, about 0.05 s, read as wear
    assert max(slope["model"], slope["fair"]) < 0.02
    assert max(forecast["model"], forecast["fair"], forecast["raw"]) < forecast["flat"]


def test_fair_baseline_is_the_pooled_fuel_corrected_slope_per_track(
        rng: np.random.Generator) -> None:
    frame = tire_frame(rng, n_stints=240).with_columns(
        pl.Series("race_id", [f"r{i % 8}" for i in range(240)]))
    baseline = TrackMeanSlopeBaseline().fit(frame)
    assert baseline.fuel_s_per_km_lap_ == pytest.approx(-0.012, abs=0.003)
    for track, km in KM.items():
        assert baseline.slopes_s_per_lap_[track] == pytest.approx(0.035, abs=0.006), track
        stint = frame.filter(pl.col("track") == track).head(1)
        out = baseline.predict(stint).row(0, named=True)
        assert out["deg_s_per_lap"] == baseline.slopes_s_per_lap_[track]
        assert out["pace_trend_s_per_lap"] == pytest.approx(
            baseline.slopes_s_per_lap_[track] + baseline.fuel_s_per_km_lap_ * km)
        assert out["pace_level_s"] == pytest.approx(np.median(stint["lap_times_s"][0]))
    unknown = baseline.predict(frame.head(1).with_columns(track=pl.lit("monza")))
    assert unknown["deg_s_per_lap"][0] == baseline.slopes_s_per_lap_[""]
    # The previous baseline keeps the fuel gain in its "wear" rate.
    raw = RawTrendBaseline().fit(frame).predict(frame)
    assert (raw["deg_s_per_lap"] < 0.0).all()


def test_the_seen_level_is_a_huber_mean_that_shrugs_off_a_slow_lap() -> None:
    times = [100.0, 100.2, 99.9, 100.1, 106.0, 100.0, 99.8]
    stint = pl.DataFrame({"lap_times_s": [times], "tire_ages_laps": [[float(a) for a in
                                                                      range(1, 8)]]})
    flat = huber_levels(stint, np.zeros(1), 1.0)[0]
    assert 99.95 < flat < 100.15  # the 106 s lap counts as about one spread's worth
    assert flat > float(np.median(times))  # a mean: the slow lap pulls a little
    # Along a trend the laps are moved to the mean age (4) before the mean is taken.
    rising = stint.with_columns(pl.Series("lap_times_s", [[t + 0.1 * a for t, a in
                                                           zip(times, range(1, 8), strict=True)]]))
    assert huber_levels(rising, np.array([0.1]), 1.0)[0] == pytest.approx(flat + 0.4)


def test_the_median_level_ablation_differs_from_the_model_in_the_level_only(
        rng: np.random.Generator) -> None:
    frame = tire_frame(rng)
    ours = TireDegradationModel().fit(frame.drop("race_id")).predict(frame)
    ablated = MedianLevelTireModel().fit(frame.drop("race_id")).predict(frame)
    assert TASK.ablations == {"with the median level": MedianLevelTireModel}
    assert ours.drop("pace_level_s").equals(ablated.drop("pace_level_s"))
    assert ablated["pace_level_s"].to_list() == frame["lap_times_s"].list.median().to_list()
    assert not ours["pace_level_s"].equals(ablated["pace_level_s"])


def test_fuel_makes_laps_faster_and_wear_slower(seven_tracks: pl.DataFrame) -> None:
    model = TireDegradationModel(calibration_repeats=1).fit(seven_tracks)
    assert model.fuel_s_per_km_lap_ < 0.0
    assert 0.0 < model.pooled_deg_s_per_lap_ < 0.1
    trend = model.predict(seven_tracks)
    assert (trend["pace_trend_s_per_lap"] < trend["deg_s_per_lap"]).all()


def test_the_task_trains_and_scores_on_a_lake_without_truth(
        tmp_path: Path, memory_url: str) -> None:
    from cognirace.ingest import ingest
    from cognirace.sim import simulate_season
    from cognirace.training import open_registry, task_examples, train

    simulate_season(tmp_path / "races", tracks=["barber", "sonoma"], races=2, cars=12,
                    telemetry_hz=0, seed=8)
    for truth in list((tmp_path / "races").rglob("truth")):
        shutil.rmtree(truth)
    ingest(tmp_path / "races", tmp_path / "lake")
    lake = open_lake(tmp_path / "lake")
    assert load_truth(lake)["laps"].is_empty()
    assert not TASK.needs_truth
    assert task_examples(lake, [TASK])["tire"].height > 20
    report = train(lake, open_registry(memory_url, [TASK]), [TASK], seed=0)
    by_metric = {(c.evaluation, c.metric): c for c in report.comparisons()}
    for evaluation in ("races", "loto"):
        primary = by_metric[(evaluation, "forecast_mae_s")]
        assert primary.primary and np.isfinite([primary.model, primary.baseline]).all()
    assert not [m for _, m in by_metric if m.startswith(("slope", "trend"))]


def test_huber_slope_ignores_an_error_lap(rng: np.random.Generator) -> None:
    age = np.arange(15, dtype=float)
    y = 90.0 + 0.04 * age + rng.normal(0, 0.05, 15)
    y[7] += 4.0  # a driver error
    slope, se = huber_slope(age, y, k=1.5)
    assert slope == pytest.approx(0.04, abs=0.01) and 0.0 < se < 0.05
    assert np.isnan(huber_slope(age[:2], y[:2], k=1.5)[0])


def test_stint_slopes_run_on_padded_stints_as_one_by_one(rng: np.random.Generator) -> None:
    stints = pl.Series([rng.normal(0, 1, int(n)).tolist() for n in rng.integers(1, 12, 40)])
    ages = pl.Series([np.arange(len(s), dtype=float).tolist() for s in stints.to_list()])
    matrix = padded(stints)
    assert matrix.shape == (40, max(len(s) for s in stints.to_list()))
    assert np.isnan(matrix).sum() == matrix.size - stints.list.len().sum()
    slope, se = huber_slopes(padded(ages), matrix, 1.5)
    for i, (y, age) in enumerate(zip(stints.to_list(), ages.to_list(), strict=True)):
        one = huber_slope(np.array(age), np.array(y), 1.5)
        assert np.allclose([slope[i], se[i]], one, equal_nan=True)


def test_lap_scatter_shrugs_off_a_spin_and_a_trend() -> None:
    frame = pl.DataFrame({
        "lap_times_s": [[150.9, 171.3, 152.0, 151.7, 152.6],  # a spin on the second lap
                        [100.0, 99.5, 99.0, 98.5, 98.0], [100.0]],
        "tire_ages_laps": [[1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0, 5.0], [1.0]],
    })
    scatter = lap_scatter(frame)
    assert 0.2 < scatter[0] < 1.0
    assert scatter[1] == scatter[2] == MIN_LAP_SCATTER_S  # a clean trend; a single lap


def test_shrink_keeps_the_prior_without_a_usable_slope() -> None:
    post, se = shrink(np.array([np.nan, 0.1]), np.array([np.inf, 0.01]), np.array([0.03, 0.03]),
                      tau=0.01)
    assert post[0] == pytest.approx(0.03) and se[0] == pytest.approx(0.01)
    assert post[1] == pytest.approx(0.065) and se[1] == pytest.approx(np.sqrt(0.5) * 0.01)


def test_task_is_scored_on_timing_with_truth_for_extra_metrics_only() -> None:
    assert TASK.name == "tire" and not TASK.needs_truth and TASK.primary == "forecast_mae_s"
    assert {spec.name for spec in TireDegradationModel.targets} == set(LABEL_COLUMNS)
    assert "Timing only" in TASK.target_source and "never trains" in TASK.target_source
    assert TrackMeanSlopeBaseline.outputs == TireDegradationModel.outputs


def test_a_stint_without_seen_laps_is_refused(rng: np.random.Generator) -> None:
    frame = tire_frame(rng)
    model = TrackMeanSlopeBaseline().fit(frame)
    empty = frame.head(2).with_columns(
        pl.Series("lap_times_s", [[], []], pl.List(pl.Float64)),
        pl.Series("tire_ages_laps", [[], []], pl.List(pl.Float64)),
        pl.Series("fuel_laps", [[], []], pl.List(pl.Float64)))
    with pytest.raises(DataError, match="row 0"):
        model.predict(empty)
    times = frame["lap_times_s"].head(2).to_list()
    times[1][1] = float("nan")
    with pytest.raises(DataError, match="row 1"):
        model.predict(frame.head(2).with_columns(pl.Series("lap_times_s", times)))


def test_calibrated_interval_covers_80_percent_of_held_out_races(
        rng: np.random.Generator) -> None:
    # Wear rates spread far more between drivers than the prior's tau, so the
    # uncalibrated interval (lap scatter and the posterior slope error) is too narrow.
    frame = tire_frame(rng, n_stints=360, deg_spread_s_per_lap=0.05).with_columns(
        pl.Series("race_id", [f"r{i % 12}" for i in range(360)]))
    test = frame.get_column("race_id").is_in(["r0", "r1", "r2"])
    model = TireDegradationModel(calibration_repeats=2).fit(frame.filter(~test))
    held = frame.filter(test)
    raw = TireDegradationModel().fit(frame.filter(~test).drop("race_id"))
    assert raw.interval_factor_ == 1.0 and raw.n_calibration_ == 0
    assert score_tire(held, raw.predict(held))["loss_coverage_p10_p90"] < 0.7
    cover = score_tire(held, model.predict(held))["loss_coverage_p10_p90"]
    assert model.interval_factor_ > 1.0 and model.n_calibration_ > 0
    assert cover == pytest.approx(0.8, abs=0.1)


def test_calibration_only_widens_the_interval_and_survives_save_and_load(
        rng: np.random.Generator, tmp_path: Path) -> None:
    frame = tire_frame(rng, n_stints=180, deg_spread_s_per_lap=0.05).with_columns(
        pl.Series("race_id", [f"r{i % 6}" for i in range(180)]))
    model = TireDegradationModel(calibration_repeats=1).fit(frame)
    plain = TireDegradationModel().fit(frame.drop("race_id"))
    one_race = TireDegradationModel().fit(frame.filter(pl.col("race_id") == "r0"))
    assert one_race.interval_factor_ == 1.0  # nothing to hold out
    ours, theirs = model.predict(frame), plain.predict(frame)
    same = ["deg_s_per_lap", "deg_se_s_per_lap", "pace_trend_s_per_lap", "pace_level_s",
            "loss_p50_s"]
    assert ours.select(same).equals(theirs.select(same))
    half = (ours["loss_p90_s"] - ours["loss_p50_s"]).to_numpy()
    plain_half = (theirs["loss_p90_s"] - theirs["loss_p50_s"]).to_numpy()
    assert np.allclose(half, model.interval_factor_ * plain_half)
    model.save(tmp_path / "tire")
    loaded = TireDegradationModel.load(tmp_path / "tire")
    assert loaded.interval_factor_ == model.interval_factor_
    assert loaded.predict(frame).equals(ours)


def test_conformal_factor_is_the_finite_sample_quantile() -> None:
    scores = np.arange(1.0, 101.0)
    assert conformal_factor(scores, 0.8) == 81.0  # ceil(0.8 x 101) = 81st of 100
    assert conformal_factor(np.array([0.5, 2.0]), 0.8) == 2.0
    errors = np.random.default_rng(0).normal(0.0, 2.5, 20_000)  # 2.5 x the standard error
    normal = np.abs(errors) / 1.2816
    assert conformal_factor(normal, 0.8) == pytest.approx(2.5, rel=0.05)


def test_race_folds_keep_races_whole_and_tracks_in_training(
        rng: np.random.Generator) -> None:
    frame = tire_frame(rng, n_stints=180).with_columns(
        pl.Series("race_id", [f"r{i % 6}" for i in range(180)])).with_columns(
        pl.format("{}-{}", "track", "race_id").alias("race_id"))
    fold = race_folds(frame, 3, rng)
    per_race = pl.DataFrame({"race_id": frame["race_id"], "fold": fold}) \
        .group_by("race_id").agg(pl.col("fold").n_unique())
    assert (per_race["fold"] == 1).all()
    for j in range(3):
        assert set(frame.filter(pl.Series(fold != j))["track"]) == set(frame["track"])
