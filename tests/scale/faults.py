"""Pieces for the engine tests: one that kills its own worker once, one that reports its
threads.

Imported by Ray's worker processes (the tests put ``tests/`` on their PYTHONPATH), so it
lives in a module of its own rather than in a test file.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from cognirace.ingest.parallel import RacePiece, stage_piece
from cognirace.ingest.report import RaceReport

KILL_AFTER = "laps.parquet"
"""The staged file after which the first attempt dies: half of the race's tables."""


def stage_killed_once(marks: Path, batch: Path, strict: bool, piece: RacePiece) -> RaceReport:
    """``stage_piece``; the first race to get half-way kills its process there.

    ``marks/killed`` (created exclusively, holding the race's id) records the kill, so
    every later attempt, the killed race's retry included, goes through.
    """
    def on_file(path: Path) -> None:
        if path.name != KILL_AFTER:
            return
        try:
            with (marks / "killed").open("x", encoding="utf-8") as mark:
                mark.write(piece.race_id)
        except FileExistsError:
            return
        os.kill(os.getpid(), signal.SIGKILL)

    return stage_piece(batch, strict, piece, on_file=on_file)


def polars_threads(_: object) -> tuple[str | None, int]:
    """What a piece's worker says of its threads: ``POLARS_MAX_THREADS`` and Polars' pool."""
    import polars as pl

    return os.environ.get("POLARS_MAX_THREADS"), pl.thread_pool_size()
