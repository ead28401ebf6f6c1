"""The few laps of a race that its newest lap's features read, kept as the race runs.

The live builder receives a race's laps in crossing order (``lap_end``, then
``car_number``), so the lap it completes ended after every lap it holds. For that lap
each step of ``build_lap_features`` reads only a few of the laps before it, because
each is cumulative (in a car's lap order or in the race's crossing order) and what it
accumulates is a count, a minimum, a last value or a short tail:

- ``add_car_history``: the car's lap before (``prev_fcy``, ``out_lap``, hence
  ``green_lap``) and its in-laps (``stint`` counts them; the last tire change gives
  ``tire_age_laps``);
- ``add_pace``: the car's last ``PACE_WINDOW_LAPS`` green laps with a time and its best
  green lap (``pace_median3_s``, ``best_green_s``);
- ``add_field_context``: every lap with the lap's number (position, gaps, field
  median), every lap with the number of the car's lap before (the car that followed it
  over that line: ``gap_behind_prev_s``), every lap with the number of the lap that
  started first (the race start, a running minimum) and with the number of the leader's
  last crossing (the laps left).

``RaceContext`` keeps those laps and runs the batch functions over them unchanged; the
new lap's row is read from their output and the other rows dropped. The laps kept are
the rows already emitted: they hold every column the steps read, in the lake's types,
with the values computed from their whole history (``green_lap``, ``pace_median3_s``),
which is what ``add_pace`` and ``add_field_context`` read of them; ``add_car_history``
reads only their own flag, pit and lap columns. Lap numbers are read whole (every lap
of that number received), so the positions the field step computes, hence the leader's
last crossing, are the true ones.

A completion reads at most four lap numbers' laps (one a car), the car's in-laps (one a
pit stop) and up to five more of its laps: the work does not grow with the laps before
(``bench/live_features.py``). Every lap stays kept under its number, one row each, since
a lapped car may still complete an old lap number: memory grows as the emitted rows do.

One case is left where no live builder can give the batch value: a lap ending at the
very instant another car crosses the line of this car's lap before, that car's number
sorting after (``add_line_order`` compares times, not crossing order, for the gap
behind; ``tests/features/test_live_context.py`` holds it as an expected failure).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from cognirace.errors import DataError
from cognirace.features.car_history import CAR, PACE_WINDOW_LAPS, add_car_history, add_pace
from cognirace.features.catalogue import FEATURE_SCHEMA
from cognirace.features.field import add_field_context
from cognirace.lake.schema import LAPS

LAP_COLUMNS: tuple[str, ...] = (*(n for n in LAPS.names() if n in FEATURE_SCHEMA),
                                "track", "session")
"""What the steps start from: the lake's lap columns the table keeps (all but
``repaired``, which no step reads), and the race's track and session."""


def _same(value: Any, other: Any) -> bool:
    """Equal, NaN equal to NaN (a running minimum can be either)."""
    if isinstance(value, float) and isinstance(other, float) and math.isnan(value):
        return math.isnan(other)
    return bool(value == other)


@dataclass
class _CarLaps:
    """The rows (emitted, one row each) of a car's laps that its next lap reads."""

    previous: pl.DataFrame | None = None
    in_laps: list[pl.DataFrame] = field(default_factory=list)
    green: deque[pl.DataFrame] = field(default_factory=lambda: deque(maxlen=PACE_WINDOW_LAPS))
    best_green: pl.DataFrame | None = None

    @property
    def last_lap(self) -> int | None:
        return None if self.previous is None else int(self.previous["lap"][0])

    def history_rows(self) -> list[pl.DataFrame]:
        """In-laps and the lap before (what ``add_car_history`` reads), one row per lap."""
        rows = {int(r["lap"][0]): r for r in self.in_laps}
        if self.previous is not None:
            rows[int(self.previous["lap"][0])] = self.previous
        return list(rows.values())

    def pace_rows(self) -> list[pl.DataFrame]:
        """The last green laps with a time and the best one (what ``add_pace`` reads)."""
        rows = {int(r["lap"][0]): r for r in self.green}
        if self.best_green is not None:
            rows[int(self.best_green["lap"][0])] = self.best_green
        return list(rows.values())


