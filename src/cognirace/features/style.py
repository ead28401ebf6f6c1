"""Per-lap driving-style features from telemetry: braking, throttle, corners, steering, gears.

``lap_style(samples)`` turns one lap's samples (the lake's telemetry schema) into one
row of ``STYLE_FEATURES``; ``style_table(lake)`` runs it over every green lap with
telemetry, so a live stream and the batch table compute the same numbers.

The features describe *how* a lap was driven rather than how fast: ratios to the lap's
own speeds where a faster or slower lap would shift the raw value (corner speeds over
the lap's mean speed), pedal and brake shapes, and gear use. They still differ by
track (a track with a hairpin has lower corner speeds for everyone), so the driver
embedding z-scores them per track against the training field before projecting.

They are read so that what a sensor adds does not pass for style. A "peak" is a high
quantile of the lap's braking samples, not its single highest sample (the one most
likely to be a noise spike or a kerb: accelerometer noise is heavy-tailed); lateral g
is half the spread between its 5th and 95th percentiles, so an accelerometer's zero
error cancels; steering is read relative to the lap's own straight-ahead reading (a
real car's steering sensor reads a few degrees off centre); a corner is a speed dip of
at least ``CORNER_DROP_KPH``, so noise on a straight makes none. No feature assumes any
relation between channels: what ties one channel to another is each car's own.

Green laps only: no lap 1 (standing start), no pit-in or pit-out lap, no lap under or
just after a full-course yellow; their pedal traces say little about a driver's habits.

Channels are read as each track logs them (``signals``). The throttle features
(``THROTTLE_FEATURES``) read the accelerator pedal ``aps`` only, and are NaN (absent) on
a lap without pedal readings, as at the tracks that log only the throttle blade ``ath``.
The blade is not a stand-in here: it opens through each car's own drive-by-wire map
(offset, progression), so its part-throttle shape describes the car as much as the
driver, and blade-based throttle features made drivers harder, not easier, to tell
apart on a simulated season. How hard a driver uses the available drive shows at every
track all the same, in the longitudinal acceleration (``peak_accel_g``). The other
channels are logged at every track. Slow channels (speed, rpm, lap distance: one sample
in four or five at the full rate) are interpolated between readings onto every sample;
a sample counts only when each of them and the fast channels has a reading within
``signals.HOLD_S`` of it, so a dropout removes samples, never fills them with zeros.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.domain.formats import FLAG_CAUTION
from cognirace.features.car_history import CAR
from cognirace.features.signals import FULL_THROTTLE_PCT, interpolation_steps, reading

if TYPE_CHECKING:
    from cognirace.lake import Lake

FloatArray = npt.NDArray[np.float64]

BRAKING_BAR = 5.0
"""Front brake pressure (bar) from which a sample counts as braking; a resting pedal
reads under 1 bar in motion (12 bar only at standstill in the pit)."""

TURNING_DEG = 15.0
"""Steering angle (deg) from which a sample counts as turning (trail braking when braking)."""

MIN_SAMPLES = 20
"""Fewest samples a lap needs for a style row (10 s at 2 Hz); shorter laps are partial."""

HIGH_QUANTILE = 0.9
"""Quantile that stands for a lap's "peak" braking pressure and deceleration: the highest
sample of a lap is the one most likely to be a noise spike or a bump (the accelerometers'
noise is heavy-tailed), the 90th percentile of the braking samples is not."""

STRAIGHT_G = 0.15
"""Lateral acceleration (g) under which a sample counts as running straight: the
steering read there is the car's straight-ahead reading (its sensor's zero, a few
degrees off on a real car), which the steering features subtract."""

CORNER_DROP_KPH = 5.0
"""Speed (km/h) a corner's slowest point lies below the fastest sample since the previous
one; a shallower dip (sensor noise on a straight, a lift) is not a corner."""

CHANNELS: tuple[str, ...] = (
    "lap_dist_m", "speed_kph", "rpm", "pbrake_f", "accx_g", "accy_g", "steering_deg", "gear",
)
"""Channels every sample of a style row needs (logged at every track)."""

PEDAL = "aps"
"""The channel of the throttle features: the accelerator pedal, where the track logs it."""

N_CORNERS = 3
"""How many of the lap's slowest corners (speed minima) get their own feature."""

