"""The lake of the real races agrees with the official files that came with each race.

Every fact is checked per race against the real bytes in ``../shared/real``, read here
by a deliberately plain parser of our own (the ``csv`` module), so the ingest is not
checked against itself. The tests skip when the folder is absent.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import polars as pl
import pytest

from cognirace.lake import Lake, open_lake
from real_data import RACES, REAL, TIMING

pytestmark = pytest.mark.skipif(not TIMING.is_dir(), reason=f"no real data at {REAL}")

OFFICIAL_RESULTS = {
    "barber-R1": "barber/Race 1/05_Results by Class GR Cup Race 1 Official_Anonymized.CSV",
    "barber-R2": "barber/Race 2/03_Results GR Cup Race 2 Official_Anonymized.CSV",
    "cota-R1": "COTA/Race 1/00_Results GR Cup Race 1 Official_Anonymized.CSV",
    "cota-R2": "COTA/Race 2/03_Provisional Results_ Race 2_Anonymized.CSV",
    "indianapolis-R1": "indianapolis/Race 1/03_GR Cup Race 1 Official Results.CSV",
    "indianapolis-R2": "indianapolis/Race 2/03_GR Cup Race 2 Official Results.CSV",
    "road_america-R1": "Road America/Race 1/05_Results by Class GR Cup Race 1 Official_"
                       "Anonymized.CSV",
    "road_america-R2": "Road America/Race 2/03_Results GR Cup Race 2 Official_Anonymized.CSV",
    "sebring-R1": "Sebring/Race 1/03_Provisional Results_Race 1_Anonymized.CSV",
    "sebring-R2": "Sebring/Race 2/00_Results GR Race 2 Official_Anonymized.CSV",
    "sonoma-R1": "Sonoma/Race 1/03_Results_Anonymized.CSV",
    "sonoma-R2": "Sonoma/Race 2/03_Results_Anonymized.CSV",
    "vir-R1": "../../raghv-m__aeropulse/data/virginia-international-raceway/VIR/Race 1/"
              "03_Results GR Cup Race 1 Official_Anonymized.CSV",
    "vir-R2": "VIR/Race 2/03_Results GR Cup Race 2 Official_Anonymized.CSV",
}
"""The most official results file of each race, chosen by hand from the folders: official
over provisional (COTA R2 and Sebring R1 have only provisional ones; Sonoma's are
unmarked), overall over by class; VIR R1's official file is in another entrant's copy."""

ids = pytest.mark.parametrize("race_id", sorted(RACES))


def _rows(path: Path) -> list[dict[str, str]]:
    """A semicolon file as dictionaries with stripped keys and values."""
    text = path.read_bytes().decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text), delimiter=";")
    header = [h.strip() for h in next(reader)]
    return [dict(zip(header, (v.strip() for v in row), strict=False)) for row in reader
            if any(v.strip() for v in row)]


def _seconds(text: str) -> float | None:
    if not text:
        return None
    total = 0.0
    for part in text.split(":"):
        total = total * 60 + float(part)
    return total


def _in_lap_pit_times(rows: list[dict[str, str]]) -> list[float | None]:
    """Each lap's pit time on the in-lap (``B``): where the file writes it on the next
    lap instead (Barber), it belongs to the lap before."""
    out = [_seconds(r["PIT_TIME"]) for r in rows]
    for i, row in enumerate(rows[:-1]):
        if row["CROSSING_FINISH_LINE_IN_PIT"] == "B" and out[i] is None and out[i + 1] \
                is not None and rows[i + 1]["CROSSING_FINISH_LINE_IN_PIT"] != "B":
            out[i], out[i + 1] = out[i + 1], None
    return out


def _sections(race_id: str) -> list[dict[str, str]]:
    (path,) = (TIMING / RACES[race_id]).glob("23_*")
    return _rows(path)


def _cars(race_id: str) -> dict[str, list[dict[str, str]]]:
    """The sections file's rows per car; a number whose laps start again is a new car."""
    cars: dict[str, list[dict[str, str]]] = {}
    last: dict[str, tuple[str, int]] = {}
    for row in _sections(race_id):
        number, lap = row["NUMBER"], int(row["LAP_NUMBER"])
        key, previous = last.get(number, (number, 0))
        if lap <= previous:
            key = f"{number}#{sum(k.split('#')[0] == number for k in cars) + 1}"
        last[number] = (key, lap)
        cars.setdefault(key, []).append(row)
    return cars


@pytest.fixture(scope="module")
def lake(real_lake_dir: Path) -> Lake:
    return open_lake(real_lake_dir)


