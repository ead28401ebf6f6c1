"""The inputs of the models that read telemetry: ``driver`` (a lap's style) and
``anomaly`` (a window's statistics against the car's own record), from bounded buffers.

Samples arrive in frames, each logger's in time order. ``LapSamples`` keeps each
logger's samples by lap until the lap completes; the driver's row is then
``features.style.lap_style`` of them, on the laps ``style_table`` keeps (``style_lap``).
``Windows`` keeps each logger's open window (``features.windows.WINDOW_S`` of samples,
numbered from the epoch): a sample of a later window completes it. The windows a frame
completes get their rows from the training code itself, ``window_features`` (one call
for all of them, which gives each window the bits the batch table gives it) and
``with_car_history`` over the car's record (the last ``HISTORY_LAG + HISTORY_SPAN``
windows, all a window's record reads).

What is held stays bounded: at most ``OPEN_LAPS`` laps and one window per logger, and
``HISTORY_LAG + HISTORY_SPAN - 1`` earlier windows of the history columns per logger.
A sample for a lap or window already completed is late: it is counted and dropped,
since its row was given.

When ``features.windows`` changes its window rows or the car's record (the anomaly
work), ``Windows`` follows through the same calls; ``RECORD_WINDOWS`` must remain the
number of windows a window's record reads, which ``tests/realtime/test_live_models.py``
checks against the batch table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from cognirace.domain.formats import FLAG_CAUTION
from cognirace.features.style import STYLE_FEATURES, lap_style
from cognirace.features.windows import (
    HISTORY_COLUMNS,
    HISTORY_LAG,
    HISTORY_SPAN,
    KEYS,
    window_features,
    window_id,
    with_car_history,
)

OPEN_LAPS = 3
"""Laps of a logger held at once (the one running, the next, and one spare for a
sample with a wrong lap number); a newer lap evicts the oldest, so a logger whose car
never crosses the line holds no more than this."""
RECORD_WINDOWS = HISTORY_LAG + HISTORY_SPAN
"""Windows a window's car record reads, itself included (``with_car_history``)."""


def _key(key: tuple[object, ...]) -> tuple[str, int]:
    """A partition's ``(vehicle_id, number)``: text and a whole number."""
    vehicle, number = key
    if not isinstance(vehicle, str) or not isinstance(number, int):
        raise TypeError(f"a sample's vehicle_id and lap or window are text and a whole "
                        f"number, not {key!r}")
    return vehicle, number


def style_lap(lap: Mapping[str, Any]) -> bool:
    """Whether a completed lap gets a style row: the rule of ``features.style.green_laps``
    on its feature row (not lap 1, not under or just after a caution, neither the in-lap
    nor the out-lap of a stop)."""
    return (int(lap["lap"]) > 1 and lap["flag"] != FLAG_CAUTION and not lap["prev_fcy"]
            and not lap["in_pit"] and not lap["out_lap"])


class LapSamples:
    """Each logger's samples of the laps it has not completed, by lap."""

    def __init__(self) -> None:
        self._laps: dict[str, dict[int, list[pl.DataFrame]]] = {}
        self._done: dict[str, int] = {}
        self.n_late = 0
        """Samples of a lap already completed (dropped)."""

    def add(self, samples: pl.DataFrame) -> None:
        """Buffer a frame's samples (wide rows; those without a lap belong to none)."""
        with_lap = samples.filter(pl.col("lap").is_not_null())
        if with_lap.is_empty():
            return
        parts = with_lap.partition_by("vehicle_id", "lap", as_dict=True, maintain_order=True)
        for key, part in parts.items():
            vehicle, lap = _key(key)
            if lap <= self._done.get(vehicle, 0):
                self.n_late += part.height
                continue
            laps = self._laps.setdefault(vehicle, {})
            laps.setdefault(lap, []).append(part)
            while len(laps) > OPEN_LAPS:
                del laps[min(laps)]

    def complete(self, vehicle_id: str, lap: int) -> pl.DataFrame | None:
        """A lap's samples as its car crosses the line (None without any); the lap and
        every earlier one of the logger are closed."""
        self._done[vehicle_id] = max(lap, self._done.get(vehicle_id, 0))
        laps = self._laps.get(vehicle_id, {})
        chunks = laps.pop(lap, None)
        for older in [n for n in laps if n < lap]:
            del laps[older]
        return pl.concat(chunks) if chunks else None

    def held_laps(self) -> int:
        """Laps held over every logger (at most ``OPEN_LAPS`` each)."""
        return sum(len(laps) for laps in self._laps.values())


