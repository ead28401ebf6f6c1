"""End to end: hand-built race folders in, the lake checked exactly."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

from cognirace.ingest import ingest
from cognirace.lake import TABLES, open_lake
from factories import RaceSpec, default_cars, write_race

UTC = dt.UTC


@pytest.fixture(scope="module")
def clean_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clean")
    write_race(root / "barber")
    ingest(root / "barber", root / "lake")
    return root / "lake"


def test_every_table_has_the_contract_schema(clean_lake: Path) -> None:
    lake = open_lake(clean_lake)
    for name in ("races", "cars", "laps", "results", "weather"):
        assert getattr(lake, name).schema == TABLES[name], name
    assert lake.telemetry("barber-R1").schema == TABLES["telemetry"]


def test_races_and_cars(clean_lake: Path) -> None:
    lake = open_lake(clean_lake)
    race = lake.races.row(0, named=True)
    assert (race["race_id"], race["track"], race["session"]) == ("barber-R1", "barber", "R1")
    assert race["event"] == "I_R04_2025-07-20"
    assert race["date"] == dt.date(2025, 7, 20)
    assert lake.cars.select("vehicle_id", "chassis", "car_number", "class", "team").rows() == [
        ("GR86-016-13", "016", "13", "Am", "Gamma"),
        ("GR86-002-2", "002", "2", "Pro", "Alpha"),
        ("GR86-010-55", "010", "55", "Am", "Beta"),
    ]


def test_laps_carry_timing_values(clean_lake: Path) -> None:
    laps = open_lake(clean_lake).laps
    assert laps.height == 9
    car2 = laps.filter(pl.col("car_number") == "2").sort("lap")
    assert car2["lap"].to_list() == [1, 2, 3]
    assert car2["lap_time_s"].to_list() == [62.0, 60.5, 60.25]
    assert car2["s1_s"].to_list() == pytest.approx([18.6, 18.15, 18.075])
    assert car2["flag"].to_list() == ["GF", "FCY", "FF"]
    assert car2["in_pit"].to_list() == [False, True, False]
    assert car2["pit_time_s"].to_list() == [None, 34.2, None]
    assert car2["top_speed_kph"].to_list() == [181.5, 182.5, 183.5]
    assert not laps["repaired"].any()
    start = dt.datetime(2025, 7, 20, 18, 0, tzinfo=UTC)  # the timing's clock, not the logger's
    assert car2["lap_start"][0] == start
    assert car2["lap_end"][0] == start + dt.timedelta(seconds=62)
    assert car2["lap_start"][1] == car2["lap_end"][0]


def test_results_and_weather(clean_lake: Path) -> None:
    lake = open_lake(clean_lake)
    res = lake.results.sort("position")
    assert res["car_number"].to_list() == ["2", "55", "13"]
    assert res["gap_first_s"].to_list() == [0.0, 2.0, None]  # '-' leader, '+1 Lap' lapped
    assert res["total_time_s"].to_list() == [182.75, 184.75, 186.625]
    assert res["fl_lap"].to_list() == [3, 2, 3]
    assert res["fl_time_s"].to_list() == [60.25, 60.75, 61.125]
    assert res["status"].to_list() == ["Classified"] * 3
    w = lake.weather
    assert w["time"][0] == dt.datetime(2025, 7, 20, 18, 0, tzinfo=UTC)
    assert w["track_temp_c"].to_list() == [45.2, None, 45.2]  # 0 means not measured
    assert w["air_temp_c"].to_list() == [30.1, 31.1, 32.1]


def test_telemetry_is_wide_sorted_and_complete(clean_lake: Path) -> None:
    tel = open_lake(clean_lake).telemetry("barber-R1")
    per_car = {c.vehicle_id: sum(int(s * 2.0) for s in c.lap_times_s) for c in default_cars()}
    counts = dict(tel.group_by("vehicle_id").len().iter_rows())
    assert counts == per_car
    assert tel.select(pl.col("time").is_sorted().over("vehicle_id").all()).item()
    assert tel.filter(pl.col("vehicle_id") == "GR86-002-2")["lap"].unique().sort().to_list() \
        == [1, 2, 3]
    first = tel.row(0, named=True)
    assert first["speed_kph"] == 100.0 and first["gear"] == 4 and first["rpm"] == 6000.0
    assert first["lat"] is None and first["ath"] == 75.0
    # the ECU clock placed in real time by the fastest delivery (meta_time 150 ms later)
    assert first["time"] == dt.datetime(2025, 7, 20, 18, 0, 0, 150000, tzinfo=UTC)


def test_report_is_saved_and_complete(clean_lake: Path) -> None:
    report = json.loads((clean_lake / "reports" / "barber-R1.json").read_text())
    assert report["channels_hz"]["speed_kph"] == pytest.approx(2.0, rel=0.05)
    assert "lat" not in report["channels_hz"]
    assert "channel lat" in report["missing"] and "channel lon" in report["missing"]
    assert report["rows_read"]["telemetry"] == 11 * sum(int(s * 2) for c in default_cars()
                                                       for s in c.lap_times_s)
    assert report["rows_dropped"] == {}
    assert report["cars_unmatched"] == []
    assert report["laps"] == 9


def test_reingest_replaces_the_race(clean_lake: Path, tmp_path: Path) -> None:
    before = open_lake(clean_lake)
    laps, n_samples = before.laps, before.telemetry().height
    src = Path(before.races["source_dir"][0])
    ingest(src, clean_lake)
    after = open_lake(clean_lake)
    assert after.races.height == 1
    assert after.laps.equals(laps)
    assert after.telemetry().height == n_samples
    assert not [p for p in clean_lake.iterdir() if p.name.startswith(".")]


def test_a_tree_of_tracks_with_both_races(tmp_path: Path) -> None:
    write_race(tmp_path / "src" / "barber")
    write_race(tmp_path / "src" / "barber", RaceSpec(session="R2"))
    write_race(tmp_path / "src" / "Sonoma", RaceSpec(track="sonoma", style=1, gps=True,
                                                     ath=False))
    reports = ingest(tmp_path / "src", tmp_path / "lake")
    assert [r.race_id for r in reports] == ["barber-R1", "barber-R2", "sonoma-R1"]
    lake = open_lake(tmp_path / "lake")
    assert lake.race_ids == ["barber-R1", "barber-R2", "sonoma-R1"]
    sonoma = lake.telemetry("sonoma-R1")
    assert sonoma["lat"].null_count() == 0 and sonoma["ath"].null_count() == sonoma.height
    assert "channel ath" in lake.report("sonoma-R1")["missing"]
    assert lake.summary()["n_laps"].to_list() == [9, 9, 9]


def test_source_dir_is_absolute_whatever_the_working_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_race(tmp_path / "barber")
    monkeypatch.chdir(tmp_path)
    ingest(Path("barber"), Path("lake"))
    source = open_lake(tmp_path / "lake").races["source_dir"][0]
    assert Path(source).is_absolute()
    assert Path(source) == (tmp_path / "barber").resolve()
