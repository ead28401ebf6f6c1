"""Timing cars without logger data, through the lake: each is a car of its own.

The race of ``features.timing_cars`` (two timing cars without ``vehicle_id``, one
logged car with telemetry) is written with the lake's own writer, then read back by
the lap feature table, the style table's green laps and the overlay helpers.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from cognirace.errors import DataError
from cognirace.features import KEY_COLUMNS, feature_table
from cognirace.features.style import green_laps
from cognirace.lake import Lake, RaceTables, lap_telemetry, open_lake, vehicle_of
from cognirace.lake import write_race as write_lake_race
from features import timing_cars


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("timing_cars")
    tables = {"races": timing_cars.races(), "cars": timing_cars.cars(),
              "laps": timing_cars.laps()}
    write_lake_race(root, RaceTables(timing_cars.RACE, tables, timing_cars.telemetry(), "{}"))
    return open_lake(Path(root))


def test_the_lap_table_has_every_timing_car_with_its_own_laps(lake: Lake) -> None:
    table = feature_table(lake)
    assert table.height == lake.laps.height == 3 * timing_cars.N_LAPS
    per_car = table.group_by("car_number").agg(
        pl.len(), pl.col("stint").max(), pl.col("in_pit").sum(),
        pl.col("tire_age_laps").last(), pl.col("n_samples").sum()).sort("car_number")
    # 021 changed tires after lap 5 (age 14 on lap 20), 3#2 only drove through.
    assert per_car.rows() == [("021", 20, 2, 1, 14, 0), ("3#2", 20, 2, 1, 19, 0),
                              ("7", 20, 1, 0, 19, 20 * timing_cars.SAMPLES_PER_LAP)]
    assert table.sort(KEY_COLUMNS).equals(timing_cars.feature_rows())


def test_style_laps_keep_the_cars_apart(lake: Lake) -> None:
    laps = green_laps(lake)
    stints = laps.group_by("car_number").agg(pl.col("stint").unique().sort()).sort("car_number")
    assert stints.rows() == [("021", [1, 2]), ("3#2", [1, 2]), ("7", [1])]
    out_laps = {number: in_lap + 1 for number, (in_lap, _) in timing_cars.PITS.items()}
    for number, lap in out_laps.items():
        assert laps.filter((pl.col("car_number") == number) & (pl.col("lap") == lap)).is_empty()


def test_a_car_without_logger_data_has_no_telemetry_to_pick(lake: Lake) -> None:
    assert vehicle_of(lake, timing_cars.RACE, "7") == "GR86-001-7"
    with pytest.raises(DataError, match="no logger data") as caught:
        vehicle_of(lake, timing_cars.RACE, "021")
    assert "report" in str(caught.value)
    with pytest.raises(DataError, match="no logger data"):
        lap_telemetry(lake, timing_cars.RACE, 3, car_number="3#2")
    assert lap_telemetry(lake, timing_cars.RACE, 3, car_number="7").height \
        == timing_cars.SAMPLES_PER_LAP
