"""A lake written before a table gained a column takes new races all the same."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cognirace.lake.layout import LakeLayout
from cognirace.lake.schema import CARS
from cognirace.lake.writer import merged_table


def test_old_rows_without_a_new_column_read_it_as_missing(tmp_path: Path) -> None:
    layout = LakeLayout(tmp_path)
    layout.table("cars").parent.mkdir(parents=True, exist_ok=True)
    old = pl.DataFrame({"race_id": ["a-R1", "b-R1"], "vehicle_id": ["GR86-1-1", None],
                        "chassis": ["1", None], "car_number": ["1", "2"],
                        "class": ["Am", "Am"], "team": ["T", None]})  # before `driver`
    old.write_parquet(layout.table("cars"))
    new = pl.DataFrame({"race_id": ["b-R1"], "vehicle_id": ["GR86-9-2"], "chassis": ["9"],
                        "car_number": ["2"], "class": ["Pro"], "team": ["U"],
                        "driver": ["D. River"]}, schema=CARS)
    merged = merged_table(layout, "cars", ["b-R1"], [new])
    assert merged.schema == CARS
    assert merged.select("race_id", "car_number", "team", "driver").rows() == [
        ("a-R1", "1", "T", None), ("b-R1", "2", "U", "D. River")]
