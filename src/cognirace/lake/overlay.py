"""Lap-level telemetry helpers in the spirit of FastF1: pick a lap, add distance, overlay.

Comparing two laps means comparing them at the same place on track, not at the same
time: ``resample_by_distance`` puts a lap's channels onto a fixed grid of distance
from the start/finish line, so laps of different cars (or of one car) line up row by
row.

Cars are picked by ``vehicle_id`` or by race number; numbers are text, as the timing
prints them (``"021"`` and ``"21"`` are two cars), and are compared as text only.

Channels come at different rates: at the full rate (about 20 Hz) speed, rpm and the lap
distance are on one sample in four or five, the others on every sample, and a track
logs only some channels (the pedal ``aps`` or the blade ``ath``, GPS or not). Every
channel is therefore read from the samples that carry it: interpolated in time between
its readings, and all-null on the grid when the lap has fewer than two readings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from cognirace.errors import DataError
from cognirace.lake.reader import Lake

CHANNEL_COLUMNS = (
    "speed_kph", "rpm", "aps", "ath", "pbrake_f", "pbrake_r", "accx_g", "accy_g",
    "steering_deg", "lat", "lon",
)
"""Continuous channels, interpolated linearly between samples."""

MAX_DISTANCE_GAP_S = 5.0
"""Longest gap (s) between two lap-distance readings over which the distance is still
interpolated; a longer one is a dropout, and the lap's distance comes from its speed.
The channel comes every 0.2 s at the full rate and every sample at the demo's 2 Hz."""


def vehicle_of(lake: Lake, race_id: str, car_number: str) -> str:
    """The ``vehicle_id`` that raced with ``car_number`` in a race.

    Args:
        lake: From ``open_lake``.
        race_id: The race.
        car_number: The race number as text, exactly as the timing prints it: ``"021"``
            finds car 021, never car 21.

    Raises:
        DataError: when ``car_number`` is not text, no car of the race has it, or the
            car has no logger data (a timing car no logged car was matched to).
    """
    if not isinstance(car_number, str):
        raise DataError("car numbers are text", column="car_number", value=car_number,
                        hint=f"pass it as printed by the timing, e.g. {str(car_number)!r} "
                             "(\"021\" and \"21\" are two cars)")
    rows = lake.cars.filter((pl.col("race_id") == race_id) & (pl.col("car_number") == car_number))
    if rows.height == 0:
        raise DataError("no car with this number in the race", value=car_number,
                        hint=f"see open_lake(...).cars for race {race_id!r}")
    vehicle = rows["vehicle_id"][0]
    if vehicle is None:
        raise DataError("this car has no logger data in the race, so no telemetry",
                        value=car_number,
                        hint="the official timing lists it but no logged car was matched "
                             f"to it; see open_lake(...).report({race_id!r})")
    return str(vehicle)


def lap_telemetry(lake: Lake, race_id: str, lap: int, *, car_number: str | None = None,
                  vehicle_id: str | None = None) -> pl.DataFrame:
    """One car's telemetry for one lap, sorted by time.

    Args:
        lake: From ``open_lake``.
        race_id: The race.
        lap: Lap number.
        car_number: The car, by its number as text (or give ``vehicle_id``).
        vehicle_id: The car, by chassis id.

    Raises:
        DataError: when the car or the lap has no telemetry.
    """
    if vehicle_id is None:
        if car_number is None:
            raise DataError("give car_number or vehicle_id")
        vehicle_id = vehicle_of(lake, race_id, car_number)
    frame = (lake.scan_telemetry(race_id, vehicle_id).filter(pl.col("lap") == lap)
             .sort("time").collect())
    if frame.height == 0:
        raise DataError("no telemetry for this lap", value=f"{race_id} {vehicle_id} lap {lap}",
                        hint="check the lap exists in open_lake(...).laps")
    return frame


def _seconds(telemetry: pl.DataFrame) -> np.ndarray:
    """Time of each sample since the first, s."""
    micros = (telemetry["time"] - telemetry["time"][0]).dt.total_microseconds()
    return np.asarray(micros.to_numpy(), dtype=np.float64) / 1e6


