"""The written files follow domain.formats and the real files' ways, agree with the truth
and repeat for a seed."""

from __future__ import annotations

import zoneinfo
from pathlib import Path

import polars as pl
import pytest

from cognirace.domain.channels import LAP_NUMBER_SENTINEL
from cognirace.domain.formats import (
    LAP_COLUMNS,
    LAP_COLUMNS_VALUE_VARIANT,
    RESULTS_COLUMNS,
    SECTIONS_COLUMNS,
    TELEMETRY_COLUMNS,
    WEATHER_COLUMNS,
)
from cognirace.domain.laptime import parse_duration_s
from cognirace.sim import QuirkRates, simulate_season
from cognirace.sim.car_files import GLITCH_LAPS
from cognirace.sim.timing_files import RESULTS_BY_CLASS_COLUMNS

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"


@pytest.fixture(scope="module")
def season_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("season")
    simulate_season(out, tracks=["barber", "cota", "indianapolis"], races=2, cars=8,
                    telemetry_hz=2.0, seed=11)
    return out


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.rglob(pattern))
    assert found, pattern
    return found[0]


def _sections(path: Path) -> pl.DataFrame:
    frame = pl.read_csv(path, separator=";", infer_schema=False)
    return frame.rename({c: c.strip().lstrip("\ufeff") for c in frame.columns})


def test_same_seed_writes_the_same_files(tmp_path: Path) -> None:
    def run(out: Path) -> dict[str, bytes]:
        simulate_season(out, tracks=["vir"], races=1, cars=5, telemetry_hz=2.0, seed=3)
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
                if p.is_file()}

    first, second = run(tmp_path / "a"), run(tmp_path / "b")
    assert first.keys() == second.keys()
    assert len(first) == 15  # 4 logger files, 5 timing files, 6 truth tables
    assert first == second


def test_anonymized_timing_files_are_lf_without_a_trailing_semicolon(season_dir: Path) -> None:
    folder = _one(season_dir, "R1_barber_lap_start.csv").parent
    for pattern, columns in (("03_*Race 1*", RESULTS_COLUMNS), ("23_*Race 1*", SECTIONS_COLUMNS),
                             ("26_*Race 1*", WEATHER_COLUMNS)):
        raw = _one(folder, pattern).read_bytes()
        assert b"\r" not in raw and raw.endswith(b"\n")
        header = raw.decode().splitlines()[0]
        assert not header.endswith(";")  # empty last fields, as real, but no extra column
        names = [c.strip() for c in header.split(";")]
        assert set(names) <= set(columns)
        assert "TEAM" not in names and "DRIVER_NAME" not in names


def test_indianapolis_timing_files_are_crlf_with_bom_and_trailing_semicolon(
    season_dir: Path,
) -> None:
    folder = _one(season_dir, "indianapolis_lap_start_time_R1.csv").parent
    for pattern, columns in (("03_*Race 1*", RESULTS_COLUMNS), ("23_*Race 1*", SECTIONS_COLUMNS),
                             ("26_*Race 1*", WEATHER_COLUMNS)):
        raw = _one(folder, pattern).read_bytes()
        assert raw.startswith("\ufeff".encode()) and raw.endswith(b";\r\n")
        assert b"\n" not in raw.replace(b"\r\n", b"")
        names = [c.strip() for c in raw.decode("utf-8-sig").split("\r\n")[0].split(";")][:-1]
        assert names == list(columns)


def test_sections_read_like_the_real_ones(season_dir: Path) -> None:
    path = _one(season_dir, "23_*Race 1*")
    header = path.read_bytes().decode().splitlines()[0]
    assert header.startswith("NUMBER; DRIVER_NUMBER; LAP_NUMBER; LAP_TIME;")
    assert "; ELAPSED; HOUR;S1_LARGE;" in header  # a space after the first 14 separators
    sections = _sections(path)
    assert set(sections["FLAG_AT_FL"].unique()) <= {"GF", "FCY", "FF"}
    for text in sections["LAP_TIME"]:
        assert parse_duration_s(text) is not None
    last = sections.with_columns(pl.col("LAP_NUMBER").cast(pl.Int64)).group_by("NUMBER").agg(
        pl.col("FLAG_AT_FL").sort_by("LAP_NUMBER").last())
    assert (last["FLAG_AT_FL"] == "FF").mean() >= 0.5  # the finishers' last laps
    pit = sections.filter(pl.col("PIT_TIME").is_not_null())["PIT_TIME"]
    assert pit.str.contains(r"^\d:\d\d:\d\d\.\d\d\d$").all()


