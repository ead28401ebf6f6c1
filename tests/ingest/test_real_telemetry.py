"""The real telemetry heads: one lake row per ECU sample, placed in real time.

The Barber R1 head is the first 10,000 rows of the real file, byte-exact; the Sonoma and
Road America heads are 20 rows each, re-written by pandas (``gear`` reads ``3.0``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from cognirace.lake import Lake, open_lake
from real_data import REAL, TIMING

pytestmark = pytest.mark.skipif(not TIMING.is_dir(), reason=f"no real data at {REAL}")

BARBER = REAL / "rish2jain__ToyotaGR" / "Data" / "barber" / "Samples" \
    / "R1_barber_telemetry_data_sample.csv"
HEADS = {"sonoma-R1": "sonoma_r1", "sonoma-R2": "sonoma_r2",
         "road_america-R1": "road_america_r1", "road_america-R2": "road_america_r2"}
ISO = "%Y-%m-%dT%H:%M:%S%.fZ"


@pytest.fixture(scope="module")
def lake(real_lake_dir: Path) -> Lake:
    return open_lake(real_lake_dir)


def _head(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False).with_columns(
        pl.col("timestamp").str.to_datetime(ISO, time_zone="UTC").alias("ecu"),
        pl.col("meta_time").str.to_datetime(ISO, time_zone="UTC").alias("meta"))


def test_every_ecu_sample_is_one_row_none_merged(lake: Lake) -> None:
    head = _head(BARBER)
    samples = head.select("vehicle_id", "ecu").unique()
    assert samples.height == 1021  # 10,000 rows; only 178 distinct meta_time values
    assert head["meta_time"].n_unique() == 178
    tel = lake.telemetry("barber-R1")
    assert tel.height == samples.height
    assert tel["time"].n_unique() == tel.height


def test_the_ecu_clock_is_placed_in_real_time_by_the_cars_offset(lake: Lake) -> None:
    report = lake.report("barber-R1")
    offset_s = report["ecu_offset_s"]["GR86-002-000"]
    assert offset_s == pytest.approx(151_941, abs=1.0)  # 1 day 18 h 12 min 21 s
    head = _head(BARBER).unique(["vehicle_id", "ecu"])
    tel = lake.telemetry("barber-R1").select("time")
    shift = dt.timedelta(seconds=offset_s)
    assert sorted(tel["time"].to_list()) == sorted((head["ecu"] + shift).to_list())
    # every sample reached the stream's ingest after it happened, within 6.5 s
    delay = (head["meta"] - (head["ecu"] + shift)).dt.total_milliseconds() / 1000
    assert delay.min() >= 0.0 and delay.max() <= 6.5


def test_samples_holding_a_channel_twice_are_counted(lake: Lake) -> None:
    """Some rows are stored twice, and a few readings share a timestamp with other values
    (the ECU clock stood still): the sample is the timestamp, and it is reported."""
    head = _head(BARBER)
    twice = head.group_by("vehicle_id", "ecu", "telemetry_name").len().filter(
        pl.col("len") > 1).select("vehicle_id", "ecu").unique()
    conflicts = head.group_by("ecu", "telemetry_name").agg(
        pl.col("telemetry_value").n_unique().alias("n")).filter(pl.col("n") > 1)
    assert conflicts.height == 71 and twice.height == conflicts["ecu"].n_unique() == 15
    notes = lake.report("barber-R1")["notes"]
    assert f"telemetry: {twice.height:,} samples hold a channel twice" in " ".join(notes)


def test_float_artifacts_and_slow_channels_are_read(lake: Lake) -> None:
    tel = lake.telemetry("barber-R1")
    assert 0.346 in tel["accx_g"].round(6).to_list()  # written 0.34600000000000003
    rates = lake.report("barber-R1")["channels_hz"]
    assert rates["speed_kph"] < rates["accx_g"] / 4  # speed on about one sample in five


def test_telemetry_laps_follow_the_official_timing(lake: Lake) -> None:
    """The logger counts the formation laps (it runs two ahead of the timing here); the
    lake's laps are the official ones, 0 before the start."""
    tel = lake.telemetry("barber-R1")
    laps = lake.laps.filter((pl.col("race_id") == "barber-R1")
                            & (pl.col("vehicle_id") == "GR86-002-000")).sort("lap")
    start, end1 = laps["lap_start"][0], laps["lap_end"][0]
    assert tel.filter(pl.col("time") < start)["lap"].unique().to_list() == [0]
    assert tel.filter(pl.col("time").is_between(start, end1, closed="left"))["lap"] \
        .unique().to_list() == [1]
    assert any("ran +2 at GR86-002-000" in n for n in lake.report("barber-R1")["notes"])


@pytest.mark.parametrize("race_id", sorted(HEADS))
def test_pandas_rewritten_heads_are_read(lake: Lake, race_id: str) -> None:
    (path,) = (REAL / "mignoncharly__hackthetrack").glob(f"{HEADS[race_id]}_telemetry*.csv")
    head = _head(path)
    tel = lake.telemetry(race_id)
    assert tel.height == head.select("vehicle_id", "ecu").unique().height
    gears = head.filter(pl.col("telemetry_name") == "gear")["telemetry_value"]
    assert sorted(tel["gear"].drop_nulls().to_list()) == sorted(int(float(g)) for g in gears)
