"""The official lap timing: the ``23_AnalysisEnduranceWithSections`` file.

This file is the authority on laps: which cars ran, how many laps each, their lap and
sector times, the flag at the line and pit-lane crossings. The lake's laps are its rows.

Car numbers are text (``"021"`` and ``"21"`` are two cars at Indianapolis). The
anonymized files of COTA and Sonoma list two cars under one number (``3``: the real
``03`` and ``3`` lost their leading zero), each as its own block of laps 1..n. A new
block of a number starts where its lap numbers stop increasing; the first block keeps
the number, the second is labelled ``3#2`` (``DUPLICATE_MARK``) and the report says so.
Rows that repeat an earlier row field for field are dropped and counted.

``pit_time_s`` sits on the in-lap, the lap that ends in the pit lane (``B``), as the
lake defines it. The timing writes ``PIT_TIME`` there where the stop comes before the
line (VIR), but on the next row, the out lap, where the pit exit comes after it
(Barber); those are moved to the in-lap (``move_pit_times``) and counted.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl

from cognirace.domain.formats import FLAGS
from cognirace.ingest.textfile import (
    LINE,
    read_table,
    require,
    to_duration_s,
    to_float,
    to_int,
    to_text,
)

DUPLICATE_MARK = "#"
"""Joins a shared car number and the block's rank: ``3#2`` is the second car ``3``."""

HEADER_ALIASES = {"INT-1_time": "IM1_time", "INT-1_elapsed": "IM1_elapsed",
                  "INT-2_time": "IM2_time", "INT-2_elapsed": "IM2_elapsed"}
"""Sonoma's names of the intermediate timing points, and the other tracks' names."""

SECTIONS_FRAME = pl.Schema(
    {
        "car_number": pl.String(), "number": pl.String(), "lap": pl.Int64(),
        "lap_time_s": pl.Float64(), "s1_s": pl.Float64(), "s2_s": pl.Float64(),
        "s3_s": pl.Float64(), "flag": pl.String(), "in_pit": pl.Boolean(),
        "pit_time_s": pl.Float64(), "top_speed_kph": pl.Float64(), "elapsed_s": pl.Float64(),
        "hour_s": pl.Float64(), "class": pl.String(), "team": pl.String(),
        "driver": pl.String(), "group": pl.String(), LINE: pl.Int64(),
    }
)
"""What ``read_sections`` returns: one row per car and lap, ``car_number`` the car's
label (the number, or ``3#2`` for a second car under one number), ``number`` as printed,
``hour_s`` the local time of day at the line in seconds."""


def _seconds(raw: pl.DataFrame, plain: str, timed: str, path: Path) -> pl.Series:
    """A time: the plain-seconds column where present, else the ``m:ss.fff`` one."""
    if plain in raw.columns:
        out = to_float(raw, plain, path)
        if timed in raw.columns:
            out = out.fill_null(to_duration_s(raw, timed, path))
        return out.alias(plain)
    if timed in raw.columns:
        return to_duration_s(raw, timed, path)
    return pl.Series(plain or timed, [None] * raw.height, dtype=pl.Float64())


def block_labels(numbers: list[str], laps: list[int]) -> tuple[list[str], dict[str, int]]:
    """The car label of each row, in file order.

    A number's rows form one car while its lap numbers increase; a row whose lap is not
    above the previous one of that number starts the number's next car.

    Returns:
        The labels, and the count of cars per shared number (only numbers shared by two
        or more cars).
    """
    last: dict[str, int] = {}
    rank: dict[str, int] = {}
    out = []
    for number, lap in zip(numbers, laps, strict=True):
        if number in last and lap <= last[number]:
            rank[number] += 1
        rank.setdefault(number, 1)
        last[number] = lap
        out.append(number if rank[number] == 1 else f"{number}{DUPLICATE_MARK}{rank[number]}")
    return out, {n: r for n, r in rank.items() if r > 1}


