"""The lake's laps table, and which source wins where the lap files and timing disagree.

The rule: **the official timing (the sections file) decides.** The cars it lists are
the race's cars, its rows are the laps, and its lap and sector times, flag at the line,
pit-lane crossings and pit times are the values. The lap files and the telemetry only
say which logged car (``vehicle_id``) each timing car is (``cars``) and are compared
with the timing: a lap event of the lap files that no official crossing of its car
matches within ``SAME_CROSSING_S`` is reported as a lap only the lap files know, not
added; lap times of 0 or below in the lap files are never used.

A lap's start and end are real (UTC) times from the timing: ``HOUR`` is the local time
of day at the line at the track (``Track.timezone``), ``ELAPSED`` the race time at the
line, so the race starts at ``HOUR - ELAPSED`` (their median over the race's rows) and a
lap ends at start + ``ELAPSED`` and starts a lap time earlier.

Only a race without a sections file takes its laps from the lap files
(``lap_file_laps``): their numbers are made plausible and increasing
(``repair_lap_sequence``), lap times come from the lap time file or end minus start,
and laps of 0 s or less or longer than ``MAX_LAP_S`` are dropped.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from cognirace.ingest.cars import collapse
from cognirace.lake.schema import LAPS, UTC_TIME

MAX_LAP = 500
"""No race of the series comes near this many laps; anything above is a logger glitch."""
SAME_CROSSING_S = 3.0
"""A lap event at least this close to an official crossing of its car (after the race's
beacon offset) is that crossing, s; a quarter of the shortest lap where that is more."""
MAX_LAP_S = 1200.0
"""A lap-file lap longer than this (20 minutes) is a glitch, not a lap."""
RACE_MARGIN_S = 120.0
"""Lap events this long before the start or after the last crossing still belong to
the race (out and in laps); further ones are another session's."""


def race_day(tz: str, event_times: pl.Series | None, weather_times: pl.Series | None,
             event_date: dt.date | None) -> dt.date | None:
    """The local date the race ran on: from the lap files' times, else the weather's,
    else the event's date (its Sunday, which may be a day late for Race 1)."""
    for times in (event_times, weather_times):
        if times is not None and times.len() and times.null_count() < times.len():
            middle = times.drop_nulls().sort()[times.drop_nulls().len() // 2]
            assert isinstance(middle, dt.datetime)
            return middle.astimezone(ZoneInfo(tz)).date()
    return event_date


def official_times(sections: pl.DataFrame, tz: str, day: dt.date | None) -> pl.DataFrame:
    """``sections`` with ``lap_start`` and ``lap_end`` in UTC (missing without a day or
    without ``HOUR``)."""
    offset = sections.select((pl.col("hour_s") - pl.col("elapsed_s")).median()).item()
    if day is None or offset is None:
        return sections.with_columns(pl.lit(None, dtype=UTC_TIME).alias("lap_start"),
                                     pl.lit(None, dtype=UTC_TIME).alias("lap_end"))
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(tz))
    start = (midnight + dt.timedelta(seconds=float(offset))).astimezone(dt.UTC)
    local_midnight_utc = midnight.astimezone(dt.UTC)
    end = pl.coalesce(
        pl.lit(start).cast(UTC_TIME) + pl.duration(
            microseconds=(pl.col("elapsed_s") * 1e6).round().cast(pl.Int64)),
        pl.lit(local_midnight_utc).cast(UTC_TIME) + pl.duration(
            microseconds=(pl.col("hour_s") * 1e6).round().cast(pl.Int64)),
    )
    return sections.with_columns(end.alias("lap_end")).with_columns(
        (pl.col("lap_end") - pl.duration(
            microseconds=(pl.col("lap_time_s") * 1e6).round().cast(pl.Int64)))
        .alias("lap_start"))


def crossings_of(timed: pl.DataFrame) -> pl.DataFrame:
    """Every official line crossing per timing car: each lap's end and lap 1's start."""
    ends = timed.select("car_number", pl.col("lap_end").alias("time"))
    starts = timed.filter(pl.col("lap") == pl.col("lap").min().over("car_number")).select(
        "car_number", pl.col("lap_start").alias("time"))
    return pl.concat([starts, ends]).drop_nulls().unique().sort("car_number", "time")


LAP_END_EVENTS = ("official crossings", "laps only the lap files know (not added)",
                  "outside the race", "repeats of one crossing", "cars the timing does not list")
"""What each event of a lap end file turned out to be (``compare_lap_files``)."""


