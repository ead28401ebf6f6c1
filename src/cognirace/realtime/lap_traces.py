"""Each car's last and best lap as traces by lap distance, and the track's outline from GPS.

A dashboard compares a car's last lap with its best one channel by channel (speed,
throttle, brake, rpm, gear) at the same point of the lap, with the time gained or lost
along it. So a lap's samples are put on one grid of ``TRACE_POINTS`` distances from the
line to the line, with the time into the lap at each: the trace starts at (0 m, 0 s)
and ends at (lap length, the timing's lap time), so the delta between two traces at the
line is exactly the difference of their lap times, whatever the logger's rate.

A logger does not send every channel on every sample: above about 5 Hz the lap distance
and rpm come on one sample and speed on the next (the real ECU's slow channels, which
the simulator copies), so no sample carries both speed and distance. The samples that
carry a distance make the lap's distance-against-time curve; every channel is then
placed on the lap at its own samples' times, read off that curve.

The samples of the lap under way are held per logger until the car's crossing closes
it (at most one lap's worth: rows after the crossing stay for the next lap), so memory
does not grow with the race. A car's best trace is its fastest lap with telemetry.

The first clean lap with GPS of any car also draws the track's outline (``TrackOutlines``,
once per track for the whole process): the same grid's latitude and longitude.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.domain.tracks import TRACKS

TRACE_POINTS = 300
"""Distances on a lap's grid, line to line."""
MIN_LAP_SAMPLES = 10
"""Fewer samples than this in a lap draw no trace (a logger that dropped out)."""
CHANNELS = {"speed_kph": "speed_kph", "throttle_pct": "aps", "brake_bar": "pbrake_f",
            "rpm": "rpm", "gear": "gear"}
"""A trace's channels and the telemetry column each is read from."""
_READ = ("vehicle_id", "time", "lap_dist_m", "lat", "lon", *CHANNELS.values())

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Trace:
    """One lap on the distance grid: ``x_m`` from 0 to the lap's length, ``t_s`` the time
    into the lap at each, and each channel (NaN where the logger sent none)."""

    lap: int
    lap_time_s: float
    x_m: Floats
    t_s: Floats
    channels: dict[str, Floats]
    lat: Floats | None = None
    lon: Floats | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lap": self.lap, "lap_time_s": self.lap_time_s,
                               "x_m": _rounded(self.x_m, 1), "t_s": _rounded(self.t_s, 3)}
        for name, values in self.channels.items():
            out[name] = _rounded(values, 0 if name == "gear" else 2)
        return out


def _rounded(values: Floats, digits: int) -> list[float | None]:
    return [None if not np.isfinite(v) else round(float(v), digits) for v in values]


def delta_s(last: Trace, best: Trace) -> Floats:
    """Time lost by ``last`` against ``best`` at each point of the grid, s (positive:
    slower); at the line it is the difference of the lap times."""
    return last.t_s - np.interp(last.x_m, best.x_m, best.t_s)


def build_trace(samples: pl.DataFrame, *, lap: int, lap_end: dt.datetime, lap_time_s: float,
                length_m: float) -> Trace | None:
    """A lap's trace from its samples (see the module docstring); None with too few
    samples carrying a lap distance."""
    start = lap_end - dt.timedelta(seconds=lap_time_s)
    t = (samples["time"] - start).dt.total_microseconds().to_numpy().astype(float) / 1e6
    x = samples["lap_dist_m"].to_numpy().astype(float)
    inside = (t > 0) & (t < lap_time_s)
    keep = inside & np.isfinite(x)
    # a sample of the line's other side (the logger's lap changes a moment off the line)
    keep &= ~((t < 0.25 * lap_time_s) & (x > 0.75 * length_m))
    keep &= ~((t > 0.75 * lap_time_s) & (x < 0.25 * length_m))
    keep &= (x >= 0) & (x <= length_m)
    if int(keep.sum()) < MIN_LAP_SAMPLES:
        return None
    order = np.argsort(t[keep], kind="stable")
    t_in, x_in = t[keep][order], np.maximum.accumulate(x[keep][order])
    xs = np.concatenate(([0.0], x_in, [length_m]))
    ts = np.concatenate(([0.0], t_in, [lap_time_s]))
    xs, first = np.unique(xs, return_index=True)  # distance only grows: first time at each
    ts = ts[first]
    grid = np.linspace(0.0, length_m, TRACE_POINTS)
    t_grid = np.interp(grid, xs, ts)
    t_grid[0], t_grid[-1] = 0.0, lap_time_s

    def on_lap(column: str, *, step: bool = False) -> Floats:
        """``column`` on the grid, each value placed where the car was at its time."""
        values = samples[column].to_numpy().astype(float)
        own = inside & np.isfinite(values)
        by_time = np.argsort(t[own], kind="stable")
        at_m = np.interp(t[own][by_time], ts, xs)
        return _on_grid(grid, at_m, values[own][by_time], step=step)

    channels = {name: on_lap(column, step=name == "gear") for name, column in CHANNELS.items()}
    lat = lon = None
    if samples["lat"].null_count() == 0 and samples["lon"].null_count() == 0:
        lat, lon = on_lap("lat"), on_lap("lon")
    return Trace(lap, lap_time_s, grid, t_grid, channels, lat, lon)


