"""Writing many races into the lake at once: each staged on its own, all merged once.

When races are built in parallel (``cognirace ingest --engine ray``), each piece of
work stages its race under a batch folder inside the lake: its rows of each table,
its telemetry (one file per car, as in the lake) and its report. A piece stages into
a hidden folder of its own and renames it to the race's name when everything is
written, so a piece killed half-way leaves nothing a commit would take, and a piece
run again replaces what an earlier run of it staged. Nothing of the live lake is
touched by a piece.

``commit_races`` then runs once, in the driver: every table is merged with all the
staged races (``writer.merged_table``, the same rows in the same order as writing the
races one at a time) and written under the batch folder; the telemetry partitions
and reports are moved in, then the tables, the races table last, each by an atomic
rename, as ``write_race`` does for one race. Readers list a race only once it is in
``races.parquet``. Only the small tables pass through the driver; telemetry is renamed.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl

from cognirace.lake.layout import TABLE_FILES, LakeLayout, check_name
from cognirace.lake.schema import empty
from cognirace.lake.writer import (
    RaceTables,
    check_race,
    merged_table,
    move_race_files,
    move_tables,
    write_telemetry_files,
)

OnFile = Callable[[Path], None]
"""Told of each file a staging piece has written (progress, or a test's fault)."""


def new_batch(lake: Path) -> Path:
    """A fresh, hidden batch folder inside the lake (same file system: renames are atomic)."""
    folder = lake / f".batch-{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True)
    return folder


def stage_race(batch: Path, race: RaceTables, on_file: OnFile | None = None) -> Path:
    """Stage one race under ``batch/<race_id>``, whole or not at all.

    Returns:
        The staged race's folder.

    Raises:
        SchemaError: when a table does not match the lake's schema (a bug upstream).
    """
    check_race(race)
    final = batch / check_name(race.race_id, "race id")
    attempt = batch / f".{race.race_id}-{uuid.uuid4().hex[:8]}"
    attempt.mkdir()  # not parents: a batch given up by its driver stays gone
    try:
        (attempt / "telemetry").mkdir()
        write_telemetry_files(attempt / "telemetry", race)
        _told(on_file, attempt / "telemetry")
        for name in TABLE_FILES:
            path = attempt / f"{name}.parquet"
            race.tables.get(name, empty(name)).write_parquet(path)
            _told(on_file, path)
        (attempt / "report.json").write_text(race.report_json, encoding="utf-8")
        if final.exists():  # an earlier run of this piece finished, but its result was lost
            shutil.rmtree(final)
        attempt.rename(final)
    finally:
        shutil.rmtree(attempt, ignore_errors=True)
    return final


def _told(on_file: OnFile | None, path: Path) -> None:
    if on_file is not None:
        on_file(path)


def commit_races(lake: Path, staged: Sequence[Path]) -> None:
    """Merge the staged races into the lake (see the module docstring), in their order.

    Args:
        lake: The lake folder.
        staged: Folders returned by ``stage_race``, all under one batch folder.
    """
    if not staged:
        return
    layout = LakeLayout(lake)
    race_ids = [folder.name for folder in staged]
    work = staged[0].parent / f".commit-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    for name in TABLE_FILES:
        rows = [pl.read_parquet(folder / f"{name}.parquet") for folder in staged]
        merged_table(layout, name, race_ids, rows).write_parquet(work / f"{name}.parquet")
    for index, (race_id, folder) in enumerate(zip(race_ids, staged, strict=True)):
        move_race_files(layout, folder, race_id, work / f"telemetry.old.{index}")
    move_tables(layout, work)
    shutil.rmtree(work, ignore_errors=True)


__all__ = ["OnFile", "commit_races", "new_batch", "stage_race"]
