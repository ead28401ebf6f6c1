"""Every naming variant, layout and quirk of the real files; every rejected case."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from cognirace.domain.formats import FileKind
from cognirace.errors import DataError, SchemaError
from cognirace.ingest import discover, ingest
from cognirace.lake import open_lake
from factories import Car, RaceSpec, write_race

LAP_TIMES = [62.0, 60.5, 60.25]


def _laps_of_car2(lake: Path, race_id: str = "barber-R1") -> pl.DataFrame:
    return open_lake(lake).laps.filter(
        (pl.col("race_id") == race_id) & (pl.col("car_number") == 2)).sort("lap")


@pytest.mark.parametrize(
    "spec",
    [
        RaceSpec(style=1),
        RaceSpec(crlf=True, bom=True),
        RaceSpec(header_spaces=False),
        RaceSpec(value_variant=True),
        RaceSpec(provisional=True),
        RaceSpec(track="indianapolis", style=1, gps=True),
    ],
    ids=["track_R1-names", "crlf-bom", "no-header-spaces", "value-variant", "provisional",
         "indianapolis"],
)
def test_variants_give_the_same_laps(tmp_path: Path, spec: RaceSpec) -> None:
    write_race(tmp_path / spec.track, spec)
    reports = ingest(tmp_path / spec.track, tmp_path / "lake")
    assert [r.race_id for r in reports] == [f"{spec.track}-R1"]
    laps = _laps_of_car2(tmp_path / "lake", f"{spec.track}-R1")
    assert laps["lap_time_s"].to_list() == LAP_TIMES
    assert open_lake(tmp_path / "lake").results.height == 3


def test_race_subfolders_and_timing_names(tmp_path: Path) -> None:
    track = tmp_path / "Barber Motorsports Park"
    write_race(track / "Race 1", RaceSpec())
    write_race(track / "Race 2", RaceSpec(session="R2"))
    races = discover(track)
    assert [(r.track, r.session, r.source_dir) for r in races] == [
        ("barber", "R1", track), ("barber", "R2", track)]
    assert races[0].one(FileKind.RESULTS).name.startswith("03_")


def test_files_are_recognised_by_header_not_name(tmp_path: Path) -> None:
    folder = write_race(tmp_path / "barber")
    tel = folder / "R1_barber_telemetry_data.csv"
    tel.rename(folder / "R1_barber_export.csv")
    (folder / "notes.csv").write_text("a,b\n1,2\n")
    reports = ingest(folder, tmp_path / "lake")
    assert reports[0].samples > 0
    assert reports[0].files["telemetry"] == ["R1_barber_export.csv"]
    assert any("notes.csv" in n for n in reports[0].notes)


def test_lap_32768_is_repaired_in_laps_and_telemetry(tmp_path: Path) -> None:
    write_race(tmp_path / "barber", RaceSpec(sentinel={("002", 2), ("010", 1)}))
    report = ingest(tmp_path / "barber", tmp_path / "lake")[0]
    lake = open_lake(tmp_path / "lake")
    laps = _laps_of_car2(tmp_path / "lake")
    assert laps["lap"].to_list() == [1, 2, 3]
    assert laps["repaired"].to_list() == [False, True, False]
    assert laps["lap_time_s"].to_list() == LAP_TIMES
    assert report.laps_repaired == 2
    tel = lake.telemetry("barber-R1")
    assert tel["lap"].max() == 3
    assert tel.filter(pl.col("vehicle_id") == "GR86-010-55")["lap"].min() == 1
    assert report.telemetry_laps_repaired == int(60.5 * 2) + int(62.5 * 2)
    car2 = tel.filter(pl.col("vehicle_id") == "GR86-002-2")
    assert dict(car2.group_by("lap").len().iter_rows()) == {1: 124, 2: 121, 3: 120}


def test_car_number_zero_is_matched_by_lap_times(tmp_path: Path) -> None:
    cars = [
        Car("002", 2, [62.0, 60.5, 60.25, 61.0], logged_number=0),
        Car("010", 55, [62.5, 60.75, 61.0, 60.5], logged_number=0, start_offset_s=0.5),
        Car("016", 13, [63.0, 61.5, 61.125, 60.9], start_offset_s=1.0),
    ]
    write_race(tmp_path / "barber", RaceSpec(cars=cars, logger_offset_s=7.3))
    report = ingest(tmp_path / "barber", tmp_path / "lake")[0]
    lake = open_lake(tmp_path / "lake")
    assert dict(lake.cars.select("vehicle_id", "car_number").iter_rows()) == {
        "GR86-002-000": 2, "GR86-010-000": 55, "GR86-016-13": 13}
    assert report.cars_matched["GR86-002-000"] == "2 (lap times)"
    assert report.cars_matched["GR86-016-13"] == "13 (logged)"
    assert lake.laps.filter(pl.col("vehicle_id") == "GR86-010-000")["lap_time_s"].to_list() \
        == [62.5, 60.75, 61.0, 60.5]


def test_unmatched_cars_are_reported(tmp_path: Path) -> None:
    cars = [Car("002", 2, [62.0, 60.5, 60.25], logged_number=0)]
    write_race(tmp_path / "barber", RaceSpec(cars=cars, sections=False))
    report = ingest(tmp_path / "barber", tmp_path / "lake")[0]
    assert report.cars_unmatched == ["GR86-002-000"]
    cars_table = open_lake(tmp_path / "lake").cars
    assert cars_table["car_number"].to_list() == [None]


def test_a_race_without_telemetry_takes_its_laps_from_timing(tmp_path: Path) -> None:
    spec = RaceSpec(track="sebring", telemetry=False, lap_files=False, best_laps=False)
    report = ingest(write_race(tmp_path / "sebring", spec), tmp_path / "lake")[0]
    assert {"telemetry", "lap_start", "lap_end", "best_laps"} <= set(report.missing)
    lake = open_lake(tmp_path / "lake")
    assert lake.telemetry("sebring-R1").height == 0
    assert lake.races["date"].to_list() == [dt.date(2025, 7, 20)]  # from the weather
    laps = lake.laps.filter(pl.col("car_number") == 2).sort("lap")
    assert laps["lap_time_s"].to_list() == LAP_TIMES
    assert laps["vehicle_id"].to_list() == [None] * 3
    assert laps["lap_end"][0] == dt.datetime(2025, 7, 20, 18, 1, 2, tzinfo=dt.UTC)
    assert laps["lap_start"][1] == laps["lap_end"][0]


def test_no_weather_no_ath_no_gps_is_reported(tmp_path: Path) -> None:
    spec = RaceSpec(weather=False, ath=False, gps=False)
    report = ingest(write_race(tmp_path / "barber", spec), tmp_path / "lake")[0]
    assert {"weather", "channel ath", "channel lat", "channel lon"} <= set(report.missing)
    lake = open_lake(tmp_path / "lake")
    assert lake.weather.height == 0 and lake.laps.height == 9


def test_duplicates_unknown_channels_and_missing_values_are_counted(tmp_path: Path) -> None:
    folder = write_race(tmp_path / "barber", RaceSpec(duplicate_rows=5, unknown_channel=True))
    tel = folder / "R1_barber_telemetry_data.csv"
    text = tel.read_text().replace(",pbrake_f,0.0,", ",pbrake_f,-,", 1)
    tel.write_text(text)
    report = ingest(folder, tmp_path / "lake")[0]
    n_samples = sum(int(s * 2) for c in RaceSpec().cars for s in c.lap_times_s)
    assert report.rows_dropped["telemetry: unknown channel 'Mystery_Channel'"] == n_samples
    assert report.rows_dropped["telemetry: duplicate sample"] == 5
    assert report.rows_dropped["telemetry: missing value"] == 1
    assert report.samples == n_samples


def test_a_bad_number_names_file_line_and_column(tmp_path: Path) -> None:
    write_race(tmp_path / "barber", RaceSpec(bad_value=["12", "x5"][1]))
    with pytest.raises(SchemaError) as err:
        ingest(tmp_path / "barber", tmp_path / "lake")
    assert err.value.line == 4 and err.value.column == "telemetry_value"
    assert err.value.path is not None and err.value.path.endswith("telemetry_data.csv")
    assert not (tmp_path / "lake" / "races.parquet").exists()


def test_a_bad_lap_number_in_sections_is_rejected(tmp_path: Path) -> None:
    folder = write_race(tmp_path / "barber")
    path = folder / "23_AnalysisEnduranceWithSections_Race 1_Anonymized.CSV"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("2;1;2;", "2;1;two;", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SchemaError) as err:
        ingest(folder, tmp_path / "lake")
    assert (err.value.line, err.value.column, err.value.value) == (3, "LAP_NUMBER", "two")


def test_a_file_that_is_not_what_its_name_claims_is_rejected(tmp_path: Path) -> None:
    folder = write_race(tmp_path / "barber", RaceSpec(telemetry=False))
    weather = folder / "26_Weather_Race 1_Anonymized.CSV"
    (folder / "R1_barber_telemetry_data.csv").write_bytes(weather.read_bytes())
    with pytest.raises(SchemaError, match="name says telemetry"):
        ingest(folder, tmp_path / "lake")


def test_a_ragged_timing_row_is_rejected(tmp_path: Path) -> None:
    folder = write_race(tmp_path / "barber")
    path = folder / "03_Results GR Cup Race 1 Official_Anonymized.CSV"
    path.write_text(path.read_text() + "1;2;3;" + ";" * 40 + "extra;\n")
    with pytest.raises(SchemaError) as err:
        ingest(folder, tmp_path / "lake")
    assert err.value.line == 5


def test_nothing_to_ingest_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no race files"):
        ingest(tmp_path / "empty", tmp_path / "lake")
