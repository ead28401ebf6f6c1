"""Building one race's lake tables and quality report from its files.

Order matters: the timing first (the sections file is the authority on laps, see
``laps``), then the lap files and the telemetry, whose cars are matched to the timing
(``cars``), then the laps table, and last the telemetry's lap numbers, placed by the
official crossings. A file the lake can do without (telemetry, lap files, results,
weather) that cannot be read is skipped, with its error in the report; a race stops
only when its sections file cannot be read, or when it has nothing the lake can hold
(no sections file, no lap files, no telemetry: a folder of results alone).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import polars as pl

from cognirace.domain.channels import CHANNELS
from cognirace.domain.formats import FileKind
from cognirace.domain.tracks import TRACKS
from cognirace.errors import DataError
from cognirace.ingest.cars import CarIdentity, chassis_of, identify, same_value
from cognirace.ingest.grouping import RaceFiles
from cognirace.ingest.lapfiles import read_lap_events
from cognirace.ingest.laps import (
    compare_lap_files,
    crossings_of,
    lap_file_laps,
    official_laps_table,
    official_times,
    race_day,
    repair_events,
)
from cognirace.ingest.report import RaceReport
from cognirace.ingest.results import best_results
from cognirace.ingest.sections import read_sections
from cognirace.ingest.telemetry import TelemetryResult, read_telemetry
from cognirace.ingest.telemetry_laps import official_laps, repair_telemetry_laps
from cognirace.ingest.weather import read_weather
from cognirace.lake.schema import TABLES, empty
from cognirace.lake.writer import RaceTables

_LAP_KINDS = {FileKind.LAP_START: "lap_start", FileKind.LAP_END: "lap_end",
              FileKind.LAP_TIME: "lap_time"}
T = TypeVar("T")


def _optional(report: RaceReport, path: Path, read: Callable[[], T]) -> T | None:
    """Read an optional file; on a data error, skip it and keep the error in the report."""
    try:
        return read()
    except DataError as exc:
        report.file_errors[path.name] = str(exc)
        return None


def build_race(race: RaceFiles, race_id: str, step: Callable[[str], None]) -> RaceTables:
    """Read one race's files and build its lake tables and report.

    Raises:
        DataError: when the race has no laps to give (no sections file and no lap file),
            or its sections file cannot be read.
    """
    report = RaceReport(race_id=race_id, source_dir=str(race.source_dir), notes=list(race.notes))
    report.files = {k.value: [p.name for p in v] for k, v in race.files.items()}
    report.missing = [k.value for k in FileKind
                      if k not in race.files and k is not FileKind.RESULTS_BY_CLASS]
    dropped: Counter[str] = Counter()
    step("timing")
    path = race.one(FileKind.SECTIONS)
    sections = read_sections(path, dropped, report.notes) if path is not None else None
    weather_path = race.one(FileKind.WEATHER)
    weather = _optional(report, weather_path, lambda: read_weather(
        weather_path, dropped, report.notes)) if weather_path is not None else None
    step("laps")
    events = _lap_events(race, report, dropped)
    tel = None
    if race.files.get(FileKind.TELEMETRY):
        step("telemetry")
        parts = race.files[FileKind.TELEMETRY]
        tel = _optional(report, parts[0], lambda: read_telemetry(parts))
        if tel is not None:
            dropped.update(tel.dropped)
            _telemetry_report(report, tel)
    if sections is not None:
        laps, identities = _official(race, race_id, sections, events, tel, weather, report)
        report.laps_source = "official timing"
    elif events:
        laps, identities = _from_lap_files(race_id, events, tel, dropped)
        report.laps_source = "lap files"
        report.laps_repaired = int(laps["repaired"].sum())
        report.notes.append("no sections file: laps from the lap files, numbers repaired")
    elif tel is not None:
        laps, identities = empty("laps"), _by_logged_number(_logged_numbers(tel, events))
        report.laps_source = "none"
        report.notes.append("no sections file and no lap files: telemetry only, no laps")
    else:
        raise DataError(f"race {race.label} has nothing the lake can hold: no sections file "
                        "(23_AnalysisEnduranceWithSections), no lap files, no telemetry",
                        path=race.source_dir,
                        hint="ingest the race's folder together with its timing files")
    _cars_report(report, identities, laps)
    results = None
    if race.files.get(FileKind.RESULTS):
        results = best_results(race.files[FileKind.RESULTS], _finals(sections), dropped,
                               report.notes)
    telemetry = None
    if tel is not None:
        telemetry = _telemetry_laps(tel, laps, events, report).with_columns(
            pl.lit(race_id).alias("race_id")).select(TABLES["telemetry"].names()) \
            .cast(TABLES["telemetry"])
    report.laps = laps.height
    report.rows_dropped = dict(sorted((k, v) for k, v in dropped.items() if v))
    tables = {
        "races": pl.DataFrame([{"race_id": race_id, "track": race.track, "session": race.session,
                                "event": race.event, "date": race.date,
                                "source_dir": str(race.source_dir)}], schema=TABLES["races"]),
        "cars": _cars_table(race_id, identities, laps, results, sections),
        "laps": laps,
        "results": _with_race(race_id, results, "results"),
        "weather": _with_race(race_id, weather, "weather"),
    }
    return RaceTables(race_id, tables, telemetry, report.to_json())


def _lap_events(race: RaceFiles, report: RaceReport, dropped: Counter[str]
                ) -> dict[str, pl.DataFrame]:
    out = {}
    for kind, name in _LAP_KINDS.items():
        path = race.one(kind)
        if path is None:
            continue
        events = _optional(report, path, partial(read_lap_events, path, dropped, name,
                                                 race.session))
        if events is not None and events.height:
            report.rows_read[name] = events.height
            out[name] = events
        elif events is not None:
            report.notes.append(f"{path.name}: no rows of {race.session}")
    return out


def _logged_numbers(tel: TelemetryResult | None, events: dict[str, pl.DataFrame]
                    ) -> dict[str, str]:
    """The logged number of every logged car (the first non-zero one found)."""
    numbers: dict[str, str] = {}
    for frame in events.values():
        for vid, number in frame.group_by("vehicle_id").agg(pl.col("number").max()).iter_rows():
            if numbers.get(vid, "0") == "0":
                numbers[vid] = number
    if tel is not None:
        for vid, number in tel.numbers.items():
            if numbers.get(vid, "0") == "0":
                numbers[vid] = number if number.strip("0") else "0"
    return numbers


def _logger_crossings(events: dict[str, pl.DataFrame], tel: TelemetryResult | None
                      ) -> pl.DataFrame:
    """``vehicle_id, time`` where each logged car crossed the line, by its lap events,
    else by its telemetry's lap changes."""
    frames = [e.select("vehicle_id", "time") for e in events.values()]
    if tel is not None:
        seen = {v for f in frames for v in f["vehicle_id"].unique().to_list()}
        changes = tel.frame.filter(~pl.col("vehicle_id").is_in(sorted(seen))).filter(
            pl.col("lap") != pl.col("lap").shift(1).over("vehicle_id")).select("vehicle_id",
                                                                               "time")
        frames.append(changes)
    if not frames:
        return pl.DataFrame(schema={"vehicle_id": pl.String, "time": TABLES["laps"]["lap_end"]})
    return pl.concat(frames).unique()


