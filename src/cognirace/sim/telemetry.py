"""Telemetry synthesis: one car's samples, lap by lap, from its driver's speed profile.

Each lap starts from the driver's ideal-lap profile (``lapsim.driver_profile``) bent by a
smooth variation of its own along the lap (a little earlier on the brakes here, a
different line and exit there: a few per mille of speed over a few hundred metres).
Pit-lane stretches run at the limiter, a mechanical fault caps or bends the trace, and
the rest of the lap is scaled in time so that the lap lasts exactly the engine's lap
time. The samples fall on a fixed race-time grid (``1/hz`` steps from the green flag),
so laps join up. What the sensors make of the true signals (noise, the throttle
blade's own relation to the pedal, the brake bias, sensor faults) is ``sensors``' job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cognirace.sim.car import GR86
from cognirace.sim.engine import RaceResult
from cognirace.sim.events import Fault
from cognirace.sim.lapsim import SpeedProfile, driver_profile
from cognirace.sim.layout import PIT_LIMIT_KPH, TrackLayout, build_layout
from cognirace.sim.sensors import CarSensors, apply_sensor_fault, read_sensors

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ALL_CHANNELS: tuple[str, ...] = (
    "speed", "gear", "nmot", "aps", "ath", "pbrake_f", "pbrake_r", "accx_can", "accy_can",
    "Steering_Angle", "VBOX_Long_Minutes", "VBOX_Lat_Min", "Laptrigger_lapdist_dls",
)
"""Every channel the synthesis produces (the writer picks a track's and orders them)."""

LINE_VARIATION = (4, 0.004)
"""Lap-to-lap variation of the speed along the lap: how many waves (each of 2 to 15 per
lap) and the standard deviation of each one's amplitude (share of speed)."""


@dataclass(frozen=True, slots=True)
class CarTelemetry:
    """One car's samples.

    Attributes:
        t_s: Race time of each sample since the green flag, s.
        lap: Lap number (1-based) of each sample.
        values: Channel name to values; NaN marks a dropped sample.
    """

    t_s: FloatArray
    lap: IntArray
    values: dict[str, FloatArray]


def channels_for(track_has_ath: bool, track_has_gps: bool, missing: bool,
                 track_has_aps: bool = True) -> tuple[str, ...]:
    """Channels written at a track; ``missing`` drops ``aps``/``ath``/GPS where it lacks them."""
    drop: set[str] = set()
    if missing and not track_has_ath:
        drop.add("ath")
    if missing and not track_has_aps:
        drop.add("aps")
    if missing and not track_has_gps:
        drop |= {"VBOX_Long_Minutes", "VBOX_Lat_Min"}
    return tuple(c for c in ALL_CHANNELS if c not in drop)


def _line_variation(n: int, rng: np.random.Generator) -> FloatArray:
    """A smooth periodic factor around 1 over ``n`` grid cells: this lap's own line."""
    harmonics, sd = LINE_VARIATION
    phase = np.arange(n) * (2 * np.pi / n)
    k = rng.integers(2, 16, harmonics)[:, None]
    amp = rng.normal(0.0, sd, harmonics)[:, None]
    shift = rng.uniform(0.0, 2 * np.pi, harmonics)[:, None]
    return np.asarray(1.0 + (amp * np.sin(k * phase[None, :] + shift)).sum(axis=0))


def _lap_cells(
    prof: SpeedProfile, layout: TrackLayout, lap_time: float, stationary: float,
    zones: list[tuple[float, float]], cap_mps: float | None, line: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Time per grid cell for one lap, and the cell speeds (m/s)."""
    v = prof.speed_mps * line
    fixed = np.zeros(len(v), dtype=bool)
    limiter = PIT_LIMIT_KPH / 3.6
    for lo, hi in zones:
        z = (layout.s_m >= lo) & (layout.s_m < hi)
        v[z] = np.minimum(v[z], limiter)
        fixed |= z
    if cap_mps is not None:
        v = np.minimum(v, cap_mps)
    dt = prof.dt_s * prof.speed_mps / v
    free_time = float(dt[~fixed].sum())
    spare = lap_time - stationary - float(dt[fixed].sum())
    factor = spare / free_time if free_time > 0 and spare > 0 else 1.0
    dt = np.where(fixed, dt, dt * factor)
    v = np.where(fixed, v, v / factor)
    return dt, v


def synthesize_car(
    race: RaceResult, car: int, hz: float, rng: np.random.Generator
) -> CarTelemetry:
    """All samples of one car over its completed laps."""
    track = race.config.track
    layout = build_layout(track)
    prof = driver_profile(track, race.drivers[car].style)
    half_pit = layout.pit_length_m / 2
    top_mps = float(prof.speed_mps.max())
    car_faults = [f for f in race.faults if f.car == car]
    chunks: list[tuple[FloatArray, IntArray, dict[str, FloatArray]]] = []
    for lap in range(int(race.laps_done[car])):
        end = float(race.end_s[lap, car])
        start = 0.0 if lap == 0 else float(race.end_s[lap - 1, car])
        zones: list[tuple[float, float]] = []
        stationary = float(race.stationary_s[lap, car])
        if race.pit_in[lap, car]:
            zones.append((layout.length_m - half_pit, layout.length_m + 1))
        if race.pit_out[lap, car]:
            zones.append((0.0, half_pit))
        mech = [f for f in car_faults if f.lap_loss_s and f.start_lap - 1 <= lap <= f.end_lap - 1]
        cap = top_mps
        for f in mech:
            if f.kind == "power_loss":
                cap = top_mps * (1.0 - f.magnitude)
        line = _line_variation(len(prof.speed_mps), rng)
        dt, v = _lap_cells(prof, layout, end - start, stationary, zones, cap, line)
        t0 = np.ceil(start * hz - 1e-9) / hz
        times = np.arange(t0, end - 1e-9, 1.0 / hz)
        if not len(times):
            continue
        values = _sample_lap(prof, layout, dt, np.minimum(v, cap), times - start, stationary,
                             mech)
        chunks.append((times, np.full(len(times), lap + 1, dtype=np.int64), values))
    if not chunks:
        return CarTelemetry(np.zeros(0), np.zeros(0, dtype=np.int64),
                            {c: np.zeros(0) for c in ALL_CHANNELS})
    t = np.concatenate([c[0] for c in chunks])
    laps = np.concatenate([c[1] for c in chunks])
    true = {name: np.concatenate([c[2][name] for c in chunks]) for name in ALL_CHANNELS}
    values = read_sensors(true, laps, hz, CarSensors.draw(rng), rng)
    for f in car_faults:
        if not f.lap_loss_s:
            apply_sensor_fault(f, t, laps, values, rng)
    return CarTelemetry(t, laps, values)


def _sample_lap(
    prof: SpeedProfile, layout: TrackLayout, dt: FloatArray, v: FloatArray,
    tau: FloatArray, stationary: float, mech: list[Fault],
) -> dict[str, FloatArray]:
    """Interpolate the lap's true channels at times ``tau`` since the lap start.

    ``pbrake_f`` is the driver's brake demand; the sensors turn it into both pressures.
    """
    cum = np.concatenate([[stationary], stationary + np.cumsum(dt)])
    pos = np.interp(tau, cum, np.arange(len(cum), dtype=np.float64))
    idx = np.minimum(pos.astype(np.int64), len(v) - 1)
    ds = layout.length_m / len(v)
    s = np.minimum(pos * ds, layout.length_m - 0.1)
    moving = tau >= stationary
    speed = np.where(moving, np.interp(pos, np.arange(len(v)), v, period=len(v)), 0.0)
    k = np.clip(speed / np.maximum(prof.speed_mps[idx], 1.0), 0.0, 1.2)
    gear = np.where(moving, prof.gear[idx], 1).astype(np.float64)
    for f in mech:
        if f.kind == "gearbox":
            gear = np.where(gear == 4, 3.0, gear)
    per_gear = GR86.wheel_rpm_factor()
    rpm = np.clip(speed * per_gear[gear.astype(np.int64) - 1], 950.0, GR86.rpm_limit + 150)
    aps = np.clip(prof.aps_pct[idx] * k**1.5, 0.0, 100.0)
    # slowed down (a caution), drivers shed speed mostly by lifting: the brakes' share of
    # the deceleration shrinks with the pace, as the real pace-car laps show (14 bar)
    brake = prof.brake_bar[idx] * k**2 * np.clip((k - 0.5) / 0.5, 0.0, 1.0)
    accx = prof.accx_g[idx] * k**2
    for f in mech:
        if f.kind == "brake_fade":
            brake = brake * (1.0 + 3.0 * f.magnitude)
            accx = np.where(accx < 0, accx * (1.0 - f.magnitude), accx)
        if f.kind == "power_loss":
            accx = np.where(accx > 0, accx * (1.0 - f.magnitude), accx)
    lat, lon = layout.lat_lon_deg(s)
    return {
        "speed": speed * 3.6,
        "gear": gear,
        "nmot": rpm,
        "aps": np.where(moving, aps, 0.0),
        "ath": np.where(moving, aps, 0.0),
        "pbrake_f": np.where(moving, brake, 12.0),
        "pbrake_r": np.where(moving, brake, 12.0),
        "accx_can": np.where(moving, accx, 0.0),
        "accy_can": np.where(moving, prof.accy_g[idx] * k**2, 0.0),
        "Steering_Angle": prof.steering_deg[idx],
        "VBOX_Long_Minutes": lon,
        "VBOX_Lat_Min": lat,
        "Laptrigger_lapdist_dls": s,
    }


__all__ = ["ALL_CHANNELS", "CarTelemetry", "channels_for", "synthesize_car"]
