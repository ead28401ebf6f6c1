"""The inputs of the models that read lap rows beyond one car's lap: ``tire``, ``fcy``
and ``traffic``, built as laps complete, from bounded buffers.

Each takes the lap feature rows in crossing order (as ``LiveFeatureBuilder`` emits
them) and keeps only what the next row can read, so a lap completion costs the same on
the last lap as on the first:

- ``TireStints``: each car's current stint, its green laps so far (the latest
  ``TIRE_MAX_SEEN_LAPS``) and its running fuel-lap count; the forecast row is the one
  ``tire_forecast.stint_so_far`` builds from the whole lap table.
- ``LeaderLaps``: the caution history (``fcy_rows.CautionHistory``: a few counts) and
  each car's last lap (its gap ahead and whether it ran off pace, by the batch rule
  ``fcy_rows.off_pace_lap``); when the leader crosses, ``fcy_rows.latest_row`` builds
  the hazard's row as ``fcy_rows`` does with its as-of join.
- ``LineGraphs``: the rows of the lines not yet read. The graph of line ``L`` is read
  when the leader completes lap ``L + 1``: by then every car on the lead lap has
  crossed ``L`` (``traffic.line_graph`` keeps the nodes as training does). A lapped car
  crosses ``L`` later, after its graph was read, and is in no graph: the training
  graph of ``L`` also holds the lapped cars that crossed it, so at the back of the
  field the live answers read one car fewer behind.

Rows are read in crossing order; two crossings at the very same ``lap_end`` are taken
in car-number order, so the leader's field at such a tie lacks the car with the higher
number (the batch as-of join holds it). Timing to the millisecond makes this rare.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from cognirace.models.fcy_rows import CautionHistory, latest_row, off_pace_lap
from cognirace.models.tire_forecast import MIN_SEEN_LAPS, fuel_lap_share
from cognirace.models.traffic import line_graph

TIRE_HORIZON_LAPS = 5.0
"""Laps ahead of the car's tire age that the tire forecast gives the loss for: a stop
is planned a few laps ahead, and the pit window closes in about five."""
TIRE_MAX_SEEN_LAPS = 40
"""Most green laps of a stint the forecast reads (the latest). Longer than any stint of
a 45-minute race (about 30 laps at the calendar's shortest lap), so it only bounds the
work on a pathological stream."""
TIRE_MIN_SEEN_LAPS = MIN_SEEN_LAPS
"""Green laps a stint needs before it is forecast: the tire task's fewest seen laps.
Fewer carry no slope of their own; the answer would be the track's prior, the same for
every car."""

_LIST = pl.List(pl.Float64)

Wanted = Callable[[], bool]
"""Asked once a row is due: whether to build it (a model is there to read it)."""


def _always() -> bool:
    return True


@dataclass
class _Stint:
    """One car's current stint: its number and green laps so far, oldest first."""

    number: int
    times_s: deque[float]
    ages_laps: deque[float | None]
    fuel_laps: deque[float]


class TireStints:
    """Each car's current stint, kept to build the tire forecast's row after each lap.

    Args:
        horizon_laps: ``TIRE_HORIZON_LAPS``.
        max_laps: ``TIRE_MAX_SEEN_LAPS``.
    """

    def __init__(self, *, horizon_laps: float = TIRE_HORIZON_LAPS,
                 max_laps: int = TIRE_MAX_SEEN_LAPS) -> None:
        self.horizon_laps = horizon_laps
        self.max_laps = max_laps
        self._stints: dict[str, _Stint] = {}
        self._fuel_laps: dict[str, float] = {}

    def add(self, lap: dict[str, Any], *, build: Wanted = _always) -> pl.DataFrame | None:
        """Record a car's lap (its feature row's values); the forecast's row, or None
        while the stint has fewer than ``TIRE_MIN_SEEN_LAPS`` green laps or when
        ``build`` says no model will read it. An unknown tire age stays unknown in the
        row (the model refuses it, as in batch)."""
        car = str(lap["car_number"])
        fuel = self._fuel_laps.get(car, 0.0) + fuel_lap_share(lap["flag"])
        self._fuel_laps[car] = fuel
        stint = self._stints.get(car)
        if stint is None or stint.number != lap["stint"]:
            stint = self._stints[car] = _Stint(
                int(lap["stint"]), deque(maxlen=self.max_laps), deque(maxlen=self.max_laps),
                deque(maxlen=self.max_laps))
        age = None if lap["tire_age_laps"] is None else float(lap["tire_age_laps"])
        if lap["green_lap"] and lap["lap_time_s"] is not None:
            stint.times_s.append(float(lap["lap_time_s"]))
            stint.ages_laps.append(age)
            stint.fuel_laps.append(fuel)
        if len(stint.times_s) < TIRE_MIN_SEEN_LAPS or not build():
            return None
        return pl.DataFrame({
            "race_id": [lap["race_id"]], "vehicle_id": [lap["vehicle_id"]],
            "car_number": [car], "stint": [stint.number], "lap": [lap["lap"]],
            "track": [lap["track"]],
            "lap_times_s": [list(stint.times_s)], "tire_ages_laps": [list(stint.ages_laps)],
            "fuel_laps": [list(stint.fuel_laps)],
            "horizon_age_laps": [None if age is None else age + self.horizon_laps],
        }, schema={"race_id": pl.String, "vehicle_id": pl.String, "car_number": pl.String,
                   "stint": pl.Int32, "lap": pl.Int32, "track": pl.String,
                   "lap_times_s": _LIST,
                   "tire_ages_laps": _LIST, "fuel_laps": _LIST,
                   "horizon_age_laps": pl.Float64})

    def held_laps(self) -> int:
        """Green laps held over every car (bounded by ``max_laps`` a car)."""
        return sum(len(s.times_s) for s in self._stints.values())


_FIELD_SCHEMA: dict[str, pl.DataType] = {
    "lap_end": pl.Datetime("us", "UTC"), "gap_ahead_s": pl.Float64(), "off_pace": pl.Boolean()}


@dataclass
class LeaderLaps:
    """What the caution hazard reads when the leader crosses: the caution history and
    each car's last lap (``lap_end``, gap ahead, off pace)."""

    history: CautionHistory = field(default_factory=CautionHistory)
    _cars: dict[str, tuple[dt.datetime, float | None, bool]] = field(default_factory=dict)
    _pace: dict[str, float | None] = field(default_factory=dict)

    def add(self, row: pl.DataFrame, lap: dict[str, Any], *, build: Wanted = _always
            ) -> pl.DataFrame | None:
        """Record a car's lap (its feature row, and the row's values); the hazard's row
        when the car leads the lap, ``fcy_rows`` gives that lap one and ``build`` says a
        model will read it."""
        car = str(lap["car_number"])
        pace_before = self._pace.get(car)
        off = row.select(off_pace_lap(pl.lit(pace_before, pl.Float64))).item()
        self._pace[car] = lap["pace_median3_s"]
        self._cars[car] = (lap["lap_end"], lap["gap_ahead_s"], bool(off))
        if lap["position"] != 1:
            return None
        self.history = self.history.after(int(lap["lap"]), lap["flag"])
        if not build():
            return None
        ends, gaps, offs = zip(*self._cars.values(), strict=True)
        cars = pl.DataFrame({"lap_end": ends, "gap_ahead_s": gaps, "off_pace": offs},
                            schema=_FIELD_SCHEMA)
        answer = latest_row(row, self.history, cars)
        return answer if answer.height else None


class LineGraphs:
    """The lap rows of the lines whose graph is not read yet (see the module docstring)."""

    def __init__(self) -> None:
        self._lines: dict[int, list[pl.DataFrame]] = {}
        self._read_to = 0
        """Lines up to this one were read (or passed): later rows of them are dropped."""
        self.n_dropped = 0
        """Rows of lines already read (lapped cars), left out of every graph."""

    def add(self, row: pl.DataFrame, lap: dict[str, Any], *, build: Wanted = _always
            ) -> pl.DataFrame | None:
        """Record a car's lap row; the graph of the line before when the leader crossed
        and ``build`` says a model will read it (``traffic.line_graph``: its nodes)."""
        number = int(lap["lap"])
        if number <= self._read_to:
            self.n_dropped += 1
            return None
        self._lines.setdefault(number, []).append(row)
        if lap["position"] != 1:
            return None
        self._read_to = number - 1
        rows = self._lines.pop(number - 1, [])
        for stale in [n for n in self._lines if n < number - 1]:
            self.n_dropped += len(self._lines.pop(stale))
        if not rows or not build():
            return None
        graph = line_graph(pl.concat(rows))
        return graph if graph.height else None

    def held_rows(self) -> int:
        """Rows held over every line not yet read (about two laps of the field)."""
        return sum(len(rows) for rows in self._lines.values())


__all__ = ["TIRE_HORIZON_LAPS", "TIRE_MAX_SEEN_LAPS", "TIRE_MIN_SEEN_LAPS", "LeaderLaps",
           "LineGraphs", "TireStints", "Wanted"]
