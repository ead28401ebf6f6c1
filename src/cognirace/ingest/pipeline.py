"""The ingest of a folder of race files into the lake, race by race.

``ingest(src, lake)`` finds the races under ``src``, names them, and for each one
reads every file it has, repairs laps, identifies cars, builds the lake's tables and
writes them atomically with its quality report. The lap files are read before the
telemetry: their repaired start and end times place telemetry samples whose lap
number is impossible. A race whose files are truly broken stops the ingest with an
error naming file, line and column; races written before it stay in the lake, whole.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import polars as pl

from cognirace.domain.channels import CHANNELS
from cognirace.domain.formats import FileKind
from cognirace.ingest import timing
from cognirace.ingest.cars import CarIdentity, identify
from cognirace.ingest.discover import RaceFiles, discover
from cognirace.ingest.lapfiles import read_lap_events
from cognirace.ingest.laps import build_laps, lap_frame, repair_events
from cognirace.ingest.raceid import RaceKey, assign_race_ids
from cognirace.ingest.report import RaceReport
from cognirace.ingest.telemetry import TelemetryResult, read_telemetry
from cognirace.ingest.textfile import decode, separator_of, split_fields
from cognirace.lake.layout import LakeLayout
from cognirace.lake.schema import TABLES, UTC_TIME, empty
from cognirace.lake.writer import RaceTables, write_race

Progress = Callable[[str, str], None]
"""Called with (race label, step) as the ingest advances."""

_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
_LAP_KINDS = {FileKind.LAP_START: "lap_start", FileKind.LAP_END: "lap_end",
              FileKind.LAP_TIME: "lap_time"}


def _first_row(path: Path) -> dict[str, str]:
    with path.open("rb") as handle:
        lines = decode(handle.read(8192)).splitlines()
    if len(lines) < 2:
        return {}
    sep = separator_of(lines[0])
    return dict(zip(split_fields(lines[0], sep), split_fields(lines[1], sep), strict=False))


def race_event(race: RaceFiles) -> tuple[str | None, dt.date | None]:
    """The event name (``meta_event``) and date of a race, from the first rows of its files.

    The date comes from ``meta_event`` (``I_R04_2025-07-20``), else the weather's first
    time, else the first ``meta_time``.
    """
    event: str | None = None
    date: dt.date | None = None
    for kind in (FileKind.TELEMETRY, *_LAP_KINDS):
        path = race.one(kind)
        row = _first_row(path) if path else {}
        event = event or row.get("meta_event") or None
        found = _DATE.search(event or "") or _DATE.search(row.get("meta_time", ""))
        if found and date is None:
            date = dt.date.fromisoformat(found.group(1))
    weather = race.one(FileKind.WEATHER)
    if date is None and weather is not None:
        seconds = _first_row(weather).get("TIME_UTC_SECONDS", "")
        if seconds.replace(".", "", 1).isdigit():
            date = dt.datetime.fromtimestamp(float(seconds), tz=dt.UTC).date()
    return event, date


def ingest(src: Path, lake: Path, *, progress: Progress | None = None) -> list[RaceReport]:
    """Ingest every race under ``src`` into the lake at ``lake``.

    Args:
        src: A race folder, a track folder or a tree of them (or one file).
        lake: The lake folder (created if needed).
        progress: Called as each step of each race starts.

    Returns:
        The quality report of each race, in the order written.

    Raises:
        DataError: for input that cannot be trusted (``SchemaError`` names the file,
            line and column).
    """
    # absolute, so the lake's source_dir (and the truth beside simulated races) is found
    # from any working folder
    races = discover(Path(src).resolve())
    events = [race_event(r) for r in races]
    keys = [RaceKey(r.track, r.session, d, str(r.source_dir)) for r, (_, d) in zip(
        races, events, strict=True)]
    races_path = LakeLayout(Path(lake)).table("races")
    existing = pl.read_parquet(races_path) if races_path.exists() else empty("races")
    ids = assign_race_ids(keys, existing)
    reports = []
    for race, (event, date), race_id in zip(races, events, ids, strict=True):
        def step(name: str, rid: str = race_id) -> None:
            if progress is not None:
                progress(rid, name)
        tables = build_race(race, race_id, event, date, step)
        step("write")
        write_race(Path(lake), tables)
        reports.append(RaceReport.from_dict(json.loads(tables.report_json)))
    return reports


def build_race(race: RaceFiles, race_id: str, event: str | None, date: dt.date | None,
               step: Callable[[str], None]) -> RaceTables:
    """Read one race's files and build its lake tables and report."""
    report = RaceReport(race_id=race_id, source_dir=str(race.source_dir), notes=list(race.notes))
    report.files = {k.value: [p.name for p in v] for k, v in race.files.items()}
    report.missing = [k.value for k in FileKind if k not in race.files]
    dropped: Counter[str] = Counter()
    step("laps")
    events = _lap_events(race, report, dropped)
    laps = lap_frame(events.get("lap_start"), events.get("lap_end"), events.get("lap_time"))
    tel = None
    if race.files.get(FileKind.TELEMETRY):
        step("telemetry")
        windows = laps.select("vehicle_id", "lap", "lap_start", "lap_end") \
            if events and laps.height else None
        tel = read_telemetry(race.files[FileKind.TELEMETRY], windows)
        dropped.update(tel.dropped)
        _telemetry_report(report, tel)
    step("timing")
    sections, results, weather = _timing(race, report, dropped)
    logged = _logged_numbers(tel, events)
    ends = _ends(laps, tel)
    identities = identify(logged, ends, sections)
    _cars_report(report, identities)
    numbers = {c.vehicle_id: c.car_number for c in identities if c.car_number is not None}
    midnight = pl.lit(dt.datetime.combine(date, dt.time(), tzinfo=dt.UTC)).cast(UTC_TIME) \
        if date is not None else None
    lap_table = build_laps(race_id, laps, numbers, sections, midnight)
    report.laps = lap_table.height
    report.laps_repaired = int(lap_table["repaired"].sum())
    report.rows_dropped = dict(sorted(dropped.items()))
    tables = {
        "races": pl.DataFrame([{"race_id": race_id, "track": race.track, "session": race.session,
                                "event": event, "date": date, "source_dir": str(race.source_dir)}],
                              schema=TABLES["races"]),
        "cars": _cars_table(race_id, identities, results, sections),
        "laps": lap_table,
        "results": _with_race(race_id, results, "results"),
        "weather": _with_race(race_id, weather, "weather"),
    }
    telemetry = None
    if tel is not None:
        telemetry = tel.frame.with_columns(pl.lit(race_id).alias("race_id")).select(
            TABLES["telemetry"].names())
    return RaceTables(race_id, tables, telemetry, report.to_json())


