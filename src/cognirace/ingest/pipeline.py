"""The ingest of a folder of race files into the lake, race by race.

``ingest(src, lake)`` finds the race files under ``src`` (``discover``), groups them into
races (``grouping``), names them (``raceid``), builds each race's tables and report
(``race``) and writes each race atomically. One race that cannot be ingested never
stops the others: its report carries the error and nothing of it is written, unless
``strict`` asks for the first error to be raised (``cognirace --debug ingest``).
Errors that are not about the data (a full disk, a bug) always break through.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl

from cognirace.errors import DataError
from cognirace.ingest.grouping import RaceFiles, discover
from cognirace.ingest.race import build_race
from cognirace.ingest.raceid import RaceKey, assign_race_ids
from cognirace.ingest.report import RaceReport
from cognirace.lake.layout import LakeLayout
from cognirace.lake.schema import empty
from cognirace.lake.writer import write_race

Progress = Callable[[str, str], None]
"""Called with (race label, step) as the ingest advances."""


def ingest(src: Path, lake: Path, *, progress: Progress | None = None,
           strict: bool = False) -> list[RaceReport]:
    """Ingest every race under ``src`` into the lake at ``lake``.

    Args:
        src: A race folder, a track folder or a tree of them (or one file).
        lake: The lake folder (created if needed).
        progress: Called as each step of each race starts.
        strict: Raise the first race's data error instead of reporting it and going on.

    Returns:
        The quality report of each race, in the order ingested; a race that could not
        be ingested has ``error`` set and is not in the lake.

    Raises:
        DataError: when ``src`` holds no race file, or (``strict``) for the first race
            that cannot be ingested (``SchemaError`` names the file, line and column).
    """
    reports = []
    for race, race_id in plan_ingest(src, lake):
        def step(name: str, rid: str = race_id) -> None:
            if progress is not None:
                progress(rid, name)
        try:
            tables = build_race(race, race_id, step)
        except DataError as exc:
            if strict:
                raise
            reports.append(RaceReport(race_id=race_id, source_dir=str(race.source_dir),
                                      notes=list(race.notes), error=str(exc)))
            continue
        step("write")
        write_race(Path(lake), tables)
        reports.append(RaceReport.from_dict(json.loads(tables.report_json)))
    return reports


def plan_ingest(src: Path, lake: Path) -> list[tuple[RaceFiles, str]]:
    """The races under ``src`` with the id each gets in ``lake``, in ingest order.

    Raises:
        DataError: when ``src`` holds no race file.
    """
    # absolute, so the lake's source_dir (and the truth beside simulated races) is found
    # from any working folder
    races = discover(Path(src).resolve())
    keys = [RaceKey(r.track, r.session, r.date, str(r.source_dir)) for r in races]
    races_path = LakeLayout(Path(lake)).table("races")
    existing = pl.read_parquet(races_path) if races_path.exists() else empty("races")
    return list(zip(races, assign_race_ids(keys, existing), strict=True))


__all__ = ["Progress", "ingest", "plan_ingest"]