def _laps(lake: Lake, race_id: str) -> pl.DataFrame:
    return lake.laps.filter(pl.col("race_id") == race_id).sort("car_number", "lap")


def test_every_real_race_is_in_the_lake(lake: Lake) -> None:
    assert lake.race_ids == sorted(RACES)


@ids
def test_laps_hold_the_sections_cars_and_no_others(lake: Lake, race_id: str) -> None:
    assert set(_laps(lake, race_id)["car_number"].to_list()) == set(_cars(race_id))


@ids
def test_each_car_has_the_sections_laps(lake: Lake, race_id: str) -> None:
    laps = _laps(lake, race_id)
    got = dict(laps.group_by("car_number").agg(pl.col("lap").sort()).iter_rows())
    assert got == {car: [int(r["LAP_NUMBER"]) for r in rows]
                   for car, rows in _cars(race_id).items()}


@ids
def test_lap_and_sector_times_are_the_official_ones(lake: Lake, race_id: str) -> None:
    laps = _laps(lake, race_id)
    for car, rows in _cars(race_id).items():
        mine = laps.filter(pl.col("car_number") == car).sort("lap")
        assert mine["lap_time_s"].to_list() == pytest.approx(
            [_seconds(r["LAP_TIME"]) for r in rows]), car
        for col, key in (("s1_s", "S1_SECONDS"), ("s2_s", "S2_SECONDS"), ("s3_s", "S3_SECONDS")):
            assert mine[col].to_list() == pytest.approx([_seconds(r[key]) for r in rows]), car


@ids
def test_caution_laps_and_pit_crossings_are_as_flagged(lake: Lake, race_id: str) -> None:
    laps = _laps(lake, race_id)
    for car, rows in _cars(race_id).items():
        mine = laps.filter(pl.col("car_number") == car).sort("lap")
        assert mine["flag"].to_list() == [r["FLAG_AT_FL"] for r in rows], car
        assert mine["in_pit"].to_list() == [r["CROSSING_FINISH_LINE_IN_PIT"] == "B"
                                            for r in rows], car
        assert mine["pit_time_s"].to_list() == pytest.approx(_in_lap_pit_times(rows)), car


@ids
def test_no_lap_time_at_or_below_zero_and_lap_file_only_laps_are_reported(
        lake: Lake, race_id: str) -> None:
    laps = _laps(lake, race_id)
    assert laps.filter(pl.col("lap_time_s") <= 0).is_empty()
    report = lake.report(race_id)
    assert report["laps_source"] == "official timing"
    events = report["lap_end_events"]
    kept = report["rows_read"]["lap_end"]
    assert sum(events.values()) == kept  # every lap-end event is accounted for
    crossings = laps.height + laps["car_number"].n_unique()  # each lap's end, and the start
    assert events["official crossings"] <= crossings
    assert "laps only the lap files know (not added)" in events


@ids
def test_lap_ends_are_the_timing_hour_at_the_track(lake: Lake, race_id: str) -> None:
    """``HOUR`` is local time at the track: the lake's UTC lap end, read back there."""
    from zoneinfo import ZoneInfo

    from cognirace.domain.tracks import TRACKS

    zone = ZoneInfo(TRACKS[race_id.split("-")[0]].timezone)
    laps = _laps(lake, race_id)
    for car, rows in _cars(race_id).items():
        ends = laps.filter(pl.col("car_number") == car).sort("lap")["lap_end"].to_list()
        for end, row in zip(ends, rows, strict=True):
            local = end.astimezone(zone)
            of_day = local.hour * 3600 + local.minute * 60 + local.second \
                + local.microsecond / 1e6
            assert of_day == pytest.approx(_seconds(row["HOUR"]), abs=0.002), (car, row)


@ids
def test_results_are_the_official_ones(lake: Lake, race_id: str) -> None:
    rows = _rows(TIMING / OFFICIAL_RESULTS[race_id])
    key = "POSITION" if "POSITION" in rows[0] else "POS"
    placed = sorted((r for r in rows if r[key]), key=lambda r: float(r[key]))
    unplaced = [r for r in rows if not r[key]]
    mine = lake.results.filter(pl.col("race_id") == race_id)
    order = mine.sort("position", nulls_last=True)
    assert [n.split("#")[0] for n in order["car_number"]] == \
        [r["NUMBER"] for r in placed + unplaced]
    assert order["laps"].to_list() == [int(r["LAPS"]) for r in placed + unplaced]
    if "STATUS" in rows[0]:
        assert order["status"].to_list() == [r["STATUS"] for r in placed + unplaced]
    else:  # the by-class layout has no status: it comes from the overall file
        assert order["status"].null_count() == 0


