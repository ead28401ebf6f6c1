"""The ingest from or into a URL: race files in a bucket, a lake in a bucket.

``ingest_at`` is ``parallel.ingest_on`` for a source or a lake at a URL
(``s3://bucket/season``, ``gs://bucket/lake``), on nodes that share no volume.

Planning, in the driver: race files are recognised and grouped by their first lines
alone (``discover`` reads at most a file's first ``HEAD_BYTES``), so the driver lists
the source, downloads the head of each candidate file into a local mirror of the same
tree and plans on the mirror exactly as a local ingest plans on the folder; race ids
take the lake's races table into account as locally. The files a pending marker lists
(a race still being published, or left half-published: see ``scale.remote``) are left
out, and named to the caller.

Each race, on a worker: downloads its own files into a scratch folder on its node, is
built by the code that builds a local race (``parallel.build_piece``), records the URL
of its folder as its ``source_dir`` (so the truth beside simulated races is found from
the lake), and is staged whole: in the batch folder of a local lake, or on its node and
then uploaded to the batch of a lake at a URL (``lake.remote.stage_race_at``).

The commit, in the driver, once every race is staged: ``lake.batch.commit_races`` for a
local lake, ``lake.remote.commit_batch`` for a lake at a URL. The lake's tables are
then the ones a local ingest of the same files writes, but for ``source_dir``.
"""

from __future__ import annotations

import functools
import json
import posixpath
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from cognirace.errors import DataError
from cognirace.ingest.grouping import RaceFiles, discover
from cognirace.ingest.parallel import RacePiece, build_piece
from cognirace.ingest.pipeline import plan_ingest
from cognirace.ingest.raceid import RaceKey, assign_race_ids
from cognirace.ingest.report import RaceReport
from cognirace.lake import batch as local_batch
from cognirace.lake.layout import LakeLayout
from cognirace.lake.remote import commit_batch, fetch_tables, new_batch, stage_race_at
from cognirace.lake.schema import empty
from cognirace.lake.writer import RaceTables
from cognirace.scale import Engine, in_order
from cognirace.scale.remote import (
    download,
    is_hidden,
    list_files,
    node_scratch,
    pending_files,
    remove,
)
from cognirace.scale.storage import Location

HEAD_BYTES = 8192
"""Bytes of each file the planning reads: ``discover.first_row``'s, the most it reads."""
SUFFIXES = (".csv", ".txt")
"""Names of the files ``discover`` considers."""


@dataclass(frozen=True)
class UrlRacePiece:
    """One race to ingest from anywhere.

    Attributes:
        race: Its files; relative to the source folder when ``source`` is given.
        race_id: The id it gets in the lake.
        source: The source folder at a URL, or None when ``race``'s paths are local.
        source_dir: What the lake records as the race's folder (its URL).
    """

    race: RaceFiles
    race_id: str
    source: Location | None
    source_dir: str


@dataclass(frozen=True)
class IngestRun:
    """What ``ingest_at`` did.

    Attributes:
        reports: The quality report of each race, in ingest order.
        pending: Files left out because a pending marker lists them, by marker.
    """

    reports: list[RaceReport]
    pending: dict[str, list[str]]


UrlStage = Callable[[Location, bool, UrlRacePiece], RaceReport]
"""Builds and stages one race: ``stage(batch, strict, piece)``; ``stage_url_piece``."""


def rebase(race: RaceFiles, old: Path, new: Path) -> RaceFiles:
    """``race`` with every path under ``old`` moved under ``new``."""
    def moved(path: Path) -> Path:
        return new / path.relative_to(old)

    return replace(race, source_dir=moved(race.source_dir),
                   files={kind: [moved(p) for p in paths] for kind, paths in race.files.items()},
                   folders=[moved(p) for p in race.folders], notes=list(race.notes))


def with_source_dir(tables: RaceTables, source_dir: str) -> RaceTables:
    """The race's tables and report with ``source_dir`` as the folder it was read from."""
    races = tables.tables["races"].with_columns(pl.lit(source_dir).alias("source_dir"))
    report = RaceReport.from_dict(json.loads(tables.report_json))
    report.source_dir = source_dir
    return replace(tables, tables={**tables.tables, "races": races},
                   report_json=report.to_json())


def stage_url_piece(batch: Location, strict: bool, piece: UrlRacePiece) -> RaceReport:
    """Fetch, build and stage one race (runs on a worker; see the module docstring)."""
    with node_scratch() as scratch:
        race = piece.race
        if piece.source is not None:
            rels = sorted({p.as_posix() for paths in race.files.values() for p in paths})
            download(piece.source, rels, scratch / "files")
            race = rebase(race, Path(), scratch / "files")
        built = build_piece(RacePiece(race, piece.race_id), strict)
        if isinstance(built, RaceReport):
            return replace(built, source_dir=piece.source_dir)
        tables = with_source_dir(built, piece.source_dir)
        if batch.local is not None:
            local_batch.stage_race(batch.local, tables)
        else:
            stage_race_at(batch, tables, scratch)
        return RaceReport.from_dict(json.loads(tables.report_json))


