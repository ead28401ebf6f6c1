"""Every naming variant, layout and quirk of the real files; every refused case.

Hand-built folders pin what the real bytes (``test_real_races``) do not show, or show
only once: a broken file or race beside good ones, a JSON array in a value.
"""

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
        (pl.col("race_id") == race_id) & (pl.col("car_number") == "2")).sort("lap")


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


def test_lap_32768_in_logger_files_does_not_touch_the_official_laps(tmp_path: Path) -> None:
    write_race(tmp_path / "barber", RaceSpec(sentinel={("002", 2), ("010", 1)}))
    report = ingest(tmp_path / "barber", tmp_path / "lake")[0]
    lake = open_lake(tmp_path / "lake")
    laps = _laps_of_car2(tmp_path / "lake")
    assert laps["lap"].to_list() == [1, 2, 3]
    assert not laps["repaired"].any()
    assert laps["lap_time_s"].to_list() == LAP_TIMES
    assert report.laps_source == "official timing" and report.laps_repaired == 0
    tel = lake.telemetry("barber-R1")
    assert tel["lap"].max() == 3
    assert tel.filter(pl.col("vehicle_id") == "GR86-010-55")["lap"].min() == 1
    assert report.telemetry_laps_repaired == int(60.5 * 2) + int(62.5 * 2)
    car2 = tel.filter(pl.col("vehicle_id") == "GR86-002-2")
    assert dict(car2.group_by("lap").len().iter_rows()) == {1: 124, 2: 121, 3: 120}


def test_cars_are_matched_by_line_crossings_without_or_despite_numbers(tmp_path: Path) -> None:
    cars = [
        Car("002", "2", [62.0, 60.5, 60.25, 61.0], logged_number="0"),
        Car("010", "55", [62.5, 60.75, 61.0, 60.5], logged_number="0", start_offset_s=0.5),
        Car("016", "13", [63.0, 61.5, 61.125, 60.9], logged_number="78", start_offset_s=1.0),
    ]
    write_race(tmp_path / "barber", RaceSpec(cars=cars, logger_offset_s=7.3))
    report = ingest(tmp_path / "barber", tmp_path / "lake")[0]
    lake = open_lake(tmp_path / "lake")
    assert dict(lake.cars.select("vehicle_id", "car_number").iter_rows()) == {
        "GR86-002-000": "2", "GR86-010-000": "55", "GR86-016-78": "13"}
    assert report.cars_matched["GR86-002-000"].startswith("2 (line crossings")
    assert any("GR86-016-78 logs number 78" in n for n in report.notes)
    assert any("+7.3 s after the official line" in n for n in report.notes)
    assert lake.laps.filter(pl.col("vehicle_id") == "GR86-010-000")["lap_time_s"].to_list() \
        == [62.5, 60.75, 61.0, 60.5]


def test_without_sections_laps_come_from_the_lap_files(tmp_path: Path) -> None:
    cars = [Car("002", "2", [62.0, 60.5, 60.25], logged_number="0")]
    write_race(tmp_path / "barber", RaceSpec(cars=cars, sections=False))
    report = ingest(tmp_path / "barber", tmp_path / "lake")[0]
    assert report.laps_source == "lap files"
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
    laps = lake.laps.filter(pl.col("car_number") == "2").sort("lap")
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
    assert report.rows_dropped["telemetry: channel repeated within a sample"] == 5
    assert report.rows_dropped["telemetry: missing value"] == 1
    assert report.samples == n_samples


def test_a_bad_telemetry_value_skips_the_telemetry_not_the_race(tmp_path: Path) -> None:
    write_race(tmp_path / "barber", RaceSpec(bad_value="x5"))
    report = ingest(tmp_path / "barber", tmp_path / "lake")[0]
    assert report.ok and report.samples == 0
    (name, error), = report.file_errors.items()
    assert name.endswith("telemetry_data.csv")
    assert "line 4" in error and "'telemetry_value'" in error and "'x5'" in error
    lake = open_lake(tmp_path / "lake")
    assert lake.laps.height == 9 and lake.telemetry("barber-R1").height == 0
    with pytest.raises(SchemaError) as err:  # strict, as ``cognirace --debug ingest``
        from cognirace.ingest.telemetry import read_telemetry
        read_telemetry([tmp_path / "barber" / name])
    assert (err.value.line, err.value.column) == (4, "telemetry_value")


def test_a_json_array_in_a_value_is_refused_cleanly(tmp_path: Path) -> None:
    write_race(tmp_path / "sebring", RaceSpec(track="sebring", bad_value='"[12.5, 13.0]"'))
    report = ingest(tmp_path / "sebring", tmp_path / "lake")[0]
    (error,) = report.file_errors.values()
    assert "JSON array" in error and "line 4" in error and "one row per channel" in error


