"""The simulator's ground truth for the races of a lake.

Simulated race folders carry ``truth/R<N>_<table>.parquet`` beside the race files, and
the lake records each race's ``source_dir``, so the truth of a lake race is found
without a second index. Truth serves evaluation and the few targets real data lacks
(fuel, grip, faults); a lake of real races simply has none.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cognirace.lake import Lake

TRUTH_TABLES: tuple[str, ...] = ("laps", "pit_stops", "cautions", "faults", "cars", "race")
"""Truth tables the simulator writes per race."""


def truth_files(source_dir: str, session: str, table: str) -> Path:
    """Where the simulator wrote ``table`` for the race of ``session`` (``R1``/``R2``)."""
    return Path(source_dir) / "truth" / f"{session}_{table}.parquet"


def load_truth(lake: Lake, race_ids: list[str] | None = None) -> dict[str, pl.DataFrame]:
    """The truth tables of the lake's races, keyed by the lake's ``race_id``.

    The simulator's own race id is kept as ``truth_race_id``; car numbers are the true
    numbers, as the lake resolves them. Races without truth (real data) are skipped, so
    every table may be empty.

    Args:
        lake: An open lake.
        race_ids: Only these races; all by default.
    """
    races = lake.races
    if race_ids is not None:
        races = races.filter(pl.col("race_id").is_in(race_ids))
    parts: dict[str, list[pl.DataFrame]] = {t: [] for t in TRUTH_TABLES}
    for race_id, source_dir, session in races.select(
            "race_id", "source_dir", "session").iter_rows():
        for table in TRUTH_TABLES:
            path = truth_files(source_dir, session, table)
            if not path.is_file():
                continue
            frame = pl.read_parquet(path).rename({"race_id": "truth_race_id"})
            parts[table].append(frame.with_columns(pl.lit(race_id).alias("race_id")))
    return {t: pl.concat(p, how="diagonal_relaxed") if p else pl.DataFrame()
            for t, p in parts.items()}


__all__ = ["TRUTH_TABLES", "load_truth", "truth_files"]
