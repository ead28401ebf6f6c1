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
IntArray = npt.NDArray[np.int64]

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
    (of any car) within the logged events' span (``SPAN_MARGIN_S`` either side), seconds;
    NaN outside it.

    Args:
        official_s: Official crossings, epoch seconds.
        logged_s: One logged car's lap events, sorted, epoch seconds.
    """
    out: FloatArray = np.full(len(official_s), np.nan)
    if not len(logged_s):
        return out
    inside = (official_s >= logged_s[0] - SPAN_MARGIN_S) \
        & (official_s <= logged_s[-1] + SPAN_MARGIN_S)
    o = official_s[inside]
    i = np.searchsorted(logged_s, o)
    left = logged_s[np.clip(i - 1, 0, len(logged_s) - 1)] - o
    right = logged_s[np.clip(i, 0, len(logged_s) - 1)] - o
    out[inside] = np.where(np.abs(left) < np.abs(right), left, right)
    return out


def group_medians(values: FloatArray, codes: IntArray, n_groups: int
                  ) -> tuple[FloatArray, IntArray]:
    """Median and count of ``values`` per group code (NaN values left out), in one sort.

    Returns:
        Medians (NaN for an empty group) and counts, indexed by code.
    """
    keep = ~np.isnan(values)
    v, c = values[keep], codes[keep]
    order = np.lexsort((v, c))
    v = v[order]
    counts: IntArray = np.bincount(c, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    medians: FloatArray = np.full(n_groups, np.nan)
    has = counts > 0
    low, high = starts + (counts - 1) // 2, starts + counts // 2
    medians[has] = (v[low[has]] + v[high[has]]) / 2
    return medians, counts


def _official_arrays(official: pl.DataFrame) -> tuple[FloatArray, IntArray, list[str]]:
    """Every official crossing as epoch seconds, with its timing car as a code."""
    frame = official.drop_nulls(["car_number", "time"]).sort("car_number", "time")
    cars = frame["car_number"].unique(maintain_order=True).to_list()
    codes = frame["car_number"].replace_strict(cars, list(range(len(cars))),
                                               return_dtype=pl.Int64).to_numpy()
    return frame["time"].dt.epoch("us").to_numpy() / 1e6, codes, [str(c) for c in cars]


def _seconds(frame: pl.DataFrame, key: str) -> dict[str, FloatArray]:
    out: dict[str, FloatArray] = {}
    epoch = frame.drop_nulls([key, "time"]).select(key, pl.col("time").dt.epoch("us") / 1e6)
    for (name,), part in epoch.group_by([key]):
        out[str(name)] = collapse(part["time"].to_numpy())
    return out


def race_offset(gaps: dict[str, FloatArray], codes: IntArray, n_cars: int) -> float:
    """The race's common offset of lap events after official crossings, seconds.

    Each logged car votes with its steadiest timing car (least median absolute deviation
    of their gaps, over at least ``MIN_CROSSINGS``); the offset is the median of those
    pairs' median gaps, 0 without any.

    Args:
        gaps: ``signed_gaps`` of every logged car.
        codes: The timing car of each official crossing.
        n_cars: How many timing cars.
    """
    votes = []
    for gap in gaps.values():
        middle, counts = group_medians(gap, codes, n_cars)
        spread, _ = group_medians(np.abs(gap - middle[codes]), codes, n_cars)
        spread[counts < MIN_CROSSINGS] = np.inf
        if np.isfinite(spread).any():
            votes.append(middle[int(np.argmin(spread))])
    return float(np.median(votes)) if votes else 0.0


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
    times, codes, cars = _official_arrays(official)
    gaps = {v: signed_gaps(times, logged_s[v]) for v in logged if v in logged_s}
    offset = race_offset(gaps, codes, len(cars))
    scored = []
    measured: set[str] = set()
    for vid, gap in gaps.items():
        costs, counts = group_medians(np.abs(gap - offset), codes, len(cars))
        for k in np.flatnonzero(counts >= MIN_CROSSINGS):
            measured.add(vid)
            if costs[k] <= MAX_MATCH_COST_S:
                scored.append((float(costs[k]), int(counts[k]), vid, cars[k]))
    found = _assign(sorted(scored))
    taken = {c.car_number for c in found.values() if c.car_number is not None}
    for vid in sorted(set(logged) - set(found) - measured):
        by_number = _by_number(logged[vid], timing_numbers, taken)
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
    "group_medians",
    "identify",
    "race_offset",
    "same_value",
    "signed_gaps",
]
