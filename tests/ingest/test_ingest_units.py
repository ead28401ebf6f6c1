"""Pure parts of the ingest: lap repair, race ids, text parsing, car matching."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cognirace.errors import DataError
from cognirace.ingest import RaceKey, assign_race_ids, ingest
from cognirace.ingest.cars import lap_cost, logged_number, match_numbers
from cognirace.ingest.laps import MAX_LAP, repair_lap_sequence
from cognirace.ingest.textfile import read_table, split_fields
from cognirace.lake import open_lake
from cognirace.lake.schema import empty
from factories import RaceSpec, write_race

laps_logged = st.lists(st.one_of(st.none(), st.integers(-5, 40000)), max_size=60)


@given(laps_logged)
def test_repaired_laps_are_strictly_increasing_and_plausible(laps: list[int | None]) -> None:
    fixed, n = repair_lap_sequence(laps)
    assert len(fixed) == len(laps)
    assert all(b > a for a, b in itertools.pairwise(fixed))
    assert n == sum(a != b for a, b in zip(laps, fixed, strict=True))
    assert all(f >= 0 for f in fixed)


@given(st.integers(0, 50), st.integers(1, 40))
def test_good_laps_are_left_alone(first: int, n: int) -> None:
    laps: list[int | None] = list(range(first, first + n))
    assert repair_lap_sequence(laps) == (laps, 0)


def test_sentinel_takes_the_place_it_has_in_time() -> None:
    assert repair_lap_sequence([32768, 2, 3, 32768, 5]) == ([1, 2, 3, 4, 5], 2)
    assert repair_lap_sequence([1, 2, 2, MAX_LAP + 1]) == ([1, 2, 3, 4], 2)


fields = st.text(st.characters(blacklist_characters=';\r\n"', blacklist_categories=["Cs"]),
                 max_size=8)


@given(st.lists(fields, min_size=2, max_size=6), st.booleans(), st.booleans())
def test_split_fields_strips_spaces_and_the_trailing_separator(
        values: list[str], pad: bool, trailing: bool) -> None:
    sep = ";"
    line = sep.join(f" {v} " if pad else v for v in values) + (sep if trailing else "")
    got = split_fields(line, sep)
    expected = [v.strip() for v in values]
    if not trailing and len(expected) > 1 and expected[-1] == "":
        expected.pop()  # an empty last field reads like a trailing separator
    assert got == expected


def test_read_table_handles_bom_crlf_mixed_endings_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "t.CSV"
    path.write_bytes("\ufeffA; B ;C;\r\n1;-;x;\n\r\n2;;y;\r\n".encode())
    table = read_table(path)
    assert table.columns == ["A", "B", "C", "_line"]
    assert table.rows() == [("1", None, "x", 2), ("2", None, "y", 4)]


def _key(track: str, date: dt.date | None, session: str = "R1", src: str = "a") -> RaceKey:
    return RaceKey(track, session, date, src)


def test_race_ids_are_dated_only_where_names_clash() -> None:
    d1, d2 = dt.date(2024, 7, 21), dt.date(2025, 7, 20)
    keys = [_key("barber", d2, src="b"), _key("barber", d1), _key("sonoma", d2)]
    assert assign_race_ids(keys, empty("races")) == [
        "barber-2025-07-20-R1", "barber-2024-07-21-R1", "sonoma-R1"]


def test_race_ids_against_the_lake() -> None:
    lake = pl.DataFrame([{"race_id": "barber-R1", "track": "barber", "session": "R1",
                          "event": None, "date": dt.date(2024, 7, 21), "source_dir": "old"}],
                        schema=empty("races").schema)
    assert assign_race_ids([_key("barber", dt.date(2024, 7, 21))], lake) == ["barber-R1"]
    assert assign_race_ids([_key("barber", dt.date(2025, 7, 20))], lake) == \
        ["barber-2025-07-20-R1"]


def test_the_same_race_twice_is_refused() -> None:
    d = dt.date(2025, 7, 20)
    with pytest.raises(DataError, match="more than one folder"):
        assign_race_ids([_key("barber", d, src="x"), _key("barber", d, src="y")], empty("races"))
    with pytest.raises(DataError, match="no date"):
        assign_race_ids([_key("barber", None, src="x"), _key("barber", d)], empty("races"))


def test_two_events_at_one_track_get_dated_ids_in_the_lake(tmp_path: Path) -> None:
    write_race(tmp_path / "2024" / "barber", RaceSpec(date=dt.date(2024, 7, 21)))
    ingest(tmp_path / "2024", tmp_path / "lake")
    write_race(tmp_path / "2025" / "barber", RaceSpec())
    ingest(tmp_path / "2025", tmp_path / "lake")
    ingest(tmp_path / "2025", tmp_path / "lake")  # again: replaces, no third race
    assert open_lake(tmp_path / "lake").race_ids == ["barber-2025-07-20-R1", "barber-R1"]


def test_logged_number_and_lap_cost() -> None:
    assert logged_number("GR86-002-000", 0) == 0
    assert logged_number("GR86-002-55", None) == 55
    ends = {1: 100.0, 2: 162.0, 3: 222.5}
    assert lap_cost(ends, {2: 62.0, 3: 60.5}) == 0.0
    assert lap_cost(ends, {2: 62.0}) is None  # one lap is not enough evidence


def test_matching_breaks_ties_with_the_time_of_day() -> None:
    ends = {1: 64800.0 + 60, 2: 64800.0 + 120, 3: 64800.0 + 180}
    sections = pl.DataFrame({
        "car_number": [7, 7, 7, 8, 8, 8], "lap": [1, 2, 3] * 2, "lap_time_s": [60.0] * 6,
        "hour_s": [64860.0, 64920.0, 64980.0, 64900.0, 64960.0, 65020.0]})
    assert match_numbers({"GR86-001-000": ends}, sections, taken=set()) == {"GR86-001-000": 7}
    assert match_numbers({"GR86-001-000": ends}, sections, taken={7}) == {"GR86-001-000": 8}