class RaceContext:
    """The laps of one race that the next lap's car history and field context read.

    Args:
        race_duration_s: Timed length of the race, s (as ``add_field_context``).
    """

    def __init__(self, race_duration_s: float) -> None:
        self.race_duration_s = race_duration_s
        self._cars: dict[str, _CarLaps] = {}
        self._by_number: dict[int, pl.DataFrame] = {}
        self.last_crossing: tuple[dt.datetime, str] | None = None
        """``(lap_end, car_number)`` of the latest lap kept, in crossing order."""
        self._start: dt.datetime | None = None
        self._start_number: int | None = None
        self._leader: tuple[dt.datetime, str] | None = None
        self._leader_number: int | None = None
        empty = pl.LazyFrame(schema={name: LAPS.get(name, pl.String()) for name in LAP_COLUMNS})
        self._no_rows = pl.DataFrame(schema=add_car_history(empty).collect_schema())
        """No lap, with the columns ``add_car_history`` gives (what later steps read)."""

    def check_order(self, car_number: str, lap: int) -> None:
        """Refuse a lap whose car already completed a later lap: the car's kept laps are
        the ones before its next lap, and the rows emitted since would have read it."""
        car = self._cars.get(car_number)
        if car is not None and car.last_lap is not None and lap <= car.last_lap:
            raise DataError("lap completed after a later lap of its car",
                            value=(car_number, lap), hint=f"car {car_number!r} already "
                            f"completed lap {car.last_lap}; feed completions in lap_end "
                            f"order")

    def lap_features(self, lap: pl.DataFrame) -> pl.LazyFrame:
        """A new lap's car history and field context, as ``build_lap_features`` computes
        them before joining weather and telemetry (one row).

        Args:
            lap: One row with ``LAP_COLUMNS``, accepted by ``check_order``; one that
                ended before ``last_crossing`` is computed from the laps kept, which then
                lack the laps before it that the field step would read (the leader's
                crossing before it, the lap that started first before it).
        """
        car_number, number = lap["car_number"][0], int(lap["lap"][0])
        car = self._cars.get(car_number, _CarLaps())
        this_lap = pl.col("lap") == number
        own = pl.concat([r.select(LAP_COLUMNS) for r in [*car.history_rows(), lap]])
        history = add_car_history(own.lazy()).filter(this_lap)
        pace = self._stacked(car.pace_rows())
        history = add_pace(pl.concat([pace, history]).sort(*CAR, "lap")).filter(this_lap)
        numbers = {number, car.last_lap, self._start_number, self._leader_number}
        field_rows = self._stacked([self._by_number[n] for n in numbers
                                    if n is not None and n in self._by_number])
        return add_field_context(pl.concat([field_rows, history]), self.race_duration_s) \
            .filter((pl.col("car_number") == car_number) & this_lap)

    def _stacked(self, rows: list[pl.DataFrame]) -> pl.LazyFrame:
        """Kept rows as one frame of the car history's columns (one scan in the query,
        not one a row: a query's cost grows with its inputs, hardly with their rows)."""
        return pl.concat([self._no_rows, *(r.select(self._no_rows.columns) for r in rows)]
                         ).lazy()

    def record(self, row: pl.DataFrame) -> None:
        """Keep a new lap's emitted row (the catalogue's columns) for the laps after it."""
        values = row.row(0, named=True)
        number, car_number = int(values["lap"]), str(values["car_number"])
        car = self._cars.setdefault(car_number, _CarLaps())
        car.previous = row
        if values["in_pit"]:
            car.in_laps.append(row)
        if values["green_lap"] and values["lap_time_s"] is not None:
            car.green.append(row)
            if _same(values["lap_time_s"], values["best_green_s"]):
                car.best_green = row
        kept = self._by_number.get(number)
        self._by_number[number] = row if kept is None else pl.concat([kept, row], rechunk=True)
        crossing = (values["lap_end"], car_number)
        if values["position"] == 1 and (self._leader is None or crossing > self._leader):
            self._leader, self._leader_number = crossing, number
        start = values["lap_start"]
        if start is not None and (self._start is None or start < self._start):
            self._start, self._start_number = start, number
        if self.last_crossing is None or crossing > self.last_crossing:
            self.last_crossing = crossing


__all__ = ["LAP_COLUMNS", "RaceContext"]