def compare_lap_files(ends: pl.DataFrame, official: pl.DataFrame, matched: dict[str, str],
                      offset_s: float) -> dict[str, int]:
    """Sort every lap-end event of the lap files into ``LAP_END_EVENTS``.

    Events of one car within ``REPEAT_S`` are one crossing logged several times. An
    event is an official lap when an official crossing of its car, moved by the race's
    beacon offset, is within a quarter of the race's shortest lap (or
    ``SAME_CROSSING_S``); a second event near the same crossing is a repeat. Any other
    event is a lap only the lap files know (an out lap, a crossing the timing did not
    count), reported and never added.

    Args:
        ends: ``vehicle_id, time`` of the lap end file's events.
        official: ``car_number, time`` of the official crossings.
        matched: Timing car by ``vehicle_id``.
        offset_s: Lap events' offset after the official line (``cars.race_offset``).

    Returns:
        The count of each kind; they add up to the events given.
    """
    counts = dict.fromkeys(LAP_END_EVENTS, 0)
    if official.is_empty():
        counts["outside the race"] = ends.height
        return counts
    first, last = official["time"].min(), official["time"].max()
    assert isinstance(first, dt.datetime) and isinstance(last, dt.datetime)
    margin = dt.timedelta(seconds=RACE_MARGIN_S)
    inside = ends.filter(pl.col("time").is_between(first - margin, last + margin))
    counts["outside the race"] = ends.height - inside.height
    by_car = {str(c): np.sort(p["time"].dt.epoch("us").to_numpy() / 1e6) + offset_s
              for (c,), p in official.group_by(["car_number"])}
    gaps = np.concatenate([np.diff(t) for t in by_car.values() if len(t) > 1]
                          or [np.array([4.0])])
    tolerance = max(SAME_CROSSING_S, float(np.min(gaps)) / 4)
    for (vid,), part in inside.group_by(["vehicle_id"]):
        logged = collapse(part["time"].dt.epoch("us").to_numpy() / 1e6)
        counts["repeats of one crossing"] += part.height - len(logged)
        car = matched.get(str(vid))
        if car is None:
            counts["cars the timing does not list"] += len(logged)
            continue
        times = by_car.get(car, np.empty(0))
        if not len(times):
            counts["laps only the lap files know (not added)"] += len(logged)
            continue
        i = np.clip(np.searchsorted(times, logged), 1, max(len(times) - 1, 1))
        left = np.clip(i - 1, 0, len(times) - 1)
        right = np.clip(i, 0, len(times) - 1)
        nearest = np.where(np.abs(logged - times[left]) <= np.abs(logged - times[right]),
                           left, right)
        close = np.abs(logged - times[nearest]) <= tolerance
        official_hit = len(np.unique(nearest[close]))
        counts["official crossings"] += official_hit
        counts["repeats of one crossing"] += int(close.sum()) - official_hit
        counts["laps only the lap files know (not added)"] += int((~close).sum())
    return counts


def official_laps_table(race_id: str, timed: pl.DataFrame, vehicles: dict[str, str]
                        ) -> pl.DataFrame:
    """The lake's laps: one row per sections row, with the matched ``vehicle_id``.

    Args:
        race_id: The race.
        timed: From ``official_times``.
        vehicles: ``vehicle_id`` by timing car.
    """
    mapping = pl.DataFrame({"car_number": list(vehicles), "vehicle_id": list(vehicles.values())},
                           schema={"car_number": pl.String, "vehicle_id": pl.String})
    out = timed.join(mapping, on="car_number", how="left").with_columns(
        pl.lit(race_id).alias("race_id"), pl.lit(False).alias("repaired"))
    return to_schema(out)


def repair_lap_sequence(laps: list[int | None]) -> tuple[list[int], int]:
    """Make one car's lap numbers (in time order) plausible and strictly increasing.

    A number is trusted when it is plausible (``0..MAX_LAP``) and above the previous
    one; otherwise it is the previous lap plus one, which is what the order in time says.

    Returns:
        The repaired numbers and how many were changed.
    """
    good = [lap is not None and 0 <= lap <= MAX_LAP for lap in laps]
    out: list[int] = []
    repaired = 0
    for i, lap in enumerate(laps):
        prev = out[-1] if out else None
        if good[i] and lap is not None and (prev is None or lap > prev):
            out.append(lap)
            continue
        if prev is not None:
            out.append(prev + 1)
        else:
            later = next((j for j in range(i + 1, len(laps)) if good[j]), None)
            start = laps[later] if later is not None else None
            out.append(max(0, start - (later - i)) if start is not None and later else 1)
        repaired += 1
    return out, repaired