def plan_at(source: Location, existing: pl.DataFrame, mirror: Path
            ) -> tuple[list[UrlRacePiece], dict[str, list[str]]]:
    """The races under ``source`` (a URL) with their ids, planned on a mirror of heads.

    Args:
        source: The folder of race files.
        existing: The lake's races table.
        mirror: An empty local folder for the heads.

    Returns:
        The pieces, and the files left out by pending markers.

    Raises:
        DataError: when the source holds no race file.
    """
    listing = list_files(source, hidden=True)
    pending = pending_files(source, listing)
    left_out = {rel for files in pending.values() for rel in files}
    wanted = [rel for rel in listing if not is_hidden(rel) and rel not in left_out
              and posixpath.splitext(rel)[1].lower() in SUFFIXES]
    top = mirror.resolve() / (posixpath.basename(source.root) or "source")
    sizes = [min(int(listing[rel].get("size") or 0), HEAD_BYTES) for rel in wanted]
    ranged = [(rel, size) for rel, size in zip(wanted, sizes, strict=True) if size]
    heads = source.fs.cat_ranges([source.path(rel) for rel, _ in ranged],
                                 [0] * len(ranged), [size for _, size in ranged],
                                 on_error="raise")
    found = dict(zip((rel for rel, _ in ranged), heads, strict=True))
    for rel in wanted:
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_bytes(found.get(rel, b""))
    try:
        planned = discover(top) if wanted else []
    except DataError:
        planned = []
    if not planned:
        raise DataError("no race files found", path=source.url,
                        hint="point SRC at a folder holding Hack-the-Track CSV files")
    root_url = source.url_of(source.root)
    races = [_relative(race, top, root_url) for race in planned]
    urls = [_url(source, race.source_dir) for race in races]
    keys = [RaceKey(r.track, r.session, r.date, url) for r, url in zip(races, urls, strict=True)]
    ids = assign_race_ids(keys, existing)
    return ([UrlRacePiece(race, race_id, source, url)
             for race, race_id, url in zip(races, ids, urls, strict=True)], pending)


def _relative(race: RaceFiles, top: Path, root_url: str) -> RaceFiles:
    """A mirror's race with paths relative to the source, its notes naming URLs."""
    moved = rebase(race, top, Path())
    moved.notes = [note.replace(str(top), root_url) for note in race.notes]
    return moved


def _url(source: Location, rel: Path) -> str:
    path = source.path(rel.as_posix()) if rel.parts else source.root
    return source.url_of(path)


def ingest_at(engine: Engine, src: Location, lake: Location, *, strict: bool = False,
              on_race: Callable[[RaceReport], None] | None = None,
              stage: UrlStage = stage_url_piece) -> IngestRun:
    """Ingest every race under ``src`` into ``lake``, either or both at a URL.

    Args:
        engine: Where the races are built.
        src: The folder of race files.
        lake: The lake (created if needed).
        strict: Raise the first race's data error; nothing is written then.
        on_race: Called with each race's report as its piece finishes.
        stage: Builds and stages one race (``stage_url_piece``).

    Raises:
        DataError: when the source holds no race file, or (``strict``) a race's error.
    """
    with node_scratch() as work:
        if lake.local is not None:
            lake_dir = lake.local
            lake_dir.mkdir(parents=True, exist_ok=True)
        else:
            lake_dir = fetch_tables(lake, work / "lake").root
        if src.local is not None:
            pieces = [UrlRacePiece(race, race_id, None, str(race.source_dir))
                      for race, race_id in plan_ingest(src.local, lake_dir)]
            pending: dict[str, list[str]] = {}
        else:
            races = LakeLayout(lake_dir).table("races")
            existing = pl.read_parquet(races) if races.exists() else empty("races")
            pieces, pending = plan_at(src, existing, work / "mirror")
    batch = (Location(str(local_batch.new_batch(lake.local)), what="lake")
             if lake.local is not None else new_batch(lake))
    try:
        reports = in_order(engine.map(functools.partial(stage, batch, strict), pieces),
                           None if on_race is None else lambda _i, report: on_race(report))
        done = [r.race_id for r in reports if r.ok]
        if lake.local is not None and batch.local is not None:
            local_batch.commit_races(lake.local, [batch.local / race_id for race_id in done])
        else:
            commit_batch(lake, batch, done)
    finally:
        if batch.local is not None:
            shutil.rmtree(batch.local, ignore_errors=True)
        else:
            remove(batch)
    return IngestRun(reports, pending)


__all__ = ["HEAD_BYTES", "IngestRun", "UrlRacePiece", "UrlStage", "ingest_at", "plan_at",
           "rebase", "stage_url_piece", "with_source_dir"]