def read_sections(path: Path, dropped: Counter[str], notes: list[str]) -> pl.DataFrame:
    """The ``23_AnalysisEnduranceWithSections`` file: one row per car and lap.

    Args:
        path: The file.
        dropped: Rows dropped by reason, updated in place.
        notes: Repairs worth telling the user, appended to.

    Raises:
        SchemaError: naming file, line and column when a key field (number, lap) or a
            time does not parse.
    """
    raw = read_table(path, aliases=HEADER_ALIASES)
    require(raw, ("NUMBER", "LAP_NUMBER", "LAP_TIME"), path)
    before = raw.height
    raw = raw.drop_nulls(["NUMBER", "LAP_NUMBER"])
    if raw.height < before:
        dropped["sections: no car or lap number"] += before - raw.height
    fields = [c for c in raw.columns if c != LINE]
    unique = raw.unique(fields, keep="first", maintain_order=True)
    if unique.height < raw.height:
        dropped["sections: repeated rows"] += raw.height - unique.height
        raw = unique
    number = to_text(raw, "NUMBER")
    lap = to_int(raw, "LAP_NUMBER", path)
    labels, shared = block_labels(number.to_list(), lap.to_list())
    for n, cars in shared.items():
        notes.append(f"{cars} cars share number {n} in the sections file; the second is "
                     f"{n}{DUPLICATE_MARK}2" + (" and so on" if cars > 2 else ""))
    flag = to_text(raw, "FLAG_AT_FL").str.to_uppercase()
    unknown = flag.is_not_null() & ~flag.is_in(FLAGS)
    if unknown.any():
        notes.append(f"sections: unknown flags {sorted(set(flag.filter(unknown)))} read as "
                     "missing")
        flag = pl.select(pl.when(unknown).then(pl.lit(None, pl.String)).otherwise(flag)) \
            .to_series()
    frame = pl.DataFrame(
        {
            "car_number": labels, "number": number, "lap": lap,
            "lap_time_s": to_duration_s(raw, "LAP_TIME", path),
            "s1_s": _seconds(raw, "S1_SECONDS", "S1", path),
            "s2_s": _seconds(raw, "S2_SECONDS", "S2", path),
            "s3_s": _seconds(raw, "S3_SECONDS", "S3", path),
            "flag": flag,
            "in_pit": to_text(raw, "CROSSING_FINISH_LINE_IN_PIT").str.to_uppercase()
            .eq("B").fill_null(False),
            "pit_time_s": _seconds(raw, "", "PIT_TIME", path),
            "top_speed_kph": _seconds(raw, "TOP_SPEED", "", path),
            "elapsed_s": _seconds(raw, "", "ELAPSED", path),
            "hour_s": _seconds(raw, "", "HOUR", path),
            "class": to_text(raw, "CLASS"), "team": to_text(raw, "TEAM"),
            "driver": to_text(raw, "DRIVER_NAME"),
            "group": to_text(raw, "GROUP"), LINE: raw[LINE],
        },
        schema=SECTIONS_FRAME,
    )
    frame, moved = move_pit_times(frame.sort("car_number", "lap", maintain_order=True))
    if moved:
        notes.append(f"sections: {moved} pit times moved from the out lap to the in lap "
                     "(the timing writes them where the car left the pit lane)")
    return frame


def move_pit_times(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Put each pit time on the in-lap (``in_pit``) when the timing wrote it on the next
    lap of the same car and the in-lap has none.

    Args:
        frame: Sections rows sorted by car and lap.

    Returns:
        The rows, and how many pit times were moved.
    """
    car = pl.col("car_number")
    next_pit = pl.col("pit_time_s").shift(-1).over(car)
    next_is_out = (pl.col("lap").shift(-1).over(car) == pl.col("lap") + 1) \
        & ~pl.col("in_pit").shift(-1).over(car).fill_null(True)
    move = pl.col("in_pit") & pl.col("pit_time_s").is_null() & next_is_out \
        & next_pit.is_not_null()
    marked = frame.with_columns(move.fill_null(False).alias("_move"))
    moved = int(marked["_move"].sum())
    if not moved:
        return frame, 0
    out = marked.with_columns(
        pl.when(pl.col("_move")).then(next_pit)
        .when(pl.col("_move").shift(1).over(car).fill_null(False)).then(None)
        .otherwise(pl.col("pit_time_s")).alias("pit_time_s"))
    return out.drop("_move"), moved


__all__ = ["DUPLICATE_MARK", "HEADER_ALIASES", "SECTIONS_FRAME", "block_labels",
           "move_pit_times", "read_sections"]