def _readings(telemetry: pl.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Times (s since the first sample) and values of the samples that carry ``name``."""
    values = telemetry[name].cast(pl.Float64).fill_nan(None).to_numpy()
    ok = ~np.isnan(values)
    return _seconds(telemetry)[ok], values[ok]


def add_distance(telemetry: pl.DataFrame) -> pl.DataFrame:
    """Add ``distance_m``: distance driven since the first sample, from speed over time.

    Integrates ``speed_kph`` with the trapezoid rule, the speed interpolated in time
    between its readings (a slow channel at the full rate; the samples before the first
    reading or after the last take that reading); useful where the lap-distance channel
    is missing.

    Raises:
        DataError: when the samples carry no speed reading.
    """
    t_s = _seconds(telemetry)
    at, speed = _readings(telemetry, "speed_kph")
    if speed.size == 0:
        raise DataError("no speed reading to integrate a distance from",
                        value=f"{telemetry.height} samples",
                        hint="pick a lap whose telemetry logs speed_kph")
    v_ms = np.interp(t_s, at, speed) / 3.6
    step = np.diff(t_s) * (v_ms[1:] + v_ms[:-1]) / 2.0
    distance = np.concatenate([[0.0], np.cumsum(step)])
    return telemetry.with_columns(pl.Series("distance_m", distance))


def _distance(telemetry: pl.DataFrame) -> np.ndarray:
    """A non-decreasing distance for each sample: the lap-distance channel interpolated
    in time between its readings where it has no gap over ``MAX_DISTANCE_GAP_S``, else
    the speed integrated over time."""
    at, dist = _readings(telemetry, "lap_dist_m")
    if dist.size >= 2 and np.diff(at).max() <= MAX_DISTANCE_GAP_S:
        # Readings taken just before the line still carry the previous lap's distance.
        if dist[0] > dist[-1]:
            dist = np.where(np.arange(dist.size) < np.argmin(dist), 0.0, dist)
        return np.maximum.accumulate(np.interp(_seconds(telemetry), at, dist))
    return add_distance(telemetry)["distance_m"].to_numpy()


def resample_by_distance(telemetry: pl.DataFrame, *, step_m: float = 5.0,
                         length_m: float | None = None) -> pl.DataFrame:
    """Put one lap's channels on a grid of distance, every ``step_m`` metres.

    Continuous channels are interpolated linearly; ``gear`` takes the last sample at or
    before each grid point; ``time_s`` is the time since the lap's first sample.

    Args:
        telemetry: One car, one lap (``lap_telemetry``).
        step_m: Grid spacing in metres.
        length_m: Grid end in metres (default: the lap's last distance).

    Returns:
        ``distance_m, time_s, gear`` and the continuous channels.
    """
    if telemetry.height < 2:
        raise DataError("a lap needs at least two samples to resample", value=telemetry.height)
    if step_m <= 0:
        raise DataError("step_m must be positive", value=step_m)
    dist = _distance(telemetry)
    end = float(length_m if length_m is not None else dist[-1])
    grid = np.arange(0.0, end + step_m / 2, step_m)
    t_s = _seconds(telemetry)
    columns: dict[str, np.ndarray] = {"distance_m": grid, "time_s": np.interp(grid, dist, t_s)}
    index = np.clip(np.searchsorted(dist, grid, side="right") - 1, 0, dist.size - 1)
    columns["gear"] = telemetry["gear"].cast(pl.Float64).to_numpy()[index]
    for name in CHANNEL_COLUMNS:
        values = telemetry[name].cast(pl.Float64).fill_nan(None).to_numpy()
        ok = ~np.isnan(values)
        columns[name] = (np.interp(grid, dist[ok], values[ok]) if ok.sum() >= 2
                         else np.full(grid.size, np.nan))
    return pl.DataFrame(columns).with_columns(
        pl.col("gear").fill_nan(None).cast(pl.Int8),
        *(pl.col(n).fill_nan(None) for n in CHANNEL_COLUMNS),
    )


def overlay_laps(lake: Lake, race_id: str, picks: Sequence[tuple[str, int]], *,
                 step_m: float = 5.0) -> pl.DataFrame:
    """Several laps on one distance grid, for plotting one over another.

    Args:
        lake: From ``open_lake``.
        race_id: The race.
        picks: ``(car_number, lap)`` pairs, the number as text (``("021", 5)``).
        step_m: Grid spacing in metres.

    Returns:
        ``car_number`` (text), ``lap`` and the columns of ``resample_by_distance``, the
        grid cut to the shortest lap so every pick has every row, picks in the order given.
    """
    laps = [lap_telemetry(lake, race_id, lap, car_number=car) for car, lap in picks]
    length = min(float(_distance(t)[-1]) for t in laps)
    parts = [
        resample_by_distance(t, step_m=step_m, length_m=length).with_columns(
            pl.lit(car, dtype=pl.String).alias("car_number"), pl.lit(lap, dtype=pl.Int32)
            .alias("lap"))
        for t, (car, lap) in zip(laps, picks, strict=True)
    ]
    out = pl.concat(parts)
    return out.select("car_number", "lap", *(c for c in out.columns if c not in
                                             ("car_number", "lap")))


__all__ = ["add_distance", "lap_telemetry", "overlay_laps", "resample_by_distance", "vehicle_of"]