def style_row(lap: Mapping[str, Any], samples: pl.DataFrame) -> pl.DataFrame | None:
    """The driver's row of a completed lap: its keys as ``style_table`` gives them, then
    ``lap_style`` of its samples; None where ``style_table`` has no row (too few samples
    with every channel)."""
    style = lap_style(samples)
    if style[STYLE_FEATURES[0]] != style[STYLE_FEATURES[0]]:  # NaN: no style row
        return None
    keys = {"race_id": pl.String, "track": pl.String, "vehicle_id": pl.String,
            "car_number": pl.String, "lap": pl.Int32, "stint": pl.Int32}
    return pl.DataFrame({**{k: [lap[k]] for k in keys}, **{k: [v] for k, v in style.items()}},
                        schema={**keys, **dict.fromkeys(STYLE_FEATURES, pl.Float64)})


class Windows:
    """Each logger's open window and the record of its earlier windows."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[int, list[pl.DataFrame]]] = {}
        self._record: dict[str, pl.DataFrame] = {}
        self.n_late = 0
        """Samples of a window already completed (dropped)."""

    def add(self, samples: pl.DataFrame, *, rows: Callable[[], bool] = lambda: True,
            history: Callable[[], bool] = lambda: True) -> pl.DataFrame | None:
        """Buffer a frame's samples (wide rows with ``race_id``); the rows of the windows
        they complete, in ``KEYS`` order, with the car's history, or None.

        Args:
            samples: The frame's samples, each logger's in time order.
            rows: Asked when windows complete: whether to build their rows (and add
                them to the cars' records). Without a detector to read them windows are
                only tracked, and a detector loaded later reads records that start then
                (null until they hold ``HISTORY_MIN`` windows, as for a car just out).
            history: Asked with ``rows``: whether the detector reads the car-history
                columns; the records are kept either way, the costly rolling comparison
                is made only when read.
        """
        if samples.is_empty():
            return None
        timed = samples.with_columns(window_id(pl.col("time")))
        parts = timed.partition_by("vehicle_id", "window_id", as_dict=True,
                                   maintain_order=True, include_key=True)
        done: list[pl.DataFrame] = []
        for key in sorted(parts, key=_key):
            vehicle, number = _key(key)
            part = parts[key].drop("window_id")
            current = self._open.get(vehicle)
            if current is None or number > current[0]:
                if current is not None:
                    done.extend(current[1])
                self._open[vehicle] = (number, [part])
            elif number == current[0]:
                current[1].append(part)
            else:
                self.n_late += part.height
        return self._rows(pl.concat(done), history()) if done and rows() else None

    def _rows(self, samples: pl.DataFrame, history_read: bool) -> pl.DataFrame:
        """Window rows of completed windows' samples, with each car's history when read."""
        rows = window_features(samples)
        narrow = rows.select(*KEYS, *HISTORY_COLUMNS)
        vehicles = rows["vehicle_id"].unique().to_list()
        record = pl.concat([*(self._record[v] for v in vehicles if v in self._record),
                            narrow], how="vertical_relaxed")
        for vehicle, windows in record.partition_by("vehicle_id", as_dict=True).items():
            self._record[str(vehicle[0])] = windows.sort("window_id").tail(RECORD_WINDOWS - 1)
        if not history_read:
            return rows.sort(*KEYS)
        history = with_car_history(record).join(narrow.select(KEYS), on=list(KEYS),
                                                how="semi")
        added = [c for c in history.columns if c not in rows.columns]
        return rows.join(history.select(*KEYS, *added), on=list(KEYS), how="left") \
            .sort(*KEYS)

    def held_windows(self) -> int:
        """Earlier windows held over every logger (at most ``RECORD_WINDOWS - 1`` each)."""
        return sum(frame.height for frame in self._record.values())


__all__ = ["OPEN_LAPS", "RECORD_WINDOWS", "LapSamples", "Windows", "style_lap", "style_row"]