def _on_grid(grid: Floats, x: Floats, values: Floats, *, step: bool = False) -> Floats:
    """``values`` read at ``x``, on ``grid``: linear, or the last value for a step channel."""
    ok = np.isfinite(values)
    if not ok.any():
        return np.full(len(grid), np.nan)
    x, values = x[ok], values[ok]
    if step:
        index = np.clip(np.searchsorted(x, grid, side="right") - 1, 0, len(x) - 1)
        return values[index]
    return np.interp(grid, x, values)


@dataclass
class LapTraces:
    """Samples of each logger's lap under way, and each car's last and best traces.

    Args:
        track: Track key; its length sets the grid (from ``domain.tracks``; else the
            longest lap distance seen).
    """

    track: str
    last: dict[str, Trace] = field(default_factory=dict)
    best: dict[str, Trace] = field(default_factory=dict)
    _pending: dict[str, list[pl.DataFrame]] = field(default_factory=dict)
    _longest_m: float = 0.0

    @property
    def length_m(self) -> float:
        known = TRACKS.get(self.track)
        return known.length_km * 1000.0 if known is not None else self._longest_m

    def add(self, samples: pl.DataFrame) -> None:
        """Hold a frame's samples until their laps close."""
        if not samples.height or "lap_dist_m" not in samples.columns:
            return
        read = samples.select([c for c in _READ if c in samples.columns])
        read = read.with_columns(pl.lit(None, pl.Float64).alias(c)
                                 for c in _READ if c not in read.columns)
        longest = read["lap_dist_m"].max()
        if isinstance(longest, float):
            self._longest_m = max(self._longest_m, longest)
        for (vehicle,), rows in read.partition_by("vehicle_id", as_dict=True).items():
            self._pending.setdefault(str(vehicle), []).append(rows)

    def close(self, car_number: str, vehicle_id: str | None, lap: int, lap_end: dt.datetime,
              lap_time_s: float | None) -> Trace | None:
        """Close a car's lap at its crossing: its trace (None without enough samples);
        the samples after the crossing wait for the next lap."""
        chunks = self._pending.pop(vehicle_id or "", None)
        if not chunks:
            return None
        held = pl.concat(chunks, how="vertical_relaxed")
        after = held.filter(pl.col("time") > lap_end)
        if after.height:
            self._pending[vehicle_id or ""] = [after]
        if lap_time_s is None or not lap_time_s > 0 or self.length_m <= 0:
            return None
        trace = build_trace(held.filter(pl.col("time") <= lap_end), lap=lap, lap_end=lap_end,
                            lap_time_s=lap_time_s, length_m=self.length_m)
        if trace is None:
            return None
        self.last[car_number] = trace
        best = self.best.get(car_number)
        if best is None or trace.lap_time_s < best.lap_time_s:
            self.best[car_number] = trace
        return trace

    def held_rows(self) -> int:
        """Samples held for laps under way (bounded by about a lap per logger)."""
        return sum(chunk.height for chunks in self._pending.values() for chunk in chunks)


@dataclass(frozen=True)
class Outline:
    """A track drawn from one lap's GPS: points from the line round to the line."""

    track: str
    length_m: float
    lat: tuple[float, ...]
    lon: tuple[float, ...]

    def to_json(self) -> dict[str, Any]:
        return {"track": self.track, "length_m": self.length_m,
                "lat": [round(v, 6) for v in self.lat], "lon": [round(v, 6) for v in self.lon]}


@dataclass
class TrackOutlines:
    """Each track's outline, drawn once for the process from the first clean GPS lap."""

    known: dict[str, Outline] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, track: str) -> Outline | None:
        return self.known.get(track)

    def offer(self, track: str, trace: Trace, length_m: float) -> Outline | None:
        """Draw ``track`` from ``trace`` unless drawn before; the new outline, or None."""
        if trace.lat is None or trace.lon is None or track in self.known:
            return None
        if not (np.isfinite(trace.lat).all() and np.isfinite(trace.lon).all()):
            return None
        with self._lock:
            if track in self.known:
                return None
            outline = self.known[track] = Outline(
                track, length_m, tuple(float(v) for v in trace.lat),
                tuple(float(v) for v in trace.lon))
            return outline


__all__ = ["CHANNELS", "MIN_LAP_SAMPLES", "TRACE_POINTS", "LapTraces", "Outline", "Trace",
           "TrackOutlines", "build_trace", "delta_s"]
