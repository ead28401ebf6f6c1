"""The telemetry and lap files carry the real logger's clocks, batches and untidiness."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cognirace.sim import QuirkRates, RaceConfig, make_roster, season_roster, simulate_one
from cognirace.sim.logger import batch, file_order

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"
DAY_S = 86_400.0


def _simulate(out: Path, hz: float) -> Path:
    config = RaceConfig("barber", n_cars=3, duration_s=600.0, telemetry_hz=hz,
                        quirks=QuirkRates(p_lap_sentinel_car=0.0, p_number_zero_car=0.0))
    return simulate_one(out, config, season_roster(4), seed=4).folder


@pytest.fixture(scope="module")
def full_rate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _simulate(tmp_path_factory.mktemp("full"), 23.0)


def _telemetry(folder: Path) -> pl.DataFrame:
    raw = pl.read_csv(next(folder.glob("*telemetry*.csv")), infer_schema=False)
    return raw.with_columns(
        pl.col("timestamp").str.to_datetime(TIME_FORMAT).dt.epoch("ms").alias("ts_ms"),
        pl.col("meta_time").str.to_datetime(TIME_FORMAT).dt.epoch("ms").alias("meta_ms"))


def test_meta_time_is_batched_and_the_ecu_clock_is_days_behind(full_rate: Path) -> None:
    tel = _telemetry(full_rate)
    cars = pl.read_parquet(full_rate / "truth" / "R1_cars.parquet")
    samples = tel.select("vehicle_id", "ts_ms").n_unique()
    assert tel["meta_ms"].n_unique() < 0.35 * samples  # a batch stamps several samples
    for row in cars.iter_rows(named=True):
        car = tel.filter(pl.col("vehicle_id") == row["vehicle_id_written"])
        late_s = (car["meta_ms"] - car["ts_ms"]).to_numpy() / 1000.0 + row["ecu_offset_s"]
        assert 1.6 <= -row["ecu_offset_s"] / DAY_S <= 3.4
        assert late_s.min() >= 0.0  # meta_time comes after the sample ...
        assert late_s.min() < 0.2  # ... the earliest batch almost at once ...
        assert late_s.max() < 8.0  # ... none more than a few seconds later
        assert np.percentile(late_s, 1) < 0.3  # what the ingest estimates the offset from


def test_samples_are_42_to_46_ms_apart_with_slow_channels(full_rate: Path) -> None:
    tel = _telemetry(full_rate)
    car = tel.filter(pl.col("vehicle_id") == tel["vehicle_id"][0])
    stamps = np.unique(car["ts_ms"].to_numpy())
    steps = np.diff(stamps)
    assert np.mean((steps >= 42) & (steps <= 46)) > 0.85
    per_sample = car.unique(["ts_ms", "telemetry_name"]).group_by("ts_ms").len()["len"]
    assert per_sample.min() >= 9 - 2 and per_sample.max() <= 11  # Barber: 9 every time
    speed = car.filter(pl.col("telemetry_name") == "speed")["ts_ms"].n_unique()
    assert 0.15 < speed / len(stamps) < 0.25  # one sample in five


def test_rows_are_untidy_like_the_real_file(full_rate: Path) -> None:
    tel = _telemetry(full_rate)
    car = tel.filter(pl.col("vehicle_id") == tel["vehicle_id"][0])
    assert (np.diff(car["ts_ms"].to_numpy()) < 0).any()  # not in time order
    assert car.height > car.unique(["ts_ms", "telemetry_name"]).height  # some sent twice
    values = tel["telemetry_value"]
    assert values.str.len_chars().max() > 15  # float artifacts (0.34600000000000003)
    assert not values.str.ends_with(".0").any()  # whole numbers as 100, 3
    gear = tel.filter(pl.col("telemetry_name") == "gear")["telemetry_value"]
    assert gear.str.contains(r"^\d$").all()


def test_lap_files_are_on_real_time(full_rate: Path) -> None:
    start = pl.read_csv(next(full_rate.glob("*lap_start*.csv")), infer_schema=False)
    late_s = (start["meta_time"].str.to_datetime(TIME_FORMAT)
              - start["timestamp"].str.to_datetime(TIME_FORMAT)).dt.total_milliseconds() / 1000
    assert late_s.min() >= 0.1 and late_s.median() < 4.0 and late_s.max() < 120.0


def test_the_low_rate_is_batched_and_offset_too(tmp_path: Path) -> None:
    tel = _telemetry(_simulate(tmp_path, 2.0))
    assert tel["meta_ms"].n_unique() < 0.7 * tel.select("vehicle_id", "ts_ms").n_unique()
    assert ((tel["meta_ms"] - tel["ts_ms"]) / 1000 / DAY_S).is_between(1.6, 3.4).all()


def test_batches_keep_every_sample_and_order_is_a_permutation() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(0.0, 120.0, 1 / 23)
    stored = batch(t, 0.01, rng)
    assert set(stored.sample.tolist()) == set(range(len(t)))
    assert (np.diff(stored.meta_offset_ms) >= 0).all()
    late = stored.meta_offset_ms / 1000 - t[stored.sample]
    assert late.min() > 0 and late.max() < 8.0
    order = file_order(stored.meta_offset_ms, 0.5, rng)
    assert sorted(order.tolist()) == list(range(len(order)))


def test_the_roster_has_zero_padded_twins() -> None:
    numbers = [d.car_number for d in make_roster(np.random.default_rng(3))]
    assert len(set(numbers)) == len(numbers)
    padded = [n for n in numbers if n.startswith("0")]
    assert padded and all(n.lstrip("0") in numbers for n in padded)