def repair_events(events: pl.DataFrame) -> pl.DataFrame:
    """Repair the ``lap`` of lap events (sorted by car and time), adding ``repaired``."""
    parts: list[pl.DataFrame] = []
    for (_,), car in events.group_by(["vehicle_id"], maintain_order=True):
        fixed, _ = repair_lap_sequence(car["lap"].to_list())
        parts.append(car.with_columns(
            pl.Series("lap", fixed, dtype=pl.Int64),
            (pl.Series(fixed, dtype=pl.Int64) != car["lap"]).fill_null(True).alias("repaired"),
        ))
    if not parts:
        return events.with_columns(pl.lit(False).alias("repaired"))
    return pl.concat(parts)


def lap_file_laps(race_id: str, events: dict[str, pl.DataFrame], numbers: dict[str, str],
                  dropped: Counter[str]) -> pl.DataFrame:
    """Laps from the lap files alone, for a race without official timing.

    Args:
        race_id: The race.
        events: Repaired lap events by family (``lap_start``, ``lap_end``, ``lap_time``).
        numbers: Car number by ``vehicle_id`` (matched cars only).
        dropped: Rows dropped by reason, updated in place.
    """
    keys = ["vehicle_id", "lap"]
    pieces = [events[name].select(*keys, pl.col("time").alias(name),
                                  pl.col("repaired").alias(f"r_{name}"))
              for name in ("lap_start", "lap_end") if name in events]
    if "lap_time" in events:
        pieces.append(events["lap_time"].select(
            *keys, (pl.col("value_ms") / 1000.0).alias("logged_s"),
            pl.col("repaired").alias("r_time")))
    out = pieces[0].unique(keys, keep="first")
    for piece in pieces[1:]:
        out = out.join(piece.unique(keys, keep="first"), on=keys, how="full", coalesce=True)
    for name in ("lap_start", "lap_end"):
        if name not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=UTC_TIME).alias(name))
    flags = [c for c in out.columns if c.startswith("r_")]
    out = out.sort(keys).with_columns(
        pl.col("lap_start").fill_null(pl.col("lap_end").shift(1).over("vehicle_id")),
        pl.col("lap_end").fill_null(pl.col("lap_start").shift(-1).over("vehicle_id")),
        pl.any_horizontal([pl.col(c).fill_null(False) for c in flags]).alias("repaired"),
    )
    span = (pl.col("lap_end") - pl.col("lap_start")).dt.total_microseconds() / 1e6
    logged = pl.col("logged_s") if "logged_s" in out.columns else pl.lit(None, pl.Float64)
    good = pl.when(logged.is_between(0.0, MAX_LAP_S, closed="none")).then(logged)
    out = out.with_columns(pl.coalesce(good, span).alias("lap_time_s"))
    bad = ~pl.col("lap_time_s").is_between(0.0, MAX_LAP_S, closed="none").fill_null(False)
    n_bad = out.filter(bad).height
    if n_bad:
        dropped["laps: no lap time above 0 s and under 20 min"] += n_bad
    mapping = pl.DataFrame({"vehicle_id": list(numbers), "car_number": list(numbers.values())},
                           schema={"vehicle_id": pl.String, "car_number": pl.String})
    out = out.filter(~bad).join(mapping, on="vehicle_id", how="left")
    return to_schema(out.with_columns(pl.lit(race_id).alias("race_id")))


def to_schema(frame: pl.DataFrame) -> pl.DataFrame:
    """The lake's laps columns in order, missing ones empty, sorted by car and lap."""
    out = [pl.col(name).cast(dtype) if name in frame.columns
           else pl.lit(None, dtype=dtype).alias(name) for name, dtype in LAPS.items()]
    return (
        frame.select(out)
        .with_columns(pl.col("in_pit").fill_null(False), pl.col("repaired").fill_null(False))
        .sort("car_number", "vehicle_id", "lap", nulls_last=True)
    )


__all__ = [
    "LAP_END_EVENTS",
    "MAX_LAP",
    "MAX_LAP_S",
    "RACE_MARGIN_S",
    "SAME_CROSSING_S",
    "compare_lap_files",
    "crossings_of",
    "lap_file_laps",
    "official_laps_table",
    "official_times",
    "race_day",
    "repair_events",
    "repair_lap_sequence",
    "to_schema",
]
