"""Official results: the overall (``00_``/``03_``) and by-class (``05_``) files.

A race may come with several results files: provisional and official, overall and by
class, sometimes byte-identical, sometimes not (a penalty moves a car between the
provisional and the official file). The lake's results come from the most trusted one
(``grouping.result_rank``: official, then unmarked, then provisional; overall before
by class at one level); a column that file lacks (``STATUS`` is not in the by-class
layout) is filled from the next file for the same car. A file that does not parse is
skipped with a note and the next one is used.

The two layouts:

* overall: ``POSITION;NUMBER;STATUS;LAPS;TOTAL_TIME;GAP_FIRST;...;FL_LAPNUM;FL_TIME;
  FL_KPH;[TEAM;]CLASS;...`` (``POSITION`` may read ``1.0``; empty for a car that did not
  start);
* by class: ``CLASS_TYPE;POS;PIC;NUMBER;[TEAM;]VEHICLE;[DRIVER;]LAPS;ELAPSED;GAP_FIRST;
  GAP_PREVIOUS;BEST_LAP_NUM;BEST_LAP_TIME;BEST_LAP_KPH`` (``POS`` is the overall place).

Gaps read ``-``, ``+2.740``, ``+1'19.754`` (minutes after an apostrophe), ``1 Lap``,
``14 Laps`` or empty; a gap in laps has no time and is missing in ``gap_first_s``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import polars as pl

from cognirace.domain.laptime import parse_duration_s
from cognirace.errors import DataError, SchemaError
from cognirace.ingest.sections import DUPLICATE_MARK
from cognirace.ingest.textfile import (
    LINE,
    read_table,
    require,
    to_duration_s,
    to_float,
    to_int,
    to_text,
)

RESULTS_FRAME = pl.Schema(
    {
        "car_number": pl.String(), "position": pl.Int32(), "status": pl.String(),
        "laps": pl.Int32(), "total_time_s": pl.Float64(), "gap_first_s": pl.Float64(),
        "fl_lap": pl.Int32(), "fl_time_s": pl.Float64(), "fl_kph": pl.Float64(),
        "class": pl.String(), "team": pl.String(), "driver": pl.String(),
    }
)
"""What ``read_results`` returns: the lake's results columns without ``race_id``, plus
``team`` and ``driver`` (null where the file names none: the anonymized layout)."""

Reader = Callable[[pl.DataFrame, str, Path], pl.Series]


def _driver(raw: pl.DataFrame) -> pl.Series:
    """The driver's name: ``DRIVER`` in the by-class layout, else ``DRIVER_FIRSTNAME``
    and ``DRIVER_SECONDNAME`` in the overall one (a provisional file that kept them,
    Sonoma R2's); null where the file names nobody."""
    parts = pl.concat_str([to_text(raw, "DRIVER_FIRSTNAME"), to_text(raw, "DRIVER_SECONDNAME")],
                          separator=" ", ignore_nulls=True)
    return pl.select(pl.coalesce(to_text(raw, "DRIVER"), pl.when(parts != "").then(parts))
                     ).to_series().alias("driver")

_LAYOUTS = {
    "overall": {"position": "POSITION", "total": "TOTAL_TIME", "fl_lap": "FL_LAPNUM",
                "fl_time": "FL_TIME", "fl_kph": "FL_KPH", "class": "CLASS"},
    "class": {"position": "POS", "total": "ELAPSED", "fl_lap": "BEST_LAP_NUM",
              "fl_time": "BEST_LAP_TIME", "fl_kph": "BEST_LAP_KPH", "class": "CLASS_TYPE"},
}


def gap_s(text: str | None) -> float | None:
    """A gap in seconds; ``None`` for the leader, missing values and gaps in laps.

    Raises:
        ValueError: when the text is none of the gap forms.
    """
    if text is None or "lap" in text.lower():
        return None
    return parse_duration_s(text.replace("'", ":"))


def _gaps(raw: pl.DataFrame, path: Path) -> pl.Series:
    if "GAP_FIRST" not in raw.columns:
        return pl.Series("gap_first_s", [None] * raw.height, dtype=pl.Float64())
    out: list[float | None] = []
    for value, line in zip(raw["GAP_FIRST"], raw[LINE], strict=True):
        try:
            out.append(gap_s(value))
        except ValueError:
            raise SchemaError("cannot read a gap", path=path, line=line, column="GAP_FIRST",
                              value=value, hint="expected -, +s.fff, +m'ss.fff or n Laps"
                              ) from None
    return pl.Series("gap_first_s", out, dtype=pl.Float64())


def read_results(path: Path, dropped: Counter[str]) -> pl.DataFrame:
    """One results file, either layout, as ``RESULTS_FRAME`` with ``car_number`` the
    number as printed.

    Raises:
        SchemaError: naming file, line and column when a field does not parse.
    """
    raw = read_table(path)
    layout = _LAYOUTS["overall" if "POSITION" in raw.columns else "class"]
    require(raw, (layout["position"], "NUMBER", "LAPS"), path)
    before = raw.height
    raw = raw.drop_nulls(["NUMBER"])
    if raw.height < before:
        dropped["results: no car number"] += before - raw.height
    f64, i64 = pl.Float64(), pl.Int64()
    frame = pl.DataFrame(
        {
            "car_number": to_text(raw, "NUMBER"),
            "position": to_int(raw, layout["position"], path),
            "status": to_text(raw, "STATUS"),
            "laps": to_int(raw, "LAPS", path),
            "total_time_s": _optional(raw, layout["total"], path, to_duration_s, f64),
            "gap_first_s": _gaps(raw, path),
            "fl_lap": _optional(raw, layout["fl_lap"], path, to_int, i64),
            "fl_time_s": _optional(raw, layout["fl_time"], path, to_duration_s, f64),
            "fl_kph": _optional(raw, layout["fl_kph"], path, to_float, f64),
            "class": to_text(raw, layout["class"]),
            "team": to_text(raw, "TEAM"),
            "driver": _driver(raw),
        }
    ).cast(RESULTS_FRAME)
    return frame.with_columns(
        pl.when(pl.col("position") == 1).then(pl.lit(0.0)).otherwise(pl.col("gap_first_s"))
        .alias("gap_first_s")
    )


def _optional(raw: pl.DataFrame, column: str, path: Path, read: Reader,
              dtype: pl.DataType) -> pl.Series:
    """A column read by ``read``, or all missing when this layout lacks it."""
    if column not in raw.columns:
        return pl.Series(column, [None] * raw.height, dtype=dtype)
    return read(raw, column, path)


def label_cars(results: pl.DataFrame, finals: pl.DataFrame) -> pl.DataFrame:
    """Give results rows of a number two cars share the sections file's labels.

    Args:
        results: From ``read_results``.
        finals: Per sections car: ``car_number`` (label), ``number``, ``laps`` and
            ``elapsed_s`` at its last lap.

    Returns:
        ``results`` with each shared number's rows labelled by the sections car whose
        laps and final elapsed time are closest (``3`` and ``3#2``); other rows as read.
    """
    shared = finals.filter(pl.col("car_number").str.contains(DUPLICATE_MARK, literal=True))
    if shared.is_empty():
        return results
    labels = results["car_number"].to_list()
    for (number,), cars in finals.filter(
            pl.col("number").is_in(shared["number"].implode())).group_by(["number"]):
        rows = [i for i, n in enumerate(labels) if n == number]
        costs = sorted(
            (abs((results["laps"][i] or 0) - lap_count) * 1e6
             + abs((results["total_time_s"][i] or 0.0) - (elapsed or 0.0)), i, label)
            for i in rows for label, lap_count, elapsed in cars.select(
                "car_number", "laps", "elapsed_s").iter_rows()
        )
        done_rows: set[int] = set()
        done_labels: set[str] = set()
        for _, i, label in costs:
            if i not in done_rows and label not in done_labels:
                labels[i] = label
                done_rows.add(i)
                done_labels.add(label)
    return results.with_columns(pl.Series("car_number", labels, dtype=pl.String))


def best_results(paths: list[Path], finals: pl.DataFrame, dropped: Counter[str],
                 notes: list[str]) -> pl.DataFrame | None:
    """The race's results from the most trusted file, gaps filled from the others.

    Args:
        paths: The race's results files, most trusted first.
        finals: See ``label_cars``.
        dropped: Rows dropped by reason, updated in place.
        notes: What was chosen or skipped, appended to.
    """
    frames: list[tuple[Path, pl.DataFrame]] = []
    for path in paths:
        try:
            frames.append((path, label_cars(read_results(path, dropped), finals)))
        except DataError as exc:
            notes.append(f"results: skipped {path.name}: {exc}")
    if not frames:
        return None
    (best_path, best), rest = frames[0], frames[1:]
    notes.append(f"results from {best_path.name}")
    for path, other in rest:
        lacking = [c for c in ("status", "fl_kph", "class", "team", "driver")
                   if best[c].null_count() == best.height and other[c].null_count() < other.height]
        if lacking:
            fill = other.select("car_number", *(pl.col(c).alias(f"_{c}") for c in lacking))
            best = best.join(fill.unique("car_number", keep="first"), on="car_number",
                             how="left", maintain_order="left").with_columns(
                pl.coalesce(c, f"_{c}").alias(c) for c in lacking
            ).drop([f"_{c}" for c in lacking])
            notes.append(f"results: {', '.join(lacking)} from {path.name}")
    return best.sort("position", "car_number", nulls_last=True)


__all__ = ["RESULTS_FRAME", "best_results", "gap_s", "label_cars", "read_results"]
