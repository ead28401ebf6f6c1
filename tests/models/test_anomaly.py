"""The anomaly detector: labels from truth spans, thresholds, kinds, channels, scores."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from cognirace.features.windows import HISTORY_FEATURES, WINDOW_FEATURES
from cognirace.models.anomaly import (
    KIND_CHANNELS,
    TASK,
    AnomalyDetector,
    TunedZScoreBaseline,
    ZScoreBaseline,
    alarm_threshold,
    anomaly_rows,
    lap_scores,
    with_throttle_channel,
)
from cognirace.models.anomaly_scoring import anomaly_parts, false_alarms_per_hour, score_anomaly

START = dt.datetime(2025, 4, 6, 15, 0, tzinfo=dt.UTC)
FAULTS = {"sensor": ("speed_kph_repeat", 1.0), "brake": ("brake_g_per_bar", -0.006),
          "power": ("full_throttle_accx_g", -0.15), "gearbox": ("rpm_per_kph", 15.0)}
"""Class to (the column its fault moves, by how much) in the synthetic windows."""


def anomaly_frame(rng: np.random.Generator, n: int = 1200, n_races: int = 4) -> pl.DataFrame:
    """Synthetic window rows: noise features, and faults that move one relation each."""
    names = (*WINDOW_FEATURES, *HISTORY_FEATURES)
    x = rng.normal(0.0, 1.0, (n, len(names)))
    frame = pl.DataFrame({name: x[:, i] for i, name in enumerate(names)})
    kinds = np.where(rng.random(n) < 0.25, rng.choice(list(FAULTS), n), "none")
    frame = frame.with_columns(
        n_samples=pl.lit(10, pl.Int32), speed_kph_repeat=pl.lit(0.0),
        brake_g_per_bar=0.0133 + 0.0005 * pl.col("brake_g_per_bar"),
        full_throttle_accx_g=0.3 + 0.02 * pl.col("full_throttle_accx_g"),
        rpm_per_kph=45.0 + pl.col("rpm_per_kph"), fault_kind=pl.Series(kinds.tolist()))
    for kind, (column, shift) in FAULTS.items():
        frame = frame.with_columns(pl.when(pl.col("fault_kind") == kind)
                                   .then(pl.col(column) + shift).otherwise(pl.col(column))
                                   .alias(column))
    keys = pl.DataFrame({"race_id": [f"r{i % n_races}" for i in range(n)],
                         "vehicle_id": [f"car-{i % 7}" for i in range(n)],
                         "window_id": np.arange(n, dtype=np.int64), "lap": np.arange(n) // 20})
    return pl.concat([keys, frame], how="horizontal")


def test_detector_finds_mechanical_faults_and_names_their_channels(seed: int) -> None:
    rng = np.random.default_rng(seed)
    train, test = anomaly_frame(rng), anomaly_frame(rng, n=600)
    model = AnomalyDetector(n_estimators=30, max_false_alarms_per_hour=20.0).fit(train)
    predictions = model.predict(test)
    metrics = score_anomaly(test, predictions)
    baseline = score_anomaly(test, ZScoreBaseline().fit(train).predict(test))
    assert metrics["f1"] > 0.8 > baseline["f1"]
    brake = predictions.filter(pl.col("anomaly_kind") == "brake")
    assert brake.height > 0 and set(brake["anomaly_channels"]) == {"pbrake_f,pbrake_r,accx_g"}
    clean = predictions.filter(~pl.col("is_anomaly"))
    assert set(clean["anomaly_kind"]) == {"none"} and set(clean["anomaly_channels"]) == {""}


def test_baseline_blames_the_channel_out_of_range(seed: int) -> None:
    rng = np.random.default_rng(seed)
    train = anomaly_frame(rng).with_columns(fault_kind=pl.lit("none"))
    test = train.head(1).with_columns(rpm_jump=pl.lit(50.0))
    prediction = ZScoreBaseline().fit(train).predict(test)
    assert prediction.row(0, named=True) | {"p_anomaly": 0} == {
        "race_id": "r0", "vehicle_id": "car-0", "window_id": 0, "p_anomaly": 0,
        "is_anomaly": True, "anomaly_kind": "sensor", "anomaly_channels": "rpm"}


def test_the_throttle_is_named_by_the_channel_the_window_read() -> None:
    frame = pl.DataFrame({"throttle_is_ath": [0.0, 1.0, None, 1.0]},
                         schema={"throttle_is_ath": pl.Float64})
    named = with_throttle_channel([KIND_CHANNELS["power"]] * 3 + [""], frame)
    assert named == ["aps,accx_g,speed_kph", "ath,accx_g,speed_kph",
                     "throttle_pct,accx_g,speed_kph", ""]


def test_threshold_keeps_false_alarms_within_budget() -> None:
    score = np.linspace(0.0, 1.0, 7200)  # 7,200 clean windows of 5 s = 10 car-hours
    clean = np.ones(7200, dtype=bool)
    threshold = alarm_threshold(score, clean, per_hour=0.5)
    assert false_alarms_per_hour(score > threshold, clean) <= 0.5
    assert (score > threshold).sum() == 5


def test_rows_label_windows_overlapping_a_fault_span() -> None:
    starts = [START + dt.timedelta(seconds=5 * i) for i in range(6)]
    windows = pl.DataFrame({"race_id": ["r"] * 6, "vehicle_id": ["v"] * 6,
                            "window_id": list(range(6)), "car_number": ["21"] * 6,
                            "window_start": starts, "track": ["barber"] * 6})
    truth = {
        "race": pl.DataFrame({"race_id": ["r"], "start_utc": [START]}),
        # Car "021" has a sensor fault the whole time; it must not label car "21".
        "faults": pl.DataFrame({"race_id": ["r", "r"], "car_number": ["21", "021"],
                                "kind": ["brake_fade", "stuck"], "start_s": [7.0, 0.0],
                                "end_s": [16.0, 30.0], "in_telemetry": [True, True]}),
    }
    rows = anomaly_rows(windows, truth)
    assert rows["fault_kind"].to_list() == ["none", "brake", "brake", "brake", "none", "none"]


def test_scores_and_lap_scores_on_a_hand_made_case() -> None:
    rows = pl.DataFrame({"race_id": ["r"] * 4, "vehicle_id": ["v"] * 4, "lap": [1, 1, 2, 2],
                         "fault_kind": ["brake", "none", "none", "none"]})
    predictions = pl.DataFrame({"p_anomaly": [0.9, 0.1, 0.8, 0.0],
                                "is_anomaly": [True, False, True, False],
                                "anomaly_kind": ["brake", "none", "sensor", "none"]})
    metrics = score_anomaly(rows, predictions)
    assert (metrics["precision"], metrics["recall"], metrics["f1_brake"]) == (0.5, 1.0, 1.0)
    assert metrics["false_alarms_per_car_hour"] == 3600.0 / 15.0
    laps = lap_scores(rows, predictions)
    assert laps["p_anomaly_max"].to_list() == [0.9, 0.8]
    assert laps["p_anomaly_mean"].to_list() == [0.5, 0.4]


def test_parts_add_up_to_the_f1_of_model_and_baseline(seed: int) -> None:
    rng = np.random.default_rng(seed)
    train, test = anomaly_frame(rng), anomaly_frame(rng, n=600)
    assert TASK.parts is anomaly_parts and TASK.baseline is TunedZScoreBaseline
    for model in (AnomalyDetector(n_estimators=20, max_false_alarms_per_hour=20.0),
                  TunedZScoreBaseline(max_false_alarms_per_hour=20.0), ZScoreBaseline()):
        predictions = model.fit(train).predict(test)
        parts = anomaly_parts(test, predictions)
        assert parts.columns == ["race_id", "num", "den"] and parts.height == test.height
        f1 = parts["num"].sum() / parts["den"].sum()
        assert f1 == pytest.approx(score_anomaly(test, predictions)["f1"], abs=1e-12)
        assert 0.0 < f1 < 1.0  # neither side trivial: the identity is tested, not 0 = 0


def test_the_tuned_baseline_spends_the_detectors_alarm_budget(seed: int) -> None:
    rng = np.random.default_rng(seed)
    train = anomaly_frame(rng, n=4000)
    clean = (train["fault_kind"] == "none").to_numpy()
    budget = AnomalyDetector().max_false_alarms_per_hour
    tuned = TunedZScoreBaseline()
    assert tuned.max_false_alarms_per_hour == budget
    flags = tuned.fit(train).predict(train)["is_anomaly"].to_numpy()
    assert false_alarms_per_hour(flags, clean) <= budget
    fixed = ZScoreBaseline().fit(train).predict(train)["is_anomaly"].to_numpy()
    assert false_alarms_per_hour(fixed, clean) > 4 * budget  # the fixed rule overspends
    looser = TunedZScoreBaseline(max_false_alarms_per_hour=50.0).fit(train)
    assert looser.z_limit_ < tuned.z_limit_  # a larger budget lowers the limit
    assert 0 < false_alarms_per_hour(looser.predict(train)["is_anomaly"].to_numpy(),
                                     clean) <= 50.0
