"""Car identity: chassis from ``vehicle_id``, and the car number, matched where unknown.

Cars are identified by chassis: ``vehicle_id`` is ``GR86-<chassis>-<number>``. The
number is the logged ``vehicle_number`` or the id's suffix; where both say 0 (not
assigned), it is found by matching the car's lap-end times against the sections file.
The match is offset-free: the logger's clock and the timing clock need not agree, so
the car's lap times (differences of consecutive lap ends) are compared with each
candidate's ``LAP_TIME`` lap by lap; the time of day (``HOUR``) only breaks ties.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import polars as pl

MAX_MATCH_COST_S = 0.5
"""Median lap-time disagreement above which a car is left unmatched, seconds."""
TIE_S = 0.05
"""Lap-time costs closer than this are a tie, decided by time of day, seconds."""
MIN_LAPS = 2
"""Fewest laps two sequences must share to be compared."""


@dataclass(frozen=True)
class CarIdentity:
    """How a car's number was found.

    Attributes:
        vehicle_id: As logged.
        chassis: The chassis part of ``vehicle_id``.
        car_number: The number, or ``None`` when it could not be matched.
        how: ``logged``, ``lap times`` or ``unmatched``.
    """

    vehicle_id: str
    chassis: str
    car_number: int | None
    how: str


def chassis_of(vehicle_id: str) -> str:
    """``GR86-002-2`` gives ``002``; an id of another shape is its own chassis."""
    parts = vehicle_id.split("-")
    return parts[1] if len(parts) >= 3 else vehicle_id


def logged_number(vehicle_id: str, logged: int | None) -> int:
    """The logged number, else the id's suffix; 0 when neither is assigned."""
    if logged:
        return logged
    suffix = vehicle_id.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


def lap_cost(ends_s: dict[int, float], lap_times_s: dict[int, float]) -> float | None:
    """Median |logged lap time - timed lap time| over the laps both know, seconds.

    Args:
        ends_s: Lap-end time by lap, seconds on the logger's clock.
        lap_times_s: Official lap time by lap, seconds.
    """
    diffs = [
        abs((ends_s[lap] - ends_s[lap - 1]) - lap_times_s[lap])
        for lap in ends_s
        if lap - 1 in ends_s and lap in lap_times_s
    ]
    return statistics.median(diffs) if len(diffs) >= MIN_LAPS else None


def hour_cost(ends_s: dict[int, float], hours_s: dict[int, float]) -> float:
    """Median distance between lap-end time of day and the ``HOUR`` column, seconds."""
    diffs = []
    for lap, end in ends_s.items():
        if lap in hours_s:
            d = abs(end % 86400.0 - hours_s[lap])
            diffs.append(min(d, 86400.0 - d))
    return statistics.median(diffs) if diffs else float("inf")


def match_numbers(
    unresolved: dict[str, dict[int, float]], sections: pl.DataFrame, taken: set[int]
) -> dict[str, int]:
    """Assign numbers to cars logged without one, greedily by lowest cost.

    Args:
        unresolved: Lap-end times (epoch seconds) by lap, per ``vehicle_id``.
        sections: From ``timing.read_sections``.
        taken: Numbers already held by cars that logged theirs.

    Returns:
        The number of each car that could be matched.
    """
    candidates: dict[int, tuple[dict[int, float], dict[int, float]]] = {}
    for (number,), car in sections.group_by(["car_number"]):
        if number in taken:
            continue
        timed = car.drop_nulls("lap_time_s")
        hourly = car.drop_nulls("hour_s")
        candidates[int(number)] = (
            dict(zip(timed["lap"], timed["lap_time_s"], strict=True)),
            dict(zip(hourly["lap"], hourly["hour_s"], strict=True)),
        )
    scored = []
    for vehicle_id, ends in unresolved.items():
        for number, (times, hours_s) in candidates.items():
            cost = lap_cost(ends, times)
            if cost is not None and cost <= MAX_MATCH_COST_S:
                scored.append((round(cost / TIE_S), hour_cost(ends, hours_s), vehicle_id, number))
    matched: dict[str, int] = {}
    for _, _, vehicle_id, number in sorted(scored):
        if vehicle_id not in matched and number not in matched.values():
            matched[vehicle_id] = number
    return matched


def identify(
    logged: dict[str, int], ends: pl.DataFrame, sections: pl.DataFrame | None
) -> list[CarIdentity]:
    """The identity of every car of a race.

    Args:
        logged: Logged ``vehicle_number`` per ``vehicle_id`` (0 where unassigned).
        ends: Lap ends, columns ``vehicle_id, lap, lap_end`` (UTC).
        sections: The sections file, or ``None`` when the race lacks it.
    """
    numbers = {v: logged_number(v, n) for v, n in logged.items()}
    unresolved_ids = [v for v, n in numbers.items() if n == 0]
    matched: dict[str, int] = {}
    if unresolved_ids and sections is not None and ends.height:
        epoch = ends.filter(pl.col("vehicle_id").is_in(unresolved_ids)).drop_nulls("lap_end")
        unresolved: dict[str, dict[int, float]] = {v: {} for v in unresolved_ids}
        for vid, lap, end in epoch.select(
            "vehicle_id", "lap", pl.col("lap_end").dt.epoch("us") / 1e6
        ).iter_rows():
            unresolved[vid][int(lap)] = float(end)
        taken = {n for n in numbers.values() if n}
        matched = match_numbers(unresolved, sections, taken)
    out = []
    for vid in sorted(numbers):
        number = numbers[vid] or matched.get(vid)
        how = "logged" if numbers[vid] else ("lap times" if number else "unmatched")
        out.append(CarIdentity(vid, chassis_of(vid), number, how))
    return out


__all__ = [
    "MAX_MATCH_COST_S",
    "CarIdentity",
    "chassis_of",
    "hour_cost",
    "identify",
    "lap_cost",
    "logged_number",
    "match_numbers",
]
