"""Training data fingerprints are stable names for content, not for layout."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cognirace.errors import DataError
from cognirace.models import data_fingerprint
from models.reference import lap_frame


@pytest.mark.parametrize("seed", range(5))
def test_row_and_column_order_do_not_matter(seed: int) -> None:
    frame = lap_frame(np.random.default_rng(seed), 50)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed).select(frame.columns[::-1])
    assert data_fingerprint(shuffled) == data_fingerprint(frame)


def test_any_change_of_value_type_or_name_changes_it(rng: np.random.Generator) -> None:
    frame = lap_frame(rng, 50).with_columns(
        pl.lit(dt.date(2025, 5, 1)).alias("day"), pl.lit(None, pl.Float64).alias("gap_s"))
    base = data_fingerprint(frame)
    variants = [
        frame.with_columns(pl.col("fuel_l").cast(pl.Float32)),
        frame.rename({"fuel_l": "fuel_kg"}),
        frame.with_columns(pl.when(pl.col("lap") == 3).then(None).otherwise(pl.col("fuel_l"))
                           .alias("fuel_l")),
        frame.with_columns(pl.col("race_id").str.replace("r1", "r1x")),
        frame.head(49),
        frame.with_columns(pl.col("day") + dt.timedelta(days=1)),
    ]
    assert len({base, *(data_fingerprint(v) for v in variants)}) == len(variants) + 1


def test_text_boundaries_are_part_of_the_hash() -> None:
    one = pl.DataFrame({"s": ["ab", "c"]})
    two = pl.DataFrame({"s": ["a", "bc"]})
    assert data_fingerprint(one) != data_fingerprint(two)


def test_files_hash_names_and_bytes_not_location(tmp_path: Path) -> None:
    for root in ("a", "b"):
        (tmp_path / root / "laps").mkdir(parents=True)
        (tmp_path / root / "laps" / "part-0.parquet").write_bytes(b"lap data")
    same = data_fingerprint(tmp_path / "a") == data_fingerprint(tmp_path / "b")
    (tmp_path / "b" / "laps" / "part-0.parquet").write_bytes(b"lap datA")
    assert same and data_fingerprint(tmp_path / "a") != data_fingerprint(tmp_path / "b")
    files = [tmp_path / "a" / "laps" / "part-0.parquet"]
    assert data_fingerprint(files).startswith("sha256:")
    with pytest.raises(DataError):
        data_fingerprint([tmp_path / "nope"])
