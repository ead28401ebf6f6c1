"""Writing one race into the lake, all or nothing.

Everything of a race is first written under a hidden staging folder inside the lake
(same file system, so renames are atomic): its telemetry partition, the new version
of every table file (other races' rows plus this race's) and its report. Only when
all of it is written are the pieces moved into place by atomic renames, the races
table last; readers list a race only once it is in ``races.parquet``. A failure
before that point leaves the lake as it was, and the staging folder is removed.
Writing a race that is already in the lake replaces it.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cognirace.lake.layout import TABLE_FILES, LakeLayout
from cognirace.lake.schema import assert_schema, empty


@dataclass
class RaceTables:
    """Everything the lake holds for one race.

    Attributes:
        race_id: The race.
        tables: Rows of each per-race table (``races``, ``cars``, ``laps``,
            ``results``, ``weather``), in the lake's schemas.
        telemetry: Wide telemetry in the lake's schema, or ``None`` when the race has none.
        report_json: The quality report.
    """

    race_id: str
    tables: dict[str, pl.DataFrame]
    telemetry: pl.DataFrame | None
    report_json: str


def merged_table(layout: LakeLayout, name: str, race_ids: Sequence[str],
                 rows: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """The table with the old rows of ``race_ids`` replaced by ``rows`` (theirs, in order).

    Sorting by race (stable) makes the result the same whether the races come one
    write at a time or all at once. A column the table gained since the lake was
    written (a driver's name, say) reads as missing in the old rows.
    """
    path = layout.table(name)
    old = pl.read_parquet(path) if path.exists() else empty(name)
    kept = old.filter(~pl.col("race_id").is_in(list(race_ids)))
    schema = empty(name).schema
    if kept.schema != schema:
        kept = kept.select(pl.col(c).cast(t) if c in kept.columns
                           else pl.lit(None, dtype=t).alias(c) for c, t in schema.items())
    return pl.concat([kept, *rows], how="vertical").sort("race_id", maintain_order=True)


def write_telemetry_files(folder: Path, race: RaceTables) -> None:
    """The race's telemetry as one zstd Parquet file per car in ``folder`` (none if empty)."""
    layout = LakeLayout(folder)
    if race.telemetry is not None and race.telemetry.height:
        for (vehicle_id,), part in race.telemetry.group_by(["vehicle_id"], maintain_order=True):
            target = layout.telemetry_file(race.race_id, str(vehicle_id)).name
            part.write_parquet(folder / target, compression="zstd", statistics=True)


def check_race(race: RaceTables) -> None:
    """Refuse tables that do not match the lake's schemas (a bug upstream)."""
    for name, frame in race.tables.items():
        assert_schema(frame, name)
    if race.telemetry is not None:
        assert_schema(race.telemetry, "telemetry")


def write_race(lake: Path, race: RaceTables) -> None:
    """Write (or replace) one race in the lake atomically.

    Raises:
        SchemaError: when a table does not match the lake's schema (a bug upstream).
    """
    layout = LakeLayout(lake)
    check_race(race)
    lake.mkdir(parents=True, exist_ok=True)
    stage = lake / f".staging-{race.race_id}-{uuid.uuid4().hex[:8]}"
    stage.mkdir()
    try:
        _stage(layout, stage, race)
        _commit(layout, stage, race.race_id)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _stage(layout: LakeLayout, stage: Path, race: RaceTables) -> None:
    tel = stage / "telemetry"
    tel.mkdir()
    write_telemetry_files(tel, race)
    for name in TABLE_FILES:
        rows = race.tables.get(name, empty(name))
        merged_table(layout, name, [race.race_id], [rows]).write_parquet(
            stage / f"{name}.parquet")
    (stage / "report.json").write_text(race.report_json, encoding="utf-8")


def _commit(layout: LakeLayout, stage: Path, race_id: str) -> None:
    move_race_files(layout, stage, race_id, stage / "telemetry.old")
    move_tables(layout, stage)


def move_race_files(layout: LakeLayout, staged: Path, race_id: str, old_telemetry: Path) -> None:
    """Move a staged race's telemetry and report into place (an old partition aside)."""
    final = layout.telemetry_dir(race_id)
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        final.rename(old_telemetry)
    if any((staged / "telemetry").iterdir()):
        (staged / "telemetry").rename(final)
    layout.reports_dir.mkdir(exist_ok=True)
    (staged / "report.json").replace(layout.report(race_id))


def move_tables(layout: LakeLayout, stage: Path) -> None:
    """Replace every table file by its staged version, the races table last."""
    for name in (*(n for n in TABLE_FILES if n != "races"), "races"):
        (stage / f"{name}.parquet").replace(layout.table(name))


__all__ = ["RaceTables", "check_race", "merged_table", "move_race_files", "move_tables",
           "write_race", "write_telemetry_files"]
