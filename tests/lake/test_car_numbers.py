"""Car numbers are text in the lake: ``"021"`` and ``"21"`` are two cars, end to end.

The race is written with the lake's own writer from frames built here, so these tests
hold the readers and the overlay helpers to the schema without running the ingest.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cognirace.errors import DataError
from cognirace.lake import RaceTables, lap_telemetry, open_lake, overlay_laps, vehicle_of
from cognirace.lake import write_race as write_lake_race
from cognirace.lake.schema import TABLES

RACE = "indianapolis-R1"
START = dt.datetime(2025, 7, 20, 18, 0, tzinfo=dt.UTC)
LAP_S = 60.0
LENGTH_M = 3925.0
CARS = {"021": ("GR86-004-021", 100.0), "21": ("GR86-009-21", 150.0)}
"""Number -> (vehicle id, constant speed in km/h): the speed tells whose samples a row is."""


def _frame(table: str, rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=TABLES[table])


def _telemetry(vehicle: str, speed_kph: float) -> pl.DataFrame:
    """Two 60 s laps at 2 Hz, lap distance rising evenly from 0 to the lap length."""
    n = int(LAP_S * 2)
    rows = [{"race_id": RACE, "vehicle_id": vehicle, "lap": lap,
             "time": START + dt.timedelta(seconds=(lap - 1) * LAP_S + i / 2),
             "lap_dist_m": LENGTH_M * i / n, "speed_kph": speed_kph, "gear": 4}
            for lap in (1, 2) for i in range(n)]
    return _frame("telemetry", rows)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lake")
    cars, laps, results = [], [], []
    for position, (number, (vehicle, _)) in enumerate(CARS.items(), start=1):
        cars.append({"race_id": RACE, "vehicle_id": vehicle, "chassis": vehicle[5:8],
                     "car_number": number, "class": "Am", "team": f"Team {number}"})
        laps += [{"race_id": RACE, "vehicle_id": vehicle, "car_number": number, "lap": lap,
                  "lap_start": START + dt.timedelta(seconds=(lap - 1) * LAP_S),
                  "lap_end": START + dt.timedelta(seconds=lap * LAP_S),
                  "lap_time_s": LAP_S, "flag": "GF", "in_pit": False, "repaired": False}
                 for lap in (1, 2)]
        results.append({"race_id": RACE, "car_number": number, "position": position,
                        "status": "Classified", "laps": 2})
    tables = {"races": _frame("races", [{"race_id": RACE, "track": "indianapolis",
                                         "session": "R1", "event": "E1",
                                         "date": START.date(), "source_dir": "built"}]),
              "cars": _frame("cars", cars), "laps": _frame("laps", laps),
              "results": _frame("results", results)}
    telemetry = pl.concat([_telemetry(v, speed) for v, speed in CARS.values()])
    write_lake_race(root, RaceTables(RACE, tables, telemetry, "{}"))
    return root


def test_every_table_reads_021_and_21_as_two_text_numbers(lake: Path) -> None:
    opened = open_lake(lake)
    for name in ("cars", "laps", "results"):
        frame = getattr(opened, name)
        assert frame.schema["car_number"] == pl.String, name
        assert sorted(frame["car_number"].unique().to_list()) == ["021", "21"], name
    laps = opened.laps.group_by("car_number").agg(pl.col("vehicle_id").unique()).sort(
        "car_number")
    assert laps["vehicle_id"].to_list() == [["GR86-004-021"], ["GR86-009-21"]]
    assert opened.summary()["n_cars"].to_list() == [2]


def test_a_number_finds_its_own_car_only(lake: Path) -> None:
    opened = open_lake(lake)
    assert vehicle_of(opened, RACE, "021") == "GR86-004-021"
    assert vehicle_of(opened, RACE, "21") == "GR86-009-21"
    with pytest.raises(DataError, match="no car with this number"):
        vehicle_of(opened, RACE, "0021")
    tel = lap_telemetry(opened, RACE, 2, car_number="021")
    assert tel["vehicle_id"].unique().to_list() == ["GR86-004-021"]


@pytest.mark.parametrize("number", [21, 21.0, None])
def test_a_number_that_is_not_text_is_refused_with_a_hint(lake: Path, number: object) -> None:
    opened = open_lake(lake)
    with pytest.raises(DataError, match="car numbers are text") as caught:
        vehicle_of(opened, RACE, number)  # type: ignore[arg-type]
    assert '"021" and "21" are two cars' in str(caught.value)


def test_overlaid_laps_keep_the_text_numbers_in_the_order_given(lake: Path) -> None:
    out = overlay_laps(open_lake(lake), RACE, [("21", 2), ("021", 2)], step_m=25.0)
    assert out.schema["car_number"] == pl.String
    assert out["car_number"].unique(maintain_order=True).to_list() == ["21", "021"]
    for number, (_, speed_kph) in CARS.items():
        part = out.filter(pl.col("car_number") == number)
        assert np.allclose(part["speed_kph"].to_numpy(), speed_kph)
    assert (out.filter(pl.col("car_number") == "21")["distance_m"].to_list()
            == out.filter(pl.col("car_number") == "021")["distance_m"].to_list())


def test_the_feature_table_of_the_lake_keeps_both_cars(lake: Path) -> None:
    from cognirace.features import FEATURE_SCHEMA, feature_table

    table = feature_table(open_lake(lake))
    assert table.schema == FEATURE_SCHEMA
    counts = table.group_by("car_number", "vehicle_id").len().sort("car_number")
    assert counts.rows() == [("021", "GR86-004-021", 2), ("21", "GR86-009-21", 2)]
