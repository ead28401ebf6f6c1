"""The inputs of the models that read telemetry: ``driver`` (a lap's style) and
``anomaly`` (a window's statistics against the car's own record), from bounded buffers.

Samples arrive in frames, each logger's in time order. The lap feature builder
(``LiveFeatureBuilder``) keeps each logger's samples by lap until the lap completes and
then hands them on (``completed_samples``); the driver's row is ``features.style.
lap_style`` of them, on the laps ``style_table`` keeps (``style_lap``).
``Windows`` keeps each logger's open window (``features.windows.WINDOW_S`` of samples,
numbered from the epoch): a sample of a later window completes it. The windows a frame
completes get their rows from the training code itself, ``window_features`` (one call
for all of them, which gives each window the bits the batch table gives it) and
``with_car_history`` over the car's record (the last ``HISTORY_LAG + HISTORY_SPAN``
windows, all a window's record reads).

What is held stays bounded: one window per logger (and the builder's ``OPEN_LAPS`` laps), and
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
from cognirace.features.style import STYLE_FEATURES
from cognirace.features.windows import (
    HISTORY_COLUMNS,
    HISTORY_LAG,
    HISTORY_SPAN,
    KEYS,
    window_features,
    window_id,
    with_car_history,
)

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


def style_row(lap: Mapping[str, Any], style: Mapping[str, float]) -> pl.DataFrame | None:
    """The driver's row of a completed lap: its keys as ``style_table`` gives them, then
    ``style`` (``lap_style`` of its samples); None where ``style_table`` has no row (too
    few samples with every channel)."""
    if style[STYLE_FEATURES[0]] != style[STYLE_FEATURES[0]]:  # NaN: no style row
        return None
    keys = {"race_id": pl.String, "track": pl.String, "vehicle_id": pl.String,
            "car_number": pl.String, "lap": pl.Int32, "stint": pl.Int32}
    return pl.DataFrame({**{k: [lap[k]] for k in keys}, **{k: [v] for k, v in style.items()}},
                        schema={**keys, **dict.fromkeys(STYLE_FEATURES, pl.Float64)})


class Windows:
    """Each logger's open window and the record of its earlier windows."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}
        """Each logger's open window."""
        self._buffer: list[pl.DataFrame] = []
        """The samples of the open windows (with ``window_id``), in arrival order."""
        self._record: pl.DataFrame | None = None
        """Every logger's last ``RECORD_WINDOWS - 1`` windows, while a detector reads them."""
        self.n_late = 0
        """Samples of a window already completed (dropped)."""

    def add(self, samples: pl.DataFrame, *, rows: Callable[[], bool] = lambda: True
            ) -> pl.DataFrame | None:
        """Buffer a frame's samples (wide rows with ``race_id``); the samples of the
        windows they complete (for ``rows``), or None.

        Per logger, a sample of a later window than the open one completes it (and any
        window of the frame before the logger's last), a sample of the open window joins
        it, and one of an earlier window is late. Most frames hold only the open windows:
        they cost one small query.

        Args:
            samples: The frame's samples, each logger's in time order.
            rows: Asked when windows complete: whether their rows will be built. Without
                a detector to read them windows are only tracked.
        """
        if samples.is_empty():
            return None
        timed = samples.with_columns(window_id(pl.col("time")))
        spans = timed.group_by("vehicle_id").agg(
            lo=pl.col("window_id").min(), hi=pl.col("window_id").max())
        moves: dict[str, int] = {}
        steady, late = True, False
        for vehicle, lo, hi in spans.iter_rows():
            vehicle, lo = _key((vehicle, lo))
            current = self._open.get(vehicle)
            if current is None or hi > current:
                moves[vehicle] = hi
            steady = steady and lo == hi == current
            late = late or (current is not None and lo < current)
        if steady:  # every sample joins its logger's open window
            self._buffer.append(timed)
            return None
        if late:
            is_late = pl.col("window_id") < pl.col("vehicle_id").replace_strict(
                self._open, default=-1, return_dtype=pl.Int64)
            self.n_late += int(timed.select(is_late.sum()).item())
            timed = timed.filter(~is_late)
        # a moving logger's buffered samples lie in its open window, before its new one
        whole = pl.concat([*self._buffer, timed])
        done = pl.col("window_id") < pl.col("vehicle_id").replace_strict(
            moves, default=-1, return_dtype=pl.Int64)
        completed = whole.filter(done)
        self._buffer = [whole.filter(~done)]  # one part: what a logger gone quiet left
        self._open.update(moves)
        if completed.is_empty() or not rows():
            return None
        # each logger's windows in turn, each window's samples in arrival order
        return completed.sort("vehicle_id", "window_id", maintain_order=True) \
            .drop("window_id")

    def rows(self, samples: pl.DataFrame, history_read: bool) -> pl.DataFrame:
        """The rows of windows ``add`` completed, in ``KEYS`` order, with each car's
        history when the detector reads it. Call in the order ``add`` gave the windows.

        Args:
            samples: What ``add`` returned.
            history_read: Whether the detector reads the car-history columns. The cars'
                records are kept, and the rolling comparison made, only while one does:
                a detector that reads them loaded later reads records that start then
                (null until they hold ``HISTORY_MIN`` windows, as for a car just out).
        """
        rows = window_features(samples)
        if not history_read:
            return rows.sort(*KEYS)
        narrow = rows.select(*KEYS, *HISTORY_COLUMNS)
        record = narrow if self._record is None else pl.concat([self._record, narrow],
                                                               how="vertical_relaxed")
        self._record = record.sort("vehicle_id", "window_id").filter(
            pl.int_range(pl.len()).reverse().over("vehicle_id") < RECORD_WINDOWS - 1)
        history = with_car_history(record).join(narrow.select(KEYS), on=list(KEYS),
                                                how="semi")
        added = [c for c in history.columns if c not in rows.columns]
        return rows.join(history.select(*KEYS, *added), on=list(KEYS), how="left") \
            .sort(*KEYS)

    def held_windows(self) -> int:
        """Earlier windows held over every logger (at most ``RECORD_WINDOWS - 1`` each)."""
        return 0 if self._record is None else self._record.height


__all__ = ["RECORD_WINDOWS", "Windows", "style_lap", "style_row"]
