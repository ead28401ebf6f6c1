"""The written files follow domain.formats, agree with the truth and repeat for a seed."""

from __future__ import annotations

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


@pytest.fixture(scope="module")
def season_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("season")
    simulate_season(out, tracks=["barber", "cota"], races=2, cars=8, telemetry_hz=2.0, seed=11)
    return out


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.rglob(pattern))
    assert found, pattern
    return found[0]


def test_same_seed_writes_the_same_files(tmp_path: Path) -> None:
    def run(out: Path) -> dict[str, bytes]:
        simulate_season(out, tracks=["vir"], races=1, cars=5, telemetry_hz=2.0, seed=3)
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
                if p.is_file()}

    first, second = run(tmp_path / "a"), run(tmp_path / "b")
    assert first.keys() == second.keys()
    assert len(first) == 15  # 4 logger files, 5 timing files, 6 truth tables
    assert first == second


def test_timing_files_parse_as_semicolon_files(season_dir: Path) -> None:
    for pattern, columns in (("03_*Race 1*", RESULTS_COLUMNS), ("23_*Race 1*", SECTIONS_COLUMNS),
                             ("26_*Race 1*", WEATHER_COLUMNS)):
        path = _one(season_dir, pattern)
        raw = path.read_bytes()
        assert raw.endswith(b";\r\n")
        assert b"\n" not in raw.replace(b"\r\n", b"")
        frame = pl.read_csv(path, separator=";", infer_schema=False)
        names = [c.strip() for c in frame.columns]
        assert names[: len(columns)] == list(columns)
        assert frame.height > 0
    sections = pl.read_csv(_one(season_dir, "23_*Race 1*"), separator=";", infer_schema=False)
    sections = sections.rename({c: c.strip() for c in sections.columns})
    assert set(sections["FLAG_AT_FL"].unique()) <= {"GF", "FCY"}
    for text in sections["LAP_TIME"]:
        assert parse_duration_s(text) is not None


def test_telemetry_and_lap_files_follow_the_contract(season_dir: Path) -> None:
    tel = pl.read_csv(_one(season_dir, "R1_barber_telemetry_data.csv"))
    assert tel.columns == list(TELEMETRY_COLUMNS)
    names = set(tel["telemetry_name"].unique())
    assert "ath" in names and "VBOX_Lat_Min" not in names  # Barber: throttle blade, no GPS
    cota = pl.read_csv(_one(season_dir, "cota_lap_time_R1.csv"))
    assert cota.columns == list(LAP_COLUMNS_VALUE_VARIANT)
    start = pl.read_csv(_one(season_dir, "R1_barber_lap_start.csv"))
    assert start.columns == list(LAP_COLUMNS)


def test_lap_files_agree_with_the_truth(season_dir: Path) -> None:
    folder = _one(season_dir, "R1_barber_lap_start.csv").parent
    ts = pl.col("meta_time").str.to_datetime("%Y-%m-%dT%H:%M:%S%.3fZ", time_zone="UTC")

    def read(name: str, time: str) -> pl.DataFrame:
        # rows are written car by car, lap by lap: the row order is the true lap
        return pl.read_csv(folder / name).select(
            "vehicle_id", pl.col("lap").alias(f"lap_{time}"), ts.alias(time),
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
    assert joined.select(err.abs().max()).item() < 0.05
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
    assert "VBOX_Lat_Min" in set(tel["telemetry_name"].unique())


def test_plot_draws_a_png(season_dir: Path, tmp_path: Path) -> None:
    from cognirace.sim.plots import plot_race

    folder = _one(season_dir, "cota_telemetry_R1.csv").parent
    out = plot_race(folder, "R1", tmp_path / "race.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
