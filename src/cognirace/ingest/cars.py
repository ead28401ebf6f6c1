"""Car identity: which logged car (``vehicle_id``) is which car of the official timing.

The logger names a car ``GR86-<chassis>-<number>`` and the timing by its number, both as
text, but the two numbers cannot be trusted to agree: the logger pads numbers its own
way (``GR86-002-002`` is car ``2`` at Sonoma), writes ``000`` where no number was
assigned, and at Barber ``GR86-004-78`` runs as timing car ``58``. What does not lie is
when a car crosses the line. So a logged car is the timing car whose line crossings its
lap events meet: for each pair, every official crossing within the logged car's span is
paired with the nearest lap event, and the pair's cost is the median distance left
after the race's common offset (``race_offset``: the logger's lap beacon need not sit
on the timing line; at COTA it fires 7.4 s after it at racing speed). Pairs cheaper than
``MAX_MATCH_COST_S`` are matched cheapest first, unless another free timing car is
within ``AMBIGUOUS_S`` of the same cost (two cars running nose to tail over the few
laps a logger recorded): then the logged car stays unmatched rather than guessed. A
logged car with too few crossings to compare (a telemetry head of a few seconds) falls
back to its number: the timing car
whose number is its number as text (``03`` is not ``3``), else the one whose number has
the same value (``078`` is ``78``), when that is one car not yet matched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

FloatArray = npt.NDArray[np.float64]

MAX_MATCH_COST_S = 0.4
"""Median distance between offset-corrected crossings above which two cars differ, s.
The same car scores 0.02 to 0.15 s on the real races (up to 0.31 s at COTA, where the
beacon's offset grows under caution); a car running right behind it 0.2 s more."""
AMBIGUOUS_S = 0.1
"""A match is refused when another free timing car scores within this of it, s."""
MIN_CROSSINGS = 3
"""Fewest shared crossings on which two cars are compared."""
SPAN_MARGIN_S = 30.0
"""Official crossings this far outside a logged car's events still count as shared, s."""
REPEAT_S = 2.0
"""Lap events of one car closer than this are one crossing logged more than once, s."""


@dataclass(frozen=True)
class CarIdentity:
    """How a logged car's timing car was found.

    Attributes:
        vehicle_id: As logged.
        chassis: The chassis part of ``vehicle_id``.
        car_number: The timing's car (its number, or ``3#2`` for a second car ``3``), or
            ``None`` when it could not be matched.
        how: ``line crossings``, ``logged number``, ``number value`` or ``unmatched``.
        cost_s: Median crossing distance to the car matched, when measured, seconds.
    """

    vehicle_id: str
    chassis: str
    car_number: str | None
    how: str
    cost_s: float | None = None


def chassis_of(vehicle_id: str) -> str:
    """``GR86-002-2`` gives ``002``; an id of another shape is its own chassis."""
    parts = vehicle_id.split("-")
    return parts[1] if len(parts) >= 3 else vehicle_id


def same_value(a: str, b: str) -> bool:
    """Whether two number texts have the same value (``078`` and ``78``)."""
    return a.isdigit() and b.isdigit() and int(a) == int(b)


def collapse(times_s: FloatArray) -> FloatArray:
    """Sorted crossings with repeats (events within ``REPEAT_S``) merged into the first."""
    ordered = np.sort(times_s)
    if len(ordered) < 2:
        return ordered
    keep = np.concatenate([[True], np.diff(ordered) > REPEAT_S])
    out: FloatArray = ordered[keep]
    return out


def signed_gaps(official_s: FloatArray, logged_s: FloatArray) -> FloatArray:
    """Logged minus official time of the nearest lap event, for every official crossing
    within the logged events' span (``SPAN_MARGIN_S`` either side), seconds."""
    if not len(logged_s) or not len(official_s):
        return np.empty(0)
    inside = official_s[(official_s >= logged_s[0] - SPAN_MARGIN_S)
                        & (official_s <= logged_s[-1] + SPAN_MARGIN_S)]
    i = np.searchsorted(logged_s, inside)
    left = logged_s[np.clip(i - 1, 0, len(logged_s) - 1)] - inside
    right = logged_s[np.clip(i, 0, len(logged_s) - 1)] - inside
    out: FloatArray = np.where(np.abs(left) < np.abs(right), left, right)
    return out


def race_offset(gaps: dict[tuple[str, str], FloatArray]) -> float:
    """The race's common offset of lap events after official crossings, seconds.

    Each logged car votes with its steadiest pair (least median absolute deviation of
    its gaps); the offset is the median of those pairs' median gaps, 0 without any.
    """
    best: dict[str, tuple[float, float]] = {}
    for (vid, _), gap in gaps.items():
        if len(gap) < MIN_CROSSINGS:
            continue
        middle = float(np.median(gap))
        spread = float(np.median(np.abs(gap - middle)))
        if vid not in best or spread < best[vid][0]:
            best[vid] = (spread, middle)
    return float(np.median([m for _, m in best.values()])) if best else 0.0


def _seconds(frame: pl.DataFrame, key: str) -> dict[str, FloatArray]:
    out: dict[str, FloatArray] = {}
    epoch = frame.drop_nulls([key, "time"]).select(key, pl.col("time").dt.epoch("us") / 1e6)
    for (name,), part in epoch.group_by([key]):
        out[str(name)] = collapse(part["time"].to_numpy())
    return out


def identify(logged: dict[str, str], crossings: pl.DataFrame, official: pl.DataFrame,
             timing_numbers: dict[str, str]) -> tuple[list[CarIdentity], float]:
    """The identity of every logged car of a race (see the module docstring).

    Args:
        logged: Logged number (text, ``"0"`` unassigned) per ``vehicle_id``.
        crossings: ``vehicle_id, time`` of the logger's lap events (UTC).
        official: ``car_number, time`` of the official line crossings (UTC).
        timing_numbers: The printed number of each timing car, by its label.

    Returns:
        One identity per logged car, sorted by ``vehicle_id``, and the race's offset of
        lap events after the official line (``race_offset``), seconds.
    """
    logged_s = _seconds(crossings, "vehicle_id")
    official_s = _seconds(official, "car_number")
    gaps = {(v, c): signed_gaps(o, logged_s[v]) for v in logged if v in logged_s
            for c, o in official_s.items()}
    offset = race_offset(gaps)
    scored = []
    for (vid, car), gap in gaps.items():
        if len(gap) >= MIN_CROSSINGS:
            cost = float(np.median(np.abs(gap - offset)))
            if cost <= MAX_MATCH_COST_S:
                scored.append((cost, len(gap), vid, car))
    found = _assign(sorted(scored))
    taken = {c.car_number for c in found.values() if c.car_number is not None}
    for vid in sorted(set(logged) - set(found)):
        measured = any(len(g) >= MIN_CROSSINGS for (v, _), g in gaps.items() if v == vid)
        by_number = None if measured else _by_number(logged[vid], timing_numbers, taken)
        if by_number is not None:
            car, how = by_number
            found[vid] = CarIdentity(vid, chassis_of(vid), car, how)
            taken.add(car)
    return [found.get(v) or CarIdentity(v, chassis_of(v), None, "unmatched")
            for v in sorted(logged)], round(offset, 3)


def _assign(scored: list[tuple[float, int, str, str]]) -> dict[str, CarIdentity]:
    """Match pairs cheapest first, each once both sides are free and no rival is close.

    A rival is another free timing car within ``AMBIGUOUS_S`` of the pair's cost on at
    least half as many shared crossings. A pair with a rival waits: a cheaper match
    elsewhere may take the rival; pairs still contested at the end stay unmatched.
    """
    found: dict[str, CarIdentity] = {}
    taken: set[str] = set()
    progress = True
    while progress:
        progress = False
        free = [p for p in scored if p[2] not in found and p[3] not in taken]
        for cost, n, vid, car in free:
            if any(v == vid and c != car and k < cost + AMBIGUOUS_S and m * 2 >= n
                   for k, m, v, c in free):
                continue
            found[vid] = CarIdentity(vid, chassis_of(vid), car, "line crossings", round(cost, 3))
            taken.add(car)
            progress = True
            break
    return found


def _by_number(number: str, timing_numbers: dict[str, str], taken: set[str]
               ) -> tuple[str, str] | None:
    """The one free timing car with this number as text, else by value."""
    if number == "0":
        return None
    for how, same in (("logged number", str.__eq__), ("number value", same_value)):
        cars = [c for c, n in timing_numbers.items() if same(n, number)]
        if len(cars) == 1 and cars[0] not in taken:
            return cars[0], how
        if cars:
            return None
    return None


__all__ = [
    "AMBIGUOUS_S",
    "MAX_MATCH_COST_S",
    "MIN_CROSSINGS",
    "CarIdentity",
    "chassis_of",
    "collapse",
    "identify",
    "race_offset",
    "same_value",
    "signed_gaps",
]