STYLE_KEYS: tuple[str, ...] = ("race_id", "track", "vehicle_id", "car_number", "lap", "stint")

LAP: tuple[str, ...] = ("vehicle_id", "lap")
"""Keys of one logged lap within a race: telemetry is keyed by the logger."""

STYLE_FEATURES: tuple[str, ...] = (
    "peak_brake_bar", "brake_bar_per_g", "brake_zone_m", "brake_frac", "trail_brake_frac",
    "peak_decel_g", "peak_accel_g", "throttle_rate_pct_s", "full_after_apex_s",
    "full_throttle_frac", "partial_throttle_pct",
    *(f"corner{i + 1}_speed_rel" for i in range(N_CORNERS)),
    "apex_speed_rel", "peak_lat_g", "steer_rate_rel", "upshift_rpm",
)
"""Columns of one lap's style row, in order (units in ``lap_style``)."""

THROTTLE_FEATURES: tuple[str, ...] = (
    "throttle_rate_pct_s", "full_after_apex_s", "full_throttle_frac", "partial_throttle_pct",
)
"""Style features read from the pedal ``aps``; NaN on a lap without pedal readings."""


def _nanmean(values: FloatArray) -> float:
    """Mean of the finite values, NaN when none (a lap without, say, any upshift)."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Start and end (exclusive) index of each run of True in ``mask``."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _high(values: FloatArray) -> float:
    """The ``HIGH_QUANTILE`` of ``values``, NaN when there are none."""
    return float(np.quantile(values, HIGH_QUANTILE)) if values.size else float("nan")


def _braking(brake: FloatArray, accx: FloatArray, steer: FloatArray,
             dist: FloatArray) -> dict[str, float]:
    """High pressure (bar) and deceleration (g) while braking, pressure per g (bar/g),
    zone length (m), overlaps (shares); ``steer`` is relative to straight ahead."""
    on = brake >= BRAKING_BAR
    zones = [float(dist[min(e, len(dist) - 1)] - dist[s]) for s, e in _runs(on)]
    decel = -accx
    per_g = np.where(on & (decel > 0.2), brake / np.maximum(decel, 0.2), np.nan)
    return {
        "peak_brake_bar": _high(brake[on]) if on.any() else float(brake.max()),
        "brake_bar_per_g": _nanmean(per_g),
        "brake_zone_m": _nanmean(np.array([z for z in zones if z >= 0.0])),
        "brake_frac": float(on.mean()),
        "trail_brake_frac": float((on & (np.abs(steer) >= TURNING_DEG)).sum() / max(on.sum(), 1)),
        "peak_decel_g": _high(decel[on]) if on.any() else float(decel.max()),
        "peak_accel_g": _high(accx[~on & (accx > 0.0)]),
    }


def _throttle(pedal: FloatArray, speed: FloatArray, t: FloatArray) -> dict[str, float]:
    """Application rate (%/s), time to full throttle after each apex (s), shares.

    ``pedal`` is NaN where the sample has no pedal reading; those samples count nowhere,
    and a lap without any gives NaN throughout.
    """
    known = np.isfinite(pedal)
    if not known.any():
        return dict.fromkeys(THROTTLE_FEATURES, float("nan"))
    d_pedal = np.diff(pedal) / np.maximum(np.diff(t), 1e-3)
    rising = d_pedal[d_pedal > 1.0]
    apexes = corner_apexes(speed)
    full = np.flatnonzero(pedal >= FULL_THROTTLE_PCT)
    waits = [float(t[full[full >= a][0]] - t[a]) for a in apexes if np.any(full >= a)]
    partial = pedal[(pedal > 10.0) & (pedal < FULL_THROTTLE_PCT)]
    return {
        "throttle_rate_pct_s": _nanmean(rising),
        "full_after_apex_s": _nanmean(np.array(waits)),
        "full_throttle_frac": float((pedal[known] >= FULL_THROTTLE_PCT).mean()),
        "partial_throttle_pct": _nanmean(partial),
    }


def corner_apexes(speed: FloatArray) -> npt.NDArray[np.int64]:
    """Indices of the lap's corner apexes: local speed minima at least ``CORNER_DROP_KPH``
    below the fastest sample since the previous apex (or the lap's start)."""
    inner = np.flatnonzero((speed[1:-1] < speed[:-2]) & (speed[1:-1] <= speed[2:])) + 1
    apexes: list[int] = []
    start = 0
    for i in inner:
        if float(speed[start:i].max()) - float(speed[i]) >= CORNER_DROP_KPH:
            apexes.append(int(i))
            start = int(i)
    return np.asarray(apexes, dtype=np.int64)


def straight_ahead(steer: FloatArray, accy: FloatArray) -> FloatArray:
    """``steer`` (deg) relative to the lap's straight-ahead reading: the median steering
    where the car runs straight (``STRAIGHT_G``), else over the whole lap."""
    straight = np.abs(accy - np.median(accy)) < STRAIGHT_G
    zero = float(np.median(steer[straight] if straight.sum() >= 5 else steer))
    return steer - zero


def _corners(speed: FloatArray, accy: FloatArray, steer: FloatArray,
             t: FloatArray) -> dict[str, float]:
    """Slowest corner speeds and mean apex speed over the lap's mean speed; lateral g as
    half the spread of its 5th to 95th percentile (an accelerometer's zero error
    cancels); steering smoothness (``steer`` relative to straight ahead)."""
    mean_speed = max(float(speed.mean()), 1.0)
    minima = np.sort(speed[corner_apexes(speed)])
    padded = np.r_[minima, np.full(N_CORNERS, np.nan)][:N_CORNERS]
    steer_rate = np.abs(np.diff(steer)) / np.maximum(np.diff(t), 1e-3)
    low, high = np.quantile(accy, [0.05, 0.95])
    out = {f"corner{i + 1}_speed_rel": float(v / mean_speed) for i, v in enumerate(padded)}
    out |= {
        "apex_speed_rel": _nanmean(minima) / mean_speed,
        "peak_lat_g": float(high - low) / 2.0,
        "steer_rate_rel": float(steer_rate.mean() / max(float(np.abs(steer).mean()), 1.0)),
    }
    return out


def _upshift_rpm(gear: FloatArray, rpm: FloatArray) -> float:
    """Mean revs (1/min) on the last sample before each upshift."""
    up = np.flatnonzero(np.diff(gear) > 0)
    return _nanmean(rpm[up]) if up.size else float("nan")


def on_every_sample(samples: pl.DataFrame, over: Sequence[str] = ()) -> pl.DataFrame:
    """``over``, ``time``, ``CHANNELS`` and the pedal, in time order within each lap, on
    the samples that have every one of ``CHANNELS``.

    Every channel but the gear (a whole number, never between two) is ``interpolated``
    between its readings; samples still missing one of ``CHANNELS`` (a dropout) are left
    out. The pedal may be null (a lap without it, or a gap in it); a frame without an
    ``aps`` column has no pedal readings.

    Args:
        samples: Telemetry samples of one lap, or of many laps told apart by ``over``.
        over: The lap's key columns (empty for the samples of one lap).
    """
    ordered = samples.sort(*over, "time")
    if PEDAL not in ordered.columns:
        ordered = ordered.with_columns(pl.lit(None, dtype=pl.Float64).alias(PEDAL))
    first, second, third = _interpolation(tuple(over))
    return ordered.with_columns(first).with_columns(second).select(
        *over, "time", *third[:-1], reading("gear").alias("gear"), third[-1],
    ).drop_nulls(list(CHANNELS))


@cache
def _interpolation(over: tuple[str, ...]) -> tuple[list[pl.Expr], list[pl.Expr], list[pl.Expr]]:
    """``on_every_sample``'s interpolations (the channels but the gear, then the pedal),
    built once: a live race asks them for every lap of every car."""
    return interpolation_steps({c: reading(c) for c in (*CHANNELS, PEDAL) if c != "gear"},
                               over)


def _style_of(s: pl.DataFrame) -> dict[str, float]:
    """The style row of one lap's ``on_every_sample`` frame."""
    if s.height < MIN_SAMPLES:
        return dict.fromkeys(STYLE_FEATURES, float("nan"))

    floats = s.select(pl.col(c).cast(pl.Float64).fill_null(float("nan"))
                      for c in (*CHANNELS, PEDAL))  # one query, not one a channel

    def col(name: str) -> FloatArray:
        return floats[name].to_numpy()

    t = (s["time"].cast(pl.Int64) - s["time"].cast(pl.Int64)[0]).to_numpy() * 1e-6
    speed, accy = col("speed_kph"), col("accy_g")
    steer = straight_ahead(col("steering_deg"), accy)
    row = _braking(col("pbrake_f"), col("accx_g"), steer, col("lap_dist_m"))
    row |= _throttle(col(PEDAL), speed, t)
    row |= _corners(speed, accy, steer, t)
    row["upshift_rpm"] = _upshift_rpm(col("gear"), col("rpm"))
    return {name: row[name] for name in STYLE_FEATURES}


def lap_style(samples: pl.DataFrame) -> dict[str, float]:
    """One lap's style row from its telemetry samples (any order; sorted by time here).

    Args:
        samples: One car's samples of one lap with the lake's telemetry columns
            (``time``, ``lap_dist_m``, ``speed_kph``, ``gear``, ``rpm``, ``aps``,
            ``pbrake_f``, ``accx_g``, ``accy_g``, ``steering_deg``).

    Returns:
        ``STYLE_FEATURES`` to values; NaN where the lap has no such event (no upshift,
        no braking zone), no pedal readings (``THROTTLE_FEATURES``), or too few samples
        with every one of ``CHANNELS`` (under ``MIN_SAMPLES``: every feature).
    """
    return _style_of(on_every_sample(samples))


def green_laps(lake: Lake) -> pl.DataFrame:
    """Laps fit for a style row, with ``track`` and the stint number (pit stops so far).

    A car is a timing car (``race_id, car_number``), as in the lap table, so stints of
    two cars without a ``vehicle_id`` never run together; laps without a car number
    belong to no known car and are left out. Only laps with a ``vehicle_id`` can have
    telemetry, and so a style row.
    """
    laps = lake.laps.filter(pl.col("car_number").is_not_null()).join(
        lake.races.select("race_id", "track"), on="race_id", how="left")
    car = list(CAR)
    fcy = (pl.col("flag") == FLAG_CAUTION).fill_null(False)
    pit = pl.col("in_pit").fill_null(False)
    return (laps.sort(*car, "lap")
            .with_columns(stint=(pit.shift(1).fill_null(False).cast(pl.Int32).cum_sum()
                                 .over(car) + 1).cast(pl.Int32),
                          _bad=fcy | fcy.shift(1).over(car).fill_null(False) | pit
                          | pit.shift(1).over(car).fill_null(False) | (pl.col("lap") <= 1))
            .filter(~pl.col("_bad"))
            .select("race_id", "track", "vehicle_id", "car_number", "lap", "stint"))


def style_table(lake: Lake) -> pl.DataFrame:
    """One row per race, car and green lap with telemetry: ``STYLE_KEYS`` then features.

    Races without telemetry add no rows; a lake without any gives an empty frame with
    the full schema.
    """
    laps = green_laps(lake)
    rows: list[dict[str, object]] = []
    for race_id in laps["race_id"].unique().sort().to_list():
        samples = lake.scan_telemetry(race_id=race_id).collect()
        if samples.is_empty():
            continue
        keep = laps.filter((pl.col("race_id") == race_id) & pl.col("vehicle_id").is_not_null())
        samples = samples.join(keep.select("vehicle_id", "lap"), on=["vehicle_id", "lap"])
        index = {(r["vehicle_id"], r["lap"]): r for r in keep.iter_rows(named=True)}
        # The lap_style of each lap, with the interpolation done once for the race.
        for (vehicle, lap), group in on_every_sample(samples, LAP).group_by(LAP):
            rows.append({**index[(vehicle, lap)], **_style_of(group)})
    schema = {"race_id": pl.String, "track": pl.String, "vehicle_id": pl.String,
              "car_number": pl.String, "lap": pl.Int32, "stint": pl.Int32,
              **dict.fromkeys(STYLE_FEATURES, pl.Float64)}
    table = pl.DataFrame(rows, schema=schema)
    return table.filter(pl.col(STYLE_FEATURES[0]).is_not_nan()).sort(
        "race_id", "vehicle_id", "lap")


__all__ = ["CHANNELS", "PEDAL", "STYLE_FEATURES", "STYLE_KEYS", "THROTTLE_FEATURES",
           "green_laps", "lap_style", "on_every_sample", "style_table"]