def test_a_bad_ecu_timestamp_is_named(tmp_path: Path) -> None:
    folder = write_race(tmp_path / "barber")
    tel = folder / "R1_barber_telemetry_data.csv"
    lines = tel.read_text().splitlines()
    fields = lines[5].split(",")
    fields[10] = "yesterday"
    lines[5] = ",".join(fields)
    tel.write_text("\n".join(lines) + "\n")
    report = ingest(folder, tmp_path / "lake")[0]
    (error,) = report.file_errors.values()
    assert "line 6" in error and "'timestamp'" in error and "'yesterday'" in error


def test_a_broken_race_stops_only_itself(tmp_path: Path) -> None:
    good = write_race(tmp_path / "src" / "barber")
    bad = write_race(tmp_path / "src" / "sonoma", RaceSpec(track="sonoma"))
    path = bad / "23_AnalysisEnduranceWithSections_Race 1_Anonymized.CSV"
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("2;1;2;", "2;1;two;", 1)
    path.write_text("\n".join(lines) + "\n")
    reports = ingest(tmp_path / "src", tmp_path / "lake")
    assert [(r.race_id, r.ok) for r in reports] == [("barber-R1", True), ("sonoma-R1", False)]
    error = reports[1].error or ""
    assert "line 3" in error and "'LAP_NUMBER'" in error and "'two'" in error
    assert open_lake(tmp_path / "lake").race_ids == ["barber-R1"]
    assert good.exists()
    with pytest.raises(SchemaError) as err:
        ingest(tmp_path / "src", tmp_path / "lake2", strict=True)
    assert (err.value.line, err.value.column, err.value.value) == (3, "LAP_NUMBER", "two")


def test_a_file_is_read_by_its_header_whatever_its_name_claims(tmp_path: Path) -> None:
    folder = write_race(tmp_path / "barber", RaceSpec(telemetry=False))
    weather = folder / "26_Weather_Race 1_Anonymized.CSV"
    (folder / "R1_barber_telemetry_data.csv").write_bytes(weather.read_bytes())
    (folder / "R1_barber_lap_time_broken.csv").write_text("what,ever\n1,2\n")
    report = ingest(folder, tmp_path / "lake")[0]
    assert report.ok
    assert any("R1_barber_telemetry_data.csv: named like a telemetry file, read as weather"
               in n for n in report.notes)
    assert any("skipped R1_barber_lap_time_broken.csv" in n for n in report.notes)


def test_a_ragged_results_row_skips_that_file(tmp_path: Path) -> None:
    folder = write_race(tmp_path / "barber")
    path = folder / "03_Results GR Cup Race 1 Official_Anonymized.CSV"
    path.write_text(path.read_text() + "1;2;3;" + ";" * 40 + "extra;\n")
    report = ingest(folder, tmp_path / "lake")[0]
    assert report.ok
    assert any("skipped 03_Results" in n and "line 5" in n for n in report.notes)
    assert open_lake(tmp_path / "lake").results.height == 0


def test_nothing_to_ingest_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no race files"):
        ingest(tmp_path / "empty", tmp_path / "lake")


def test_one_race_spread_over_folders_is_one_race(tmp_path: Path) -> None:
    """Timing in one copy, the official results in another (undated), telemetry in a
    third: one race, the official results chosen, every folder noted."""
    full = write_race(tmp_path / "copy-a" / "barber",
                      RaceSpec(telemetry=False, provisional=True))
    official = tmp_path / "copy-b" / "barber" / "Race 1"
    official.mkdir(parents=True)
    provisional = full / "03_Provisional Results_Race 1_Anonymized.CSV"
    text = provisional.read_text().replace(";55;", ";99;")  # a car renumbered officially
    (official / "03_Results GR Cup Race 1 Official_Anonymized.CSV").write_text(text)
    write_race(tmp_path / "copy-c" / "barber", RaceSpec(lap_files=False, results=False,
                                                        sections=False, weather=False,
                                                        best_laps=False))
    (race,) = discover(tmp_path)
    assert {f.parent.name for f in race.folders} == {"copy-a", "copy-b", "copy-c"}
    assert race.source_dir == full  # the folder with the sections file
    assert race.files[FileKind.RESULTS][0].name.startswith("03_Results GR Cup")
    report = ingest(tmp_path, tmp_path / "lake")[0]
    assert report.ok and report.samples > 0
    assert "99" in open_lake(tmp_path / "lake").results["car_number"].to_list()


def test_undated_files_of_an_ambiguous_race_are_left_out(tmp_path: Path) -> None:
    write_race(tmp_path / "2024" / "barber", RaceSpec(date=dt.date(2024, 7, 21)))
    write_race(tmp_path / "2025" / "barber", RaceSpec())
    loose = tmp_path / "loose" / "barber" / "Race 1"
    loose.mkdir(parents=True)
    src = tmp_path / "2025" / "barber" / "03_Results GR Cup Race 1 Official_Anonymized.CSV"
    (loose / src.name).write_bytes(src.read_bytes())
    races = discover(tmp_path)
    assert len(races) == 2
    assert any("undated" in n and "2 events of barber-R1" in n for r in races for n in r.notes)