def _telemetry_report(report: RaceReport, tel: TelemetryResult) -> None:
    report.rows_read["telemetry"] = tel.rows_read
    report.channels_hz = tel.sample_rate_hz
    report.samples = tel.frame.height
    report.values_nulled = tel.values_nulled
    report.telemetry_laps_repaired = tel.laps_repaired
    if tel.laps_repaired_by:
        sources = ", ".join(f"{n:,} from {source}" for source, n in tel.laps_repaired_by.items())
        report.notes.append(f"telemetry lap numbers recovered: {sources}")
    report.missing += [f"channel {c.column}" for c in CHANNELS
                       if c.column not in tel.sample_rate_hz]


def _lap_events(race: RaceFiles, report: RaceReport, dropped: Counter[str]
                ) -> dict[str, pl.DataFrame]:
    out = {}
    for kind, name in _LAP_KINDS.items():
        path = race.one(kind)
        if path is None:
            continue
        events = read_lap_events(path, dropped, name)
        report.rows_read[name] = events.height
        out[name], _ = repair_events(events)
    return out


def _timing(race: RaceFiles, report: RaceReport, dropped: Counter[str]
            ) -> tuple[pl.DataFrame | None, pl.DataFrame | None, pl.DataFrame | None]:
    found: list[pl.DataFrame | None] = []
    readers = ((FileKind.SECTIONS, timing.read_sections), (FileKind.RESULTS, timing.read_results),
               (FileKind.WEATHER, timing.read_weather))
    for kind, reader in readers:
        path = race.one(kind)
        if path is None and kind is FileKind.RESULTS:
            path = race.one(FileKind.RESULTS_BY_CLASS)
        frame = reader(path, dropped) if path is not None else None
        if frame is not None:
            report.rows_read[kind.value] = frame.height
        found.append(frame)
    return found[0], found[1], found[2]


def _logged_numbers(tel: TelemetryResult | None, events: dict[str, pl.DataFrame]
                    ) -> dict[str, int]:
    numbers: dict[str, int] = dict(tel.numbers) if tel is not None else {}
    for frame in events.values():
        for vid, number in frame.group_by("vehicle_id").agg(
                pl.col("vehicle_number").max().fill_null(0)).iter_rows():
            numbers[vid] = max(numbers.get(vid, 0), int(number))
    return numbers


def _ends(laps: pl.DataFrame, tel: TelemetryResult | None) -> pl.DataFrame:
    """Lap ends per car: from the lap files, else the first sample of the next lap."""
    if "lap_end" in laps.columns and laps.height:
        return laps.select("vehicle_id", "lap", "lap_end")
    if tel is None or tel.frame.height == 0:
        return pl.DataFrame(schema={"vehicle_id": pl.String, "lap": pl.Int64, "lap_end": UTC_TIME})
    return (tel.frame.group_by("vehicle_id", "lap").agg(pl.col("time").min().alias("lap_end"))
            .with_columns((pl.col("lap") - 1).cast(pl.Int64)))


def _cars_report(report: RaceReport, identities: list[CarIdentity]) -> None:
    report.cars_matched = {c.vehicle_id: f"{c.car_number} ({c.how})"
                           for c in identities if c.car_number is not None}
    report.cars_unmatched = [c.vehicle_id for c in identities if c.car_number is None]


def _cars_table(race_id: str, identities: list[CarIdentity], results: pl.DataFrame | None,
                sections: pl.DataFrame | None) -> pl.DataFrame:
    info = pl.DataFrame(schema={"car_number": pl.Int32, "class": pl.String, "team": pl.String})
    for source in (results, sections):
        if source is not None:
            more = source.select(pl.col("car_number").cast(pl.Int32), "class", "team") \
                .unique("car_number", keep="first")
            info = pl.concat([info, more]).unique("car_number", keep="first", maintain_order=True)
    cars = pl.DataFrame(
        {"race_id": [race_id] * len(identities),
         "vehicle_id": [c.vehicle_id for c in identities],
         "chassis": [c.chassis for c in identities],
         "car_number": [c.car_number for c in identities]},
        schema={"race_id": pl.String, "vehicle_id": pl.String, "chassis": pl.String,
                "car_number": pl.Int32},
    )
    return cars.join(info, on="car_number", how="left").select(TABLES["cars"].names()) \
        .cast(TABLES["cars"]).sort("vehicle_id")


def _with_race(race_id: str, frame: pl.DataFrame | None, table: str) -> pl.DataFrame:
    if frame is None:
        return empty(table)
    schema = TABLES[table]
    return frame.with_columns(pl.lit(race_id).alias("race_id")).select(schema.names()) \
        .cast(schema)


__all__ = ["Progress", "build_race", "ingest", "race_event"]
