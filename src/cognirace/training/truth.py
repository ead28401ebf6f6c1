"""The simulator's ground truth for the races of a lake.

Simulated race folders carry ``truth/R<N>_<table>.parquet`` beside the race files, and
the lake records each race's ``source_dir``, so the truth of a lake race is found
without a second index. Truth serves evaluation and the few targets real data lacks
(fuel, grip, faults); a lake of real races simply has none.

Truth joins the lake on ``race_id`` and ``car_number``, and car numbers are text in
the lake (``"021"`` and ``"21"`` are two cars). The simulator writes them as text; a
truth folder written before it did holds integers, which that simulator also printed
without leading zeros in its timing files, so their decimal text is the lake's number.
``load_truth`` makes every car number column text here, once, so no task converts them.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cognirace.errors import DataError
from cognirace.lake import Lake

TRUTH_TABLES: tuple[str, ...] = ("laps", "pit_stops", "cautions", "faults", "cars", "race")
"""Truth tables the simulator writes per race."""

CAR_NUMBER_COLUMNS: tuple[str, ...] = ("car_number", "cause_car_number")
"""Truth columns holding a race number, read as text."""


def truth_files(source_dir: str, session: str, table: str) -> Path:
    """Where the simulator wrote ``table`` for the race of ``session`` (``R1``/``R2``)."""
    return Path(source_dir) / "truth" / f"{session}_{table}.parquet"


def car_numbers_as_text(frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    """``frame`` with its race number columns as text (see the module docstring).

    Text stays as written. Integers, from a simulator that predates text numbers and
    never padded them, become their decimal text. Anything else cannot be trusted.

    Raises:
        DataError: A car number column is neither text nor integer.
    """
    casts = []
    for name in CAR_NUMBER_COLUMNS:
        dtype = frame.schema.get(name)
        if dtype is None or dtype == pl.String:
            continue
        if not dtype.is_integer():
            raise DataError(f"truth column holds {dtype}, not car numbers", path=path,
                            column=name, hint="car numbers are text (\"021\"); re-simulate "
                                              "the race with `cognirace simulate`")
        casts.append(pl.col(name).cast(pl.String))
    return frame.with_columns(casts) if casts else frame


def load_truth(lake: Lake, race_ids: list[str] | None = None) -> dict[str, pl.DataFrame]:
    """The truth tables of the lake's races, keyed by the lake's ``race_id``.

    The simulator's own race id is kept as ``truth_race_id``; car numbers are the true
    numbers, as text like the lake's. Races without truth (real data) are skipped, so
    every table may be empty.

    Args:
        lake: An open lake.
        race_ids: Only these races; all by default.

    Raises:
        DataError: A truth file's car number column is neither text nor integer.
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
            frame = car_numbers_as_text(pl.read_parquet(path), path)
            frame = frame.rename({"race_id": "truth_race_id"})
            parts[table].append(frame.with_columns(pl.lit(race_id).alias("race_id")))
    return {t: pl.concat(p, how="diagonal_relaxed") if p else pl.DataFrame()
            for t, p in parts.items()}


__all__ = ["CAR_NUMBER_COLUMNS", "TRUTH_TABLES", "car_numbers_as_text", "load_truth",
           "truth_files"]
