"""The simulator's truth joins the lake by text car numbers: ``"021"`` is never ``"21"``.

Lakes and truth folders are built here from frames, so the tests hold ``load_truth`` to
the lake's schema without running the simulator or the ingest.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from cognirace.domain.formats import FLAG_GREEN
from cognirace.errors import DataError
from cognirace.lake import Lake, RaceTables, open_lake, write_race
from cognirace.lake.schema import TABLES
from cognirace.models.fuel import fuel_rows
from cognirace.training import load_truth, truth_files

RACE = "indianapolis-R1"


def _lake(root: Path, numbers: list[str]) -> Lake:
    """A lake of one race whose cars have ``numbers``; the race's source is ``root/src``."""
    source = root / "src"
    (source / "truth").mkdir(parents=True)
    races = pl.DataFrame([{"race_id": RACE, "track": "indianapolis", "session": "R1",
                           "event": "E1", "date": dt.date(2025, 7, 20),
                           "source_dir": str(source)}], schema=TABLES["races"])
    cars = pl.DataFrame([{"race_id": RACE, "vehicle_id": f"GR86-00{i}-{n}", "chassis": f"00{i}",
                          "car_number": n} for i, n in enumerate(numbers)], schema=TABLES["cars"])
    write_race(root / "lake", RaceTables(RACE, {"races": races, "cars": cars}, None, "{}"))
    return open_lake(root / "lake")


def _write_truth(lake: Lake, table: str, frame: pl.DataFrame) -> None:
    source_dir = lake.races["source_dir"][0]
    frame.with_columns(pl.lit("sim-race").alias("race_id")).write_parquet(
        truth_files(source_dir, "R1", table))


def test_text_numbers_stay_as_written(tmp_path: Path) -> None:
    lake = _lake(tmp_path, ["021", "21"])
    _write_truth(lake, "laps", pl.DataFrame({"car_number": ["021", "21"], "lap": [1, 1],
                                             "fuel_used_l": [2.0, 3.0]}))
    truth = load_truth(lake)
    assert truth["laps"].schema["car_number"] == pl.String
    assert truth["laps"]["car_number"].to_list() == ["021", "21"]
    assert set(truth["laps"]["race_id"]) == {RACE}
    assert set(truth["laps"]["truth_race_id"]) == {"sim-race"}


def test_integer_numbers_of_an_older_simulator_read_as_their_text(tmp_path: Path) -> None:
    # The simulator wrote integers before it wrote text, and never padded them.
    lake = _lake(tmp_path, ["3", "21"])
    _write_truth(lake, "cautions", pl.DataFrame({"cause_car_number": [21]},
                                                schema={"cause_car_number": pl.Int64}))
    _write_truth(lake, "faults", pl.DataFrame({"car_number": [3, 21]},
                                              schema={"car_number": pl.Int64}))
    truth = load_truth(lake)
    assert truth["faults"]["car_number"].to_list() == ["3", "21"]
    assert truth["cautions"]["cause_car_number"].to_list() == ["21"]
    assert truth["laps"].is_empty()


def test_a_car_number_column_of_another_type_is_refused(tmp_path: Path) -> None:
    lake = _lake(tmp_path, ["21"])
    _write_truth(lake, "cars", pl.DataFrame({"car_number": [21.0], "driver_id": ["D1"]}))
    with pytest.raises(DataError, match="car_number") as caught:
        load_truth(lake)
    assert "R1_cars.parquet" in str(caught.value) and "re-simulate" in str(caught.value)


def test_fuel_labels_reach_021_and_21_each(tmp_path: Path) -> None:
    lake = _lake(tmp_path, ["021", "21"])
    _write_truth(lake, "laps", pl.DataFrame({
        "car_number": ["021", "21"], "lap": [1, 1], "fuel_used_l": [2.0, 3.0],
        "fuel_left_l": [81.0, 80.0]}))
    features = pl.DataFrame({
        "race_id": [RACE] * 2, "vehicle_id": ["GR86-000-021", "GR86-001-21"],
        "car_number": ["021", "21"], "lap": [1, 1], "n_samples": [50, 50],
        "engine_krev": [11.0, 11.1], "throttle_s": [75.0, 76.0], "prev_fcy": [False, False],
        "race_elapsed_s": [100.0, 101.0], "race_time_left_s": [2600.0, 2599.0],
        "laps_left_est": [26, 26], "lap_time_s": [100.0, 101.0],
        "track": ["indianapolis"] * 2, "flag": [FLAG_GREEN] * 2, "in_pit": [False, False],
        "out_lap": [False, False]}).with_columns(pl.col("lap", "n_samples").cast(pl.Int32))
    rows = fuel_rows(features, load_truth(lake))
    assert rows.select("car_number", "fuel_used_l").rows() == [("021", 2.0), ("21", 3.0)]
