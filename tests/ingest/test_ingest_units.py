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
from cognirace.ingest.cars import group_medians, identify
from cognirace.ingest.lapfiles import number_of
from cognirace.ingest.laps import MAX_LAP, repair_lap_sequence
from cognirace.ingest.textfile import read_table, split_fields
from cognirace.lake import open_lake
from cognirace.lake.schema import UTC_TIME, empty
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


def test_numbers_are_text_from_the_logger_or_the_id() -> None:
    assert number_of("GR86-002-000", "0") == "0"
    assert number_of("GR86-002-55", None) == "55"
    assert number_of("GR86-037-03", None) == "03"
    assert number_of("GR86-040-3", "3") == "3"


def _crossings(key: str, name: str, times_s: list[float]) -> pl.DataFrame:
    base = dt.datetime(2025, 7, 20, 18, tzinfo=dt.UTC)
    return pl.DataFrame({key: [name] * len(times_s),
                         "time": [base + dt.timedelta(seconds=t) for t in times_s]})


def test_cars_are_matched_by_line_crossings_whatever_their_numbers() -> None:
    """The logger's number says 78, its crossings say timing car 58; a car logged without
    number is found too; the lap beacon's common offset (7.4 s) is learned."""
    a = [0.0, 100.0, 201.0, 300.5, 402.0]
    b = [3.0, 104.0, 203.0, 306.0, 405.5]
    official = pl.concat([_crossings("car_number", "58", a), _crossings("car_number", "2", b)])
    logged = pl.concat([_crossings("vehicle_id", "GR86-004-78", [t + 7.4 for t in a]),
                        _crossings("vehicle_id", "GR86-002-000", [t + 7.4 for t in b])])
    cars, offset = identify({"GR86-004-78": "78", "GR86-002-000": "0"}, logged, official,
                            {"58": "58", "2": "2"})
    assert offset == pytest.approx(7.4, abs=0.01)
    assert {c.vehicle_id: (c.car_number, c.how) for c in cars} == {
        "GR86-004-78": ("58", "line crossings"), "GR86-002-000": ("2", "line crossings")}


def test_a_car_between_two_timing_cars_stays_unmatched() -> None:
    a = [0.0, 100.0, 200.0, 300.0]
    official = pl.concat([_crossings("car_number", "7", a),
                          _crossings("car_number", "8", [t + 0.1 for t in a]),
                          _crossings("car_number", "9", [t + 30 for t in a]),
                          _crossings("car_number", "10", [t + 60 for t in a])])
    logged = pl.concat([_crossings("vehicle_id", "GR86-001-000", [t + 0.05 for t in a]),
                        _crossings("vehicle_id", "GR86-003-9", [t + 30 for t in a]),
                        _crossings("vehicle_id", "GR86-005-10", [t + 60 for t in a])])
    cars, _ = identify({"GR86-001-000": "0", "GR86-003-9": "9", "GR86-005-10": "10"}, logged,
                       official, {n: n for n in ("7", "8", "9", "10")})
    assert {c.vehicle_id: c.car_number for c in cars}["GR86-001-000"] is None


def test_without_crossings_a_number_is_matched_as_text_first() -> None:
    empty_crossings = pl.DataFrame(schema={"vehicle_id": pl.String, "time": UTC_TIME})
    empty_official = pl.DataFrame(schema={"car_number": pl.String, "time": UTC_TIME})
    printed = {"03": "03", "3": "3", "78": "78"}
    cars, _ = identify({"GR86-037-03": "03", "GR86-040-3": "3", "GR86-004-078": "078",
                        "GR86-002-000": "0"}, empty_crossings, empty_official, printed)
    assert {c.vehicle_id: (c.car_number, c.how) for c in cars} == {
        "GR86-037-03": ("03", "logged number"), "GR86-040-3": ("3", "logged number"),
        "GR86-004-078": ("78", "number value"), "GR86-002-000": (None, "unmatched")}


@given(st.lists(st.tuples(st.integers(0, 4), st.floats(-100, 100)), max_size=40))
def test_group_medians_are_each_groups_median(pairs: list[tuple[int, float]]) -> None:
    import numpy as np

    codes = np.array([c for c, _ in pairs], dtype=np.int64)
    values = np.array([v for _, v in pairs], dtype=np.float64)
    medians, counts = group_medians(values, codes, 5)
    for code in range(5):
        mine = values[codes == code]
        assert counts[code] == len(mine)
        if len(mine):
            assert medians[code] == pytest.approx(float(np.median(mine)))
        else:
            assert np.isnan(medians[code])