def test_hour_is_local_time_at_the_track(season_dir: Path) -> None:
    folder = _one(season_dir, "R1_barber_lap_start.csv").parent
    race = pl.read_parquet(folder / "truth" / "R1_race.parquet").row(0, named=True)
    laps = pl.read_parquet(folder / "truth" / "R1_laps.parquet")
    first = laps.sort("lap_end_s").row(0, named=True)
    sections = _sections(_one(folder, "23_*Race 1*")).filter(
        (pl.col("NUMBER") == first["car_number"]) & (pl.col("LAP_NUMBER") == str(first["lap"])))
    local = first["lap_end_utc"].astimezone(zoneinfo.ZoneInfo("America/Chicago"))
    assert sections["HOUR"].item() == local.strftime("%H:%M:%S.%f")[:-3]
    assert race["start_utc"].hour != local.hour  # UTC would be another hour


def test_results_gaps_read_like_the_real_ones(season_dir: Path) -> None:
    results = pl.read_csv(_one(season_dir, "03_*Race 1*"), separator=";", infer_schema=False)
    assert results["GAP_FIRST"][0] == "-"
    assert results["GAP_FIRST"][1:].str.contains(r"^(\+\d+(:\d\d)?\.\d{3}|\d+ Laps?)$").all()
    assert (results["STATUS"] == "Classified").all()
    by_class = pl.read_csv(_one(season_dir, "05_*Race 1*"), separator=";", infer_schema=False)
    assert by_class.columns == list(RESULTS_BY_CLASS_COLUMNS)
    assert by_class["GAP_FIRST"][0] is None
    assert by_class["GAP_FIRST"][1:].str.contains(r"^(\+\d+('\d\d)?\.\d{3}|\d+ Laps?)$").all()


def test_telemetry_and_lap_files_follow_the_contract(season_dir: Path) -> None:
    tel = pl.read_csv(_one(season_dir, "R1_barber_telemetry_data.csv"))
    assert tel.columns == list(TELEMETRY_COLUMNS)
    names = set(tel["telemetry_name"].unique())
    assert {"aps", "VBOX_Lat_Min"} <= names and "ath" not in names  # Barber: pedal and GPS
    cota = pl.read_csv(_one(season_dir, "cota_telemetry_R1.csv"))
    names = set(cota["telemetry_name"].unique())
    assert "ath" in names and not names & {"aps", "VBOX_Lat_Min"}  # COTA: throttle blade
    lap_time = pl.read_csv(_one(season_dir, "cota_lap_time_R1.csv"))
    assert lap_time.columns == list(LAP_COLUMNS_VALUE_VARIANT)
    lap_start = pl.read_csv(_one(season_dir, "cota_lap_start_time_R1.csv"), infer_schema=False)
    assert lap_start["value"].str.to_datetime(TIME_FORMAT).is_not_null().all()  # ISO times
    start = pl.read_csv(_one(season_dir, "R1_barber_lap_start.csv"))
    assert start.columns == list(LAP_COLUMNS)


def test_lap_files_agree_with_the_truth(season_dir: Path) -> None:
    folder = _one(season_dir, "R1_barber_lap_start.csv").parent

    def read(name: str, time: str) -> pl.DataFrame:
        # rows are written car by car, lap by lap: the row order is the true lap
        return pl.read_csv(folder / name).select(
            "vehicle_id", pl.col("lap").alias(f"lap_{time}"),
            pl.col("timestamp").str.to_datetime(TIME_FORMAT, time_zone="UTC").alias(time),
            (pl.col("meta_time").str.to_datetime(TIME_FORMAT, time_zone="UTC")
             - pl.col("timestamp").str.to_datetime(TIME_FORMAT, time_zone="UTC"))
            .dt.total_milliseconds().alias(f"late_{time}"),
            (pl.int_range(pl.len()).over("vehicle_id") + 1).alias("true_lap"))

    start = read("R1_barber_lap_start.csv", "t0")
    end = read("R1_barber_lap_end.csv", "t1")
    cars = pl.read_parquet(folder / "truth" / "R1_cars.parquet")
    truth = pl.read_parquet(folder / "truth" / "R1_laps.parquet").join(
        cars.select("car_number", "vehicle_id_written"), on="car_number")
    joined = start.join(end, on=["vehicle_id", "true_lap"]).join(
        truth, left_on=["vehicle_id", "true_lap"], right_on=["vehicle_id_written", "lap"])
    assert joined.height == truth.height
    err = ((pl.col("t1") - pl.col("t0")).dt.total_milliseconds() / 1000 - pl.col("lap_time_s"))
    assert joined.select(err.abs().max()).item() < 0.005  # timestamp is the real crossing
    assert (joined["t1"] == joined["lap_end_utc"].dt.round("1ms")).mean() > 0.95
    assert joined["late_t1"].min() >= 100  # meta_time: the receiver, 0.1 s and more later
    assert joined["late_t1"].median() < 5_000
    assert (joined["lap_t0"] == joined["lap_in_start_file"]).all()
    assert (joined["lap_t1"] == joined["lap_in_end_file"]).all()


