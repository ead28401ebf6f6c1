"""Leaks by behaviour: a window's score is fixed once the window has ended.

A simulated race's telemetry goes through the window features, the car's history and
the detector and baseline; then everything after a cut is changed (values scaled,
spikes added, samples dropped) and the truth labels scrambled. Every window that ended
before the cut must score exactly as before: the score may read the window and the
car's earlier windows, never what comes after, and never the label.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cognirace.domain.channels import CHANNEL_BY_RAW
from cognirace.features.windows import KEYS, WINDOW_MS, window_features, with_car_history
from cognirace.models.anomaly import (
    AnomalyDetector,
    AnomalyDetectorWithCarHistory,
    TunedZScoreBaseline,
)
from cognirace.sim import RaceConfig, season_roster, simulate_race
from cognirace.sim.events import FAULT_CHANNELS, Fault
from cognirace.sim.telemetry import synthesize_car

START = dt.datetime(2025, 6, 1, 18, 0, tzinfo=dt.UTC)
CHANNELS = ("speed", "gear", "nmot", "aps", "pbrake_f", "pbrake_r", "accx_can", "accy_can",
            "Steering_Angle")
FAULTS = (
    Fault(0, "drift", 3, 6, ("speed",), 0.15, 0.0),
    Fault(1, "brake_fade", 3, 9, FAULT_CHANNELS["brake_fade"], 0.14, 1.5),
    Fault(2, "stuck", 4, 6, ("Steering_Angle",), 0.1, 0.0),
    Fault(3, "dropout", 5, 6, ("pbrake_r",), 0.1, 0.0),
)


@pytest.fixture(scope="module")
def telemetry() -> pl.DataFrame:
    """Four cars' samples at 2 Hz in the lake's schema, each with a fault."""
    race = simulate_race(RaceConfig("barber", n_cars=4, duration_s=1200.0),
                         season_roster(9)[:4], np.random.default_rng(9))
    race = dataclasses.replace(race, faults=list(FAULTS))
    frames = []
    for car in range(4):
        tel = synthesize_car(race, car, 2.0, np.random.default_rng(car))
        frames.append(pl.DataFrame({
            "race_id": "r1", "vehicle_id": f"GR86-00{car}-{car}",
            "time": [START + dt.timedelta(seconds=float(t)) for t in tel.t_s],
            "lap": tel.lap.astype(np.int32),
            **{CHANNEL_BY_RAW[c].column: tel.values[c] for c in CHANNELS},
        }).with_columns(pl.col("time").cast(pl.Datetime("us", "UTC")),
                        pl.col(CHANNEL_BY_RAW[c].column for c in CHANNELS).fill_nan(None),
                        pl.lit(None, pl.Float64).alias("ath")))  # Barber logs no blade
    return pl.concat(frames)


def _rows(telemetry: pl.DataFrame) -> pl.DataFrame:
    """Window rows with a truth class from the faults' laps (the tests' own labels)."""
    rows = with_car_history(window_features(telemetry))
    car = pl.col("vehicle_id").str.slice(7, 1).cast(pl.Int64)
    kind = pl.lit("none")
    for f in FAULTS:
        label = {"brake_fade": "brake"}.get(f.kind, "sensor")
        kind = pl.when((car == f.car) & pl.col("lap").is_between(f.start_lap, f.end_lap)) \
            .then(pl.lit(label)).otherwise(kind)
    return rows.with_columns(kind.alias("fault_kind"), pl.lit("barber").alias("track"))


def _changed_after(telemetry: pl.DataFrame, cut: dt.datetime) -> pl.DataFrame:
    """Every sample from ``cut`` on scaled and spiked, one in three dropped."""
    later = pl.col("time") >= cut
    numeric = [c for c, t in telemetry.schema.items() if t == pl.Float64]
    spike = (pl.int_range(pl.len()) % 7 == 0).cast(pl.Float64) * 50.0
    return (telemetry.with_columns(pl.when(later).then(pl.col(c) * 1.3 + spike)
                                   .otherwise(pl.col(c)) for c in numeric)
            .filter(~later | (pl.int_range(pl.len()) % 3 != 0)))


@pytest.mark.parametrize("model", [
    AnomalyDetector(n_estimators=15, max_false_alarms_per_hour=5.0),
    AnomalyDetectorWithCarHistory(n_estimators=15, max_false_alarms_per_hour=5.0),
    TunedZScoreBaseline(max_false_alarms_per_hour=5.0),
], ids=["detector", "detector_with_car_history", "tuned_zscore"])
def test_a_windows_score_ignores_everything_after_it(
    telemetry: pl.DataFrame, model: AnomalyDetector | TunedZScoreBaseline,
) -> None:
    rows = _rows(telemetry)
    assert rows["fault_kind"].n_unique() == 3
    model.fit(rows)
    cut = START + dt.timedelta(seconds=500.0)
    ended = (pl.col("window_id") + 1) * WINDOW_MS <= cut.timestamp() * 1000
    before = model.predict(rows).filter(ended)
    changed = _rows(_changed_after(telemetry, cut))
    after = model.predict(changed)
    assert_frame_equal(after.filter(ended), before)
    later = after.filter(~ended).join(model.predict(rows).filter(~ended), on=list(KEYS))
    assert (later["p_anomaly"] != later["p_anomaly_right"]).any()  # the change was seen


def test_the_label_does_not_move_the_score(telemetry: pl.DataFrame) -> None:
    rows = _rows(telemetry)
    model = AnomalyDetector(n_estimators=15, max_false_alarms_per_hour=5.0).fit(rows)
    scrambled = rows.with_columns(pl.col("fault_kind").shuffle(seed=3),
                                  pl.lit("cota").alias("track"))
    assert_frame_equal(model.predict(scrambled), model.predict(rows))
    unlabelled = rows.drop("fault_kind", "track")
    assert_frame_equal(model.predict(unlabelled), model.predict(rows))
