"""The ingest on an engine: one piece of work per race, the lake's tables merged once.

``ingest`` writes race after race into the lake, each race merging every table again.
On a cluster (``cognirace ingest --engine ray``) each race is a piece of work instead:
it reads its files, builds its tables and stages them in a batch folder inside the
lake (``lake.batch.stage_race``: whole or not at all, safe to run twice); the driver
gets back the race's report only, and when every race is done it merges all staged
races into the lake in one commit (``lake.batch.commit_races``). The lake is then the
one ``ingest`` writes from the same folder: the same race ids (given before any piece
runs), the same rows in the same order, the same telemetry files.

Here the source folder and the lake are on storage every worker sees (a shared volume
mounted at the same path on each node); ``ingest.remote`` takes either at a URL.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cognirace.errors import DataError
from cognirace.ingest.grouping import RaceFiles
from cognirace.ingest.pipeline import plan_ingest
from cognirace.ingest.race import build_race
from cognirace.ingest.report import RaceReport
from cognirace.lake.batch import OnFile, commit_races, new_batch, stage_race
from cognirace.lake.writer import RaceTables
from cognirace.scale import Engine, in_order


@dataclass(frozen=True)
class RacePiece:
    """One race to ingest: its files and the id it gets in the lake."""

    race: RaceFiles
    race_id: str


Stage = Callable[[Path, bool, RacePiece], RaceReport]
"""Builds and stages one race: ``stage(batch, strict, piece)``; ``stage_piece`` by default."""


def build_piece(piece: RacePiece, strict: bool) -> RaceTables | RaceReport:
    """One race's tables; or, when its data could not be used, the report saying why.

    Raises:
        DataError: with ``strict``, instead of returning a report.
    """
    race = piece.race
    try:
        return build_race(race, piece.race_id, lambda _step: None)
    except DataError as exc:
        if strict:
            raise
        return RaceReport(race_id=piece.race_id, source_dir=str(race.source_dir),
                          notes=list(race.notes), error=str(exc))


def stage_piece(batch: Path, strict: bool, piece: RacePiece, *,
                on_file: OnFile | None = None) -> RaceReport:
    """Build one race's tables and stage them under ``batch`` (runs on a worker).

    Returns:
        The race's quality report; with ``error`` set when its data could not be used
        (nothing is staged then), unless ``strict`` raised the error instead.
    """
    built = build_piece(piece, strict)
    if isinstance(built, RaceReport):
        return built
    stage_race(batch, built, on_file)
    return RaceReport.from_dict(json.loads(built.report_json))


def ingest_on(engine: Engine, src: Path, lake: Path, *, strict: bool = False,
              on_race: Callable[[RaceReport], None] | None = None,
              stage: Stage = stage_piece) -> list[RaceReport]:
    """Ingest every race under ``src`` into ``lake`` with ``engine`` (see the docstring).

    Args:
        engine: Where the races are built (``scale.open_engine``).
        src: A race folder, a track folder or a tree of them.
        lake: The lake folder (created if needed).
        strict: Raise the first race's data error; nothing is written then.
        on_race: Called with each race's report as its piece finishes.
        stage: Builds and stages one race (``stage_piece``).

    Returns:
        The reports in ``ingest``'s order.
    """
    lake = Path(lake).resolve()
    pieces = [RacePiece(race, race_id) for race, race_id in plan_ingest(src, lake)]
    batch = new_batch(lake)
    try:
        reports = in_order(engine.map(functools.partial(stage, batch, strict), pieces),
                           None if on_race is None else lambda _i, report: on_race(report))
        commit_races(lake, [batch / r.race_id for r in reports if r.ok])
    finally:
        shutil.rmtree(batch, ignore_errors=True)
    return reports


__all__ = ["RacePiece", "Stage", "build_piece", "ingest_on", "stage_piece"]