def _official(race: RaceFiles, race_id: str, sections: pl.DataFrame,
              events: dict[str, pl.DataFrame], tel: TelemetryResult | None,
              weather: pl.DataFrame | None, report: RaceReport
              ) -> tuple[pl.DataFrame, list[CarIdentity]]:
    """Laps from the official timing, with the logged cars matched to its cars."""
    tz = TRACKS[race.track].timezone
    times = pl.concat([e["time"] for e in events.values()]) if events else None
    day = race_day(tz, times, weather["time"] if weather is not None else None, race.date)
    timed = official_times(sections, tz, day)
    official = crossings_of(timed)
    printed = dict(sections.select("car_number", "number").unique().iter_rows())
    logged = _logged_numbers(tel, events)
    identities, offset_s = identify(logged, _logger_crossings(events, tel), official, printed)
    vehicles = {c.car_number: c.vehicle_id for c in identities if c.car_number is not None}
    if offset_s:
        report.notes.append(f"lap events come {offset_s:+.1f} s after the official line (the "
                     "logger's lap beacon is not on the timing line)")
    report.notes.extend(f"{c.vehicle_id} logs number {logged[c.vehicle_id]} but its line crossings "
                 f"are timing car {c.car_number}'s" for c in identities
                 if c.how == "line crossings" and c.car_number is not None
                 and _disagree(logged[c.vehicle_id], printed[c.car_number], printed))
    if "lap_end" in events:
        matched = {v: c for c, v in vehicles.items()}
        report.lap_end_events = compare_lap_files(events["lap_end"], official, matched,
                                                  offset_s)
    return official_laps_table(race_id, timed, vehicles), identities


def _disagree(logged: str, timed: str, printed: dict[str, str]) -> bool:
    """Whether a logged number names another car than the timing's: another value, or
    another text where the timing knows that text as a car (``03`` against ``3``)."""
    if logged in ("0", timed):
        return False
    return not same_value(logged, timed) or logged in printed.values()


def _from_lap_files(race_id: str, events: dict[str, pl.DataFrame], tel: TelemetryResult | None,
                    dropped: Counter[str]) -> tuple[pl.DataFrame, list[CarIdentity]]:
    """Laps from the lap files alone; cars are known by their logged number only."""
    identities = _by_logged_number(_logged_numbers(tel, events))
    numbers = {c.vehicle_id: c.car_number for c in identities if c.car_number is not None}
    repaired = {name: repair_events(frame) for name, frame in events.items()}
    return lap_file_laps(race_id, repaired, numbers, dropped), identities


