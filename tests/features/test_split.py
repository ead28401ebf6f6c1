"""Splits hold out whole races: no race is ever on both sides."""

from __future__ import annotations

import polars as pl
import pytest

from cognirace.errors import DataError
from cognirace.features import leave_one_track_out, split_by_race

TRACKS = ("barber", "cota", "sonoma")


def _table() -> pl.DataFrame:
    """Three laps of two cars in each of 12 races over three tracks."""
    rows = [{"race_id": f"{track}-{i}", "track": track, "vehicle_id": car, "lap": lap}
            for track in TRACKS for i in range(4) for car in ("a", "b") for lap in (1, 2, 3)]
    return pl.DataFrame(rows)


def _races(frame: pl.DataFrame) -> set[str]:
    return set(frame["race_id"].to_list())


@pytest.mark.parametrize("seed", range(5))
def test_split_by_race_never_shares_a_race(seed: int) -> None:
    table = _table()
    (split,) = list(split_by_race(table, test_fraction=0.25, seed=seed))
    assert not _races(split.train) & _races(split.test)
    assert len(_races(split.test)) == 3
    assert split.train.height + split.test.height == table.height
    (again,) = list(split_by_race(table, test_fraction=0.25, seed=seed))
    assert _races(again.test) == _races(split.test)


def test_leave_one_track_out_holds_out_each_track_once() -> None:
    table = _table()
    splits = list(leave_one_track_out(table))
    assert [s.name for s in splits] == [f"track={t}" for t in TRACKS]
    for split, track in zip(splits, TRACKS, strict=True):
        assert set(split.test["track"].to_list()) == {track}
        assert track not in set(split.train["track"].to_list())
        assert not _races(split.train) & _races(split.test)


def test_splits_refuse_what_cannot_be_split() -> None:
    one_race = _table().filter(pl.col("race_id") == "cota-0")
    with pytest.raises(DataError):
        list(split_by_race(one_race))
    with pytest.raises(DataError):
        list(split_by_race(_table(), test_fraction=1.0))
    with pytest.raises(DataError):
        list(leave_one_track_out(_table().filter(pl.col("track") == "cota")))