def test_lap_files_carry_impossible_lap_numbers_as_the_truth_records(season_dir: Path) -> None:
    laps = pl.concat([pl.read_parquet(p) for p in sorted(season_dir.rglob("R*_laps.parquet"))])
    written = pl.concat([laps[f"lap_in_{key}_file"] for key in ("start", "end", "time")])
    true = pl.concat([laps["lap"]] * 3)
    glitched = written.filter(written != true)
    assert glitched.len() > 0
    assert set(glitched.to_list()) <= set(GLITCH_LAPS)
    assert LAP_NUMBER_SENTINEL in set(glitched.to_list())


def test_car_numbers_are_text_everywhere(season_dir: Path) -> None:
    for table in ("cars", "laps", "pit_stops", "faults"):
        for path in sorted(season_dir.rglob(f"R*_{table}.parquet")):
            assert pl.read_parquet(path).schema["car_number"] == pl.String, path
    for path in sorted(season_dir.rglob("R*_cautions.parquet")):
        assert pl.read_parquet(path).schema["cause_car_number"] == pl.String
    cars = pl.concat([pl.read_parquet(p) for p in sorted(season_dir.rglob("R*_cars.parquet"))])
    numbers = cars.select("car_number", "vehicle_id", "vehicle_id_written",
                          "vehicle_number_written").unique()
    # the number part of vehicle_id is the number as painted or zero-padded to 3 digits
    part = numbers["vehicle_id_written"].str.split("-").list.get(2)
    assert ((part == numbers["car_number"]) | (part == numbers["car_number"].str.zfill(3))
            | (part == "000")).all()
    written = numbers.filter(pl.col("vehicle_number_written") > 0)
    assert (written["vehicle_number_written"] == written["car_number"].cast(pl.Int64)).all()


def test_quirks_can_be_switched_off(tmp_path: Path) -> None:
    simulate_season(tmp_path, tracks=["sebring"], races=1, cars=6, telemetry_hz=2.0, seed=2,
                    quirks=QuirkRates.none())
    tel = pl.read_csv(_one(tmp_path, "sebring_telemetry_R1.csv"))
    assert tel["vehicle_number"].min() > 0
    assert tel["lap"].max() < 100
    lap_files = sorted(tmp_path.rglob("sebring_lap_*_R1.csv"))
    assert len(lap_files) == 3
    for path in lap_files:
        assert pl.read_csv(path)["lap"].is_between(1, 99).all()
    assert {"VBOX_Lat_Min", "aps", "ath"} <= set(tel["telemetry_name"].unique())
    stamp = tel["timestamp"].str.to_datetime(TIME_FORMAT)
    meta = tel["meta_time"].str.to_datetime(TIME_FORMAT)
    assert (meta - stamp).dt.total_seconds().is_between(0, 10).all()  # ECU on real time
    for (_,), car in tel.with_columns(stamp.alias("t")).group_by(["vehicle_id"]):
        assert car["t"].is_sorted()  # rows in time order, none stored twice
    assert tel.height == tel.unique(["vehicle_id", "timestamp", "telemetry_name"]).height


def test_plot_draws_a_png(season_dir: Path, tmp_path: Path) -> None:
    from cognirace.sim.plots import plot_race

    folder = _one(season_dir, "R1_barber_telemetry_data.csv").parent
    out = plot_race(folder, "R1", tmp_path / "race.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