def test_a_penalty_in_the_official_file_wins_over_the_provisional_order(lake: Lake) -> None:
    """VIR R1: car 113 is 11th provisionally and 14th officially (30 s added)."""
    vir = lake.results.filter(pl.col("race_id") == "vir-R1").sort("position")
    assert vir.filter(pl.col("car_number") == "113")["position"].item() == 14


@ids
def test_weather_rows_are_the_file_with_sentinels_missing(lake: Lake, race_id: str) -> None:
    files = list((TIMING / RACES[race_id]).glob("26_*"))
    weather = lake.weather.filter(pl.col("race_id") == race_id).sort("time")
    if not files:  # Sonoma R2 has none in any public copy
        assert weather.is_empty() and "weather" in lake.report(race_id)["missing"]
        return
    rows = _rows(files[0])
    assert weather.height == len({r["TIME_UTC_SECONDS"] for r in rows})
    assert weather["time"][0] == dt.datetime.fromtimestamp(
        int(rows[0]["TIME_UTC_SECONDS"]), tz=dt.UTC)
    expected = [None if float(r["TRACK_TEMP"]) in (0.0, -999.0) else float(r["TRACK_TEMP"])
                for r in rows]
    assert weather["track_temp_c"].to_list() == expected
    assert weather["air_temp_c"].to_list() == [float(r["AIR_TEMP"]) for r in rows]


def test_car_numbers_are_text(lake: Lake) -> None:
    """Indianapolis: 021 and 21, 03 and 3 are four cars, each with its own laps."""
    indy = _laps(lake, "indianapolis-R1")
    for number in ("021", "21", "03", "3"):
        assert indy.filter(pl.col("car_number") == number).height == 26 if number != "03" \
            else indy.filter(pl.col("car_number") == number).height > 0
    assert lake.laps.schema["car_number"] == pl.String


def test_two_cars_under_one_number_stay_two_cars(lake: Lake) -> None:
    """The anonymized COTA and Sonoma timing list 3 twice; both cars keep their laps, and
    the results rows go to the car whose final time they give."""
    for race_id in ("cota-R1", "cota-R2", "sonoma-R1", "sonoma-R2"):
        laps = _laps(lake, race_id)
        assert {"3", "3#2"} <= set(laps["car_number"].to_list())
        results = lake.results.filter(pl.col("race_id") == race_id)
        for car in ("3", "3#2"):
            final = laps.filter(pl.col("car_number") == car).sort("lap")["lap_end"][-1]
            start = laps.filter(pl.col("lap") == 1)["lap_start"].min()
            total = results.filter(pl.col("car_number") == car)["total_time_s"].item()
            assert (final - start).total_seconds() == pytest.approx(total, abs=0.01), car


@pytest.mark.parametrize("race_id", ["indianapolis-R1", "indianapolis-R2"])
def test_each_car_carries_its_driver_as_the_timing_names_them(lake: Lake,
                                                               race_id: str) -> None:
    """Indianapolis's files name the drivers (``DRIVER_NAME`` in the sections, ``DRIVER``
    in the results by class): every timing car carries its sections file's name."""
    named = {car: rows[0]["DRIVER_NAME"] for car, rows in _cars(race_id).items()}
    cars = lake.cars.filter(pl.col("race_id") == race_id)
    got = dict(cars.select("car_number", "driver").unique().iter_rows())
    assert got == named
    assert all(named.values())


def test_anonymized_races_name_no_driver(lake: Lake) -> None:
    anonymized = [r for r in RACES if r.split("-")[0] not in ("indianapolis", "sonoma")]
    cars = lake.cars.filter(pl.col("race_id").is_in(anonymized))
    assert cars.height > 0 and cars["driver"].null_count() == cars.height


def test_a_provisional_file_that_kept_the_names_names_the_drivers(lake: Lake) -> None:
    """Sonoma R2's official results are anonymized; its provisional overall file still
    holds ``DRIVER_FIRSTNAME`` and ``DRIVER_SECONDNAME``: every car carries one of the
    names that file gives its number."""
    rows = _rows(TIMING / "Sonoma/Race 2/03_Provisional_Results_Race 2_Anonymized.CSV")
    names: dict[str, set[str]] = {}
    for row in rows:
        names.setdefault(row["NUMBER"], set()).add(
            f"{row['DRIVER_FIRSTNAME']} {row['DRIVER_SECONDNAME']}".strip())
    cars = lake.cars.filter(pl.col("race_id") == "sonoma-R2")
    got = cars.select("car_number", "driver").rows()
    assert got and all(driver in names[number.split("#")[0]] for number, driver in got)
    assert {driver for _, driver in got} == set().union(*names.values())