def _by_logged_number(logged: dict[str, str]) -> list[CarIdentity]:
    """Identities without timing: each car is its logged number (none for ``0``)."""
    return [CarIdentity(v, chassis_of(v), n, "logged number") if n != "0"
            else CarIdentity(v, chassis_of(v), None, "unmatched")
            for v, n in sorted(logged.items())]


def _telemetry_laps(tel: TelemetryResult, laps: pl.DataFrame, events: dict[str, pl.DataFrame],
                    report: RaceReport) -> pl.DataFrame:
    """Telemetry lap numbers: official where the car has official laps, else repaired."""
    placed = laps.drop_nulls("vehicle_id").select("vehicle_id", "lap", "lap_start", "lap_end")
    frame = tel.frame.with_columns(pl.col("lap").alias("_logged"))
    frame, shift = official_laps(frame, placed) if report.laps_source == "official timing" \
        else (frame, {})
    ahead = {v: d for v, d in shift.items() if d}
    if ahead:
        report.notes.append("telemetry laps follow the official timing; the logger's lap "
                            "counter ran " + ", ".join(f"{d:+d} at {v}" for v, d in ahead.items()))
    windows = None
    if "lap_start" in events or "lap_end" in events:
        windows = lap_file_laps("", {n: repair_events(e) for n, e in events.items()}, {},
                                Counter()).select("vehicle_id", "lap", "lap_start", "lap_end")
    frame, by_source = repair_telemetry_laps(frame, windows)
    report.telemetry_laps_repaired = int(frame.select(
        pl.col("lap").ne_missing(pl.col("_logged")).sum()).item())
    for source, n in by_source.items():
        report.repairs[f"telemetry lap numbers recovered from {source}"] = n
    return frame.drop("_logged")


def _telemetry_report(report: RaceReport, tel: TelemetryResult) -> None:
    report.rows_read["telemetry"] = tel.rows_read
    report.channels_hz = tel.sample_rate_hz
    report.samples = tel.frame.height
    report.values_nulled = tel.values_nulled
    report.ecu_offset_s = tel.ecu_offset_s
    if tel.repeat_samples:
        report.notes.append(
            f"telemetry: {tel.repeat_samples:,} samples hold a channel twice (stored twice, "
            "or read twice while the ECU clock stood still); each keeps the lower value")
    report.missing += [f"channel {c.column}" for c in CHANNELS
                       if c.column not in tel.sample_rate_hz]


def _cars_report(report: RaceReport, identities: list[CarIdentity], laps: pl.DataFrame) -> None:
    report.cars_matched = {
        c.vehicle_id: f"{c.car_number} ({c.how}" + (f" {c.cost_s:.2f} s)" if c.cost_s is not None
                                                     else ")")
        for c in identities if c.car_number is not None}
    report.cars_unmatched = [c.vehicle_id for c in identities if c.car_number is None]
    matched = {c.car_number for c in identities}
    report.cars_without_logger = sorted(
        n for n in laps["car_number"].drop_nulls().unique().to_list() if n not in matched)


def _finals(sections: pl.DataFrame | None) -> pl.DataFrame:
    """Per sections car: label, printed number, laps and elapsed time at its last lap."""
    if sections is None:
        return pl.DataFrame(schema={"car_number": pl.String, "number": pl.String,
                                    "laps": pl.Int64, "elapsed_s": pl.Float64})
    return sections.group_by("car_number", "number").agg(
        pl.len().alias("laps"), pl.col("elapsed_s").sort_by("lap").last())


def _cars_table(race_id: str, identities: list[CarIdentity], laps: pl.DataFrame,
                results: pl.DataFrame | None, sections: pl.DataFrame | None) -> pl.DataFrame:
    """One row per car: every timing car (with its logged car where matched) and every
    logged car the timing does not list."""
    schema = {"car_number": pl.String, "class": pl.String, "team": pl.String,
              "driver": pl.String}
    info = pl.DataFrame(schema=schema)
    for source in (results, sections):
        if source is not None:
            info = pl.concat([info, source.select(list(schema))]).unique(
                "car_number", keep="first", maintain_order=True)
    logged = pl.DataFrame(
        {"vehicle_id": [c.vehicle_id for c in identities],
         "chassis": [c.chassis for c in identities],
         "car_number": [c.car_number for c in identities]},
        schema={"vehicle_id": pl.String, "chassis": pl.String, "car_number": pl.String})
    timing = laps.select("car_number").drop_nulls().unique()
    cars = pl.concat([logged, timing.join(logged, on="car_number", how="anti")],
                     how="diagonal_relaxed")
    return cars.join(info, on="car_number", how="left").with_columns(
        pl.lit(race_id).alias("race_id")).select(TABLES["cars"].names()) \
        .cast(TABLES["cars"]).sort("car_number", "vehicle_id", nulls_last=True)


def _with_race(race_id: str, frame: pl.DataFrame | None, table: str) -> pl.DataFrame:
    if frame is None:
        return empty(table)
    schema = TABLES[table]
    return frame.with_columns(pl.lit(race_id).alias("race_id")).select(schema.names()) \
        .cast(schema)


__all__ = ["build_race"]
