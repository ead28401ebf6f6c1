"""Telemetry windows: one row per car and 5 s, the same in batch and one at a time."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cognirace.features.windows import (
    KEYS,
    WINDOW_FEATURES,
    window_features,
    window_id,
    window_row,
    window_table,
)
from cognirace.lake import Lake

START = dt.datetime(2025, 4, 6, 15, 0, tzinfo=dt.UTC)


def samples(n: int = 20, **channels: list[float]) -> pl.DataFrame:
    """``n`` samples of one car at 2 Hz, steady driving unless a channel is given."""
    base: dict[str, list[float]] = {
        "speed_kph": [100.0 + i for i in range(n)], "gear": [3.0] * n,
        "rpm": [5000.0 + 50 * i for i in range(n)], "aps": [95.0] * n, "ath": [92.4] * n,
        "pbrake_f": [0.0] * n, "pbrake_r": [0.0] * n, "accx_g": [0.06] * n,
        "accy_g": [0.0] * n, "steering_deg": [0.0] * n,
    }
    base.update(channels)
    times = [START + dt.timedelta(milliseconds=500 * i) for i in range(n)]
    return pl.DataFrame({"race_id": ["r1"] * n, "vehicle_id": ["car-1"] * n, "time": times,
                         "lap": [1] * n, **base}).with_columns(
        pl.col("time").cast(pl.Datetime("us", "UTC")))


def test_windows_are_five_seconds_of_samples() -> None:
    table = window_features(samples(20))
    assert table.height == 2
    assert table["n_samples"].to_list() == [10, 10]
    assert set(WINDOW_FEATURES) <= set(table.columns)
    assert table["speed_kph_mean"].to_list() == [104.5, 114.5]


def test_stuck_dropout_and_spike_show_in_their_statistics() -> None:
    speed = [120.0] * 10
    rpm = [5000.0] + [float("nan")] * 9
    steer = [0.0] * 5 + [60.0] + [0.0] * 4
    row = window_row(samples(10, speed_kph=speed, rpm=rpm, steering_deg=steer))
    assert row["speed_kph_repeat"][0] == 1.0
    # The reading at 0 s stands for the samples up to 2.5 s after it (HOLD_S).
    assert row["rpm_null"][0] == 0.4
    assert row["steering_deg_jump"][0] == 60.0


def test_brake_relation_is_deceleration_per_bar() -> None:
    row = window_row(samples(10, pbrake_f=[60.0] * 10, accx_g=[-0.9] * 10, aps=[0.0] * 10))
    assert np.isclose(row["brake_g_per_bar"][0], 0.9 / 60.0)
    assert row["full_throttle_accx_g"][0] is None  # no flat-out sample: no power relation


def test_the_throttle_is_the_blade_where_the_track_logs_no_pedal() -> None:
    none = [None] * 10
    pedal = window_row(samples(10, aps=[95.0] * 10, ath=none))
    blade = window_row(samples(10, aps=none, ath=[95.0] * 10))
    assert pedal["throttle_source"][0] == "aps" and pedal["throttle_is_ath"][0] == 0.0
    assert blade["throttle_source"][0] == "ath" and blade["throttle_is_ath"][0] == 1.0
    for name in ("throttle_pct_mean", "throttle_pct_null", "full_throttle_accx_g"):
        assert blade[name][0] == pedal[name][0]
    neither = window_row(samples(10, aps=none, ath=none))
    assert neither["throttle_is_ath"][0] is None and neither["throttle_pct_null"][0] == 1.0
    assert neither["full_throttle_accx_g"][0] is None


def test_slow_channels_give_the_row_of_a_window_logged_on_every_sample() -> None:
    """At 20 Hz speed and rpm come on one sample in four, on different samples."""
    n = 100
    t = np.arange(n) * 0.05
    speed = 100.0 + 36.0 * t  # 10 m/s² = 1.02 g
    full = samples(n, speed_kph=list(speed), rpm=list(50.0 * speed), accx_g=[1.02] * n) \
        .with_columns(pl.Series("time", [START + dt.timedelta(seconds=float(x)) for x in t],
                                dtype=pl.Datetime("us", "UTC")))
    sparse = full.with_columns(
        pl.when(pl.int_range(pl.len()) % 4 == 1).then(pl.col("speed_kph")),
        pl.when(pl.int_range(pl.len()) % 4 == 0).then(pl.col("rpm")))
    rows = [window_row(frame) for frame in (full, sparse)]
    for row in rows:
        assert row["rpm_per_kph"][0] == pytest.approx(50.0, rel=1e-3)
        assert row["accx_resid_g"][0] == pytest.approx(1.02 - 10.0 / 9.80665, abs=1e-3)
        assert row["speed_kph_null"][0] == row["rpm_null"][0] == 0.0
    assert rows[1]["speed_kph_dmean"][0] == pytest.approx(4 * rows[0]["speed_kph_dmean"][0])
    # The accelerometer between two speed readings counts, not only at the readings.
    wavy = sparse.with_columns(accx_g=pl.when(pl.int_range(pl.len()) % 4 == 1).then(1.42)
                               .otherwise(1.02 - 0.4 / 3))
    assert window_row(wavy)["accx_resid_g"][0] == pytest.approx(1.02 - 10.0 / 9.80665,
                                                               abs=1e-3)


def test_batch_and_one_window_at_a_time_give_identical_rows(sim_lake: Lake) -> None:
    table = window_table(sim_lake)
    assert table.height > 0 and table["track"].null_count() == 0
    car = table["vehicle_id"][0]
    stream = (sim_lake.scan_telemetry(vehicle_id=car).collect()
              .with_columns(window_id(pl.col("time")).alias("wid")))
    live = pl.concat([window_row(group.drop("wid"))
                      for _, group in stream.group_by("race_id", "wid", maintain_order=True)])
    batch = table.filter(pl.col("vehicle_id") == car).select(live.columns)
    assert_frame_equal(live.sort(KEYS), batch.sort(KEYS))


def test_every_sample_falls_in_one_window(sim_lake: Lake) -> None:
    n = sim_lake.scan_telemetry().select(pl.len()).collect().item()
    table = window_table(sim_lake)
    assert table["n_samples"].sum() == n
