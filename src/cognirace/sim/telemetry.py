"""Telemetry synthesis: one car's samples, lap by lap, each lap driven on its own.

Each lap starts from the driver's ideal-lap profile (``lapsim.driver_profile``), driven
a little below it at some apexes, with the braking into and the exit out of each such
corner passed again through the car's limits (``_corner_losses``), and bent by a smooth
variation of its own along the lap (a different line: a few per mille of speed over a
few hundred metres).
Pit-lane stretches run at the limiter, braked down to and accelerated up from within
the car's limits (``speed_envelope``); a mechanical fault caps or bends the trace; the
rest of the lap is scaled in time so that the lap lasts exactly the engine's lap time.
Every channel then follows from that lap's own speed trace through the car model, not
from the ideal lap scaled: the acceleration from the speed, the pedal from the drive
force it takes, the brake from the deceleration, the lateral g from the speed and the
curvature, the steering from the curvature and the car's understeer. The samples fall
on a fixed race-time grid (``1/hz`` steps from the green flag), so laps join up. What
the sensors make of the true signals (noise, calibration, the converters, the throttle
blade's own relation to the pedal, the brake bias, sensor faults) is ``sensors``' job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cognirace.sim.car import G_MPS2, GR86
from cognirace.sim.engine import RaceResult
from cognirace.sim.events import Fault
from cognirace.sim.lapsim import SpeedProfile, Style, driver_profile, pedal_and_brake
from cognirace.sim.layout import PIT_LIMIT_KPH, TrackLayout, build_layout
from cognirace.sim.sensors import CarSensors, apply_sensor_fault, digitise, read_sensors

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

ALL_CHANNELS: tuple[str, ...] = (
    "speed", "gear", "nmot", "aps", "ath", "pbrake_f", "pbrake_r", "accx_can", "accy_can",
    "Steering_Angle", "VBOX_Long_Minutes", "VBOX_Lat_Min", "Laptrigger_lapdist_dls",
)
"""Every channel the synthesis produces (the writer picks a track's and orders them)."""

CORNER_LOSS_SD = 0.012
"""Speed a driver loses at an apex against their ideal lap, lap by lap: the absolute value
of a normal draw with this standard deviation, a share of the apex speed."""

BRAKING_SHARE = (0.88, 1.0)
"""Bounds of the share of the ideal lap's hardest deceleration a driver brakes a corner
with, drawn per corner and lap (a few metres earlier on the brakes, or not)."""

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


BRAKE_ENVELOPE_G = 1.2
"""Hardest braking into a pit-lane limiter zone, g: the car slows down before the line."""

ACCEL_ENVELOPE_G = 0.5
"""Hardest acceleration out of a limiter zone, g (a GR86 pulls about 0.5 g in first)."""


def speed_envelope(v: FloatArray, ds: float, decel_mps2: float | FloatArray,
                   accel_mps2: float | FloatArray) -> FloatArray:
    """``v`` lowered where a car could not brake down to, or accelerate up from, the
    speeds around it (m/s over a grid of ``ds`` m; the limits per cell or one for all).

    The braking limit is ``v_i² <= v_j² + 2 (D_j - D_i)`` for every later point ``j``,
    ``D`` the deceleration summed along the grid: a reverse running minimum of
    ``v² + 2 D``; the acceleration limit the same forward. Vectorised, so a lap costs a
    few array passes.
    """
    n = len(v)
    decel_sum = np.cumsum(np.broadcast_to(np.asarray(decel_mps2, dtype=np.float64), n)) * ds
    accel_sum = np.cumsum(np.broadcast_to(np.asarray(accel_mps2, dtype=np.float64), n)) * ds
    v2 = v * v
    ahead = np.minimum.accumulate((v2 + 2 * decel_sum)[::-1])[::-1]
    v2 = np.minimum(v2, ahead - 2 * decel_sum)
    behind = np.minimum.accumulate(v2 - 2 * accel_sum)
    v2 = np.minimum(v2, behind + 2 * accel_sum)
    return np.asarray(np.sqrt(np.maximum(v2, 0.0)))


@dataclass(frozen=True, slots=True)
class LapCells:
    """One lap on the distance grid, as driven.

    Attributes:
        dt_s: Time spent on each grid cell, s.
        speed_mps: Speed on each cell, m/s.
        pace: Lap pace over the driver's ideal lap's on the cells not held to the limiter
            (1 flat out, about 0.7 behind the pace car).
    """

    dt_s: FloatArray
    speed_mps: FloatArray
    pace: float


def _corner_losses(prof: SpeedProfile, ds: float, rng: np.random.Generator) -> FloatArray:
    """The driver's ideal lap with this lap's own corners, m/s per grid cell.

    At each apex a little speed is lost (``CORNER_LOSS_SD``; never more than the ideal,
    the grip's limit), and each corner is braked for a little more gently than the ideal
    lap's hardest deceleration (``BRAKING_SHARE``), so earlier; the lap simulation's
    backward and forward passes (``speed_envelope``) then give the braking into and the
    exit out of each corner: braking points, apexes and exits move from lap to lap.
    """
    v = prof.speed_mps
    apex = np.nonzero((v < np.roll(v, 1)) & (v <= np.roll(v, -1)))[0]
    cap = np.full(len(v), np.inf)
    cap[apex] = v[apex] * (1.0 - np.abs(rng.normal(0.0, CORNER_LOSS_SD, len(apex))))
    hardest = max(-float(np.min((np.roll(v, -1) ** 2 - v**2) / (2 * ds))), 1.0)
    share = rng.uniform(*BRAKING_SHARE, len(apex) + 1)
    corner = np.searchsorted(apex, np.arange(len(v)))  # the apex each cell leads to
    return speed_envelope(np.minimum(v, cap), ds, hardest * share[corner],
                          ACCEL_ENVELOPE_G * G_MPS2)


def _fit_time(dt: FloatArray, v: FloatArray, fixed: npt.NDArray[np.bool_], lap_time: float,
              stationary: float) -> tuple[FloatArray, FloatArray, float]:
    """Scale the cells not ``fixed`` in time so that the lap lasts ``lap_time``; returns
    the cells' times, speeds and the time factor applied."""
    free_time = float(dt[~fixed].sum())
    spare = lap_time - stationary - float(dt[fixed].sum())
    factor = spare / free_time if free_time > 0 and spare > 0 else 1.0
    return np.where(fixed, dt, dt * factor), np.where(fixed, v, v / factor), factor


def _lap_cells(
    prof: SpeedProfile, layout: TrackLayout, lap_time: float, stationary: float,
    zones: list[tuple[float, float]], cap_mps: float | None, driven_mps: FloatArray,
) -> LapCells:
    """Time per grid cell for one lap, and the cell speeds (m/s).

    With limiter zones the lap is fitted twice: scaled to its time, then braked down to
    and accelerated up from the zones (``speed_envelope``), then the cells the envelope
    left alone scaled again (by a factor close to 1) so the lap keeps its time.
    """
    v = driven_mps.copy()
    fixed = np.zeros(len(v), dtype=bool)
    limiter = PIT_LIMIT_KPH / 3.6
    for lo, hi in zones:
        z = (layout.s_m >= lo) & (layout.s_m < hi)
        v[z] = np.minimum(v[z], limiter)
        fixed |= z
    if cap_mps is not None:
        v = np.minimum(v, cap_mps)
    dt, v, factor = _fit_time(prof.dt_s * prof.speed_mps / v, v, fixed, lap_time, stationary)
    if zones:
        bounded = speed_envelope(v, layout.length_m / len(v), BRAKE_ENVELOPE_G * G_MPS2,
                                 ACCEL_ENVELOPE_G * G_MPS2)
        fixed |= bounded < v - 1e-9
        dt = np.where(fixed, dt * v / bounded, dt)
        dt, v, again = _fit_time(dt, bounded, fixed, lap_time, stationary)
        factor *= again
    return LapCells(dt, v, 1.0 / factor)


def _lap_zones(race: RaceResult, layout: TrackLayout, lap: int, car: int
               ) -> list[tuple[float, float]]:
    """Stretches of the lap run at the pit-lane limiter (in-lap end, out-lap start)."""
    half_pit = layout.pit_length_m / 2
    zones: list[tuple[float, float]] = []
    if race.pit_in[lap, car]:
        zones.append((layout.length_m - half_pit, layout.length_m + 1))
    if race.pit_out[lap, car]:
        zones.append((0.0, half_pit))
    return zones


def synthesize_car(
    race: RaceResult, car: int, hz: float, rng: np.random.Generator
) -> CarTelemetry:
    """All samples of one car over its completed laps."""
    track = race.config.track
    layout = build_layout(track)
    style = race.drivers[car].style
    prof = driver_profile(track, style)
    top_mps = float(prof.speed_mps.max())
    car_faults = [f for f in race.faults if f.car == car]
    sensors = CarSensors.draw(rng)
    chunks: list[tuple[FloatArray, IntArray, dict[str, FloatArray]]] = []
    for lap in range(int(race.laps_done[car])):
        end = float(race.end_s[lap, car])
        start = 0.0 if lap == 0 else float(race.end_s[lap - 1, car])
        stationary = float(race.stationary_s[lap, car])
        mech = [f for f in car_faults if f.lap_loss_s and f.start_lap - 1 <= lap <= f.end_lap - 1]
        cap = top_mps
        for f in mech:
            if f.kind == "power_loss":
                cap = top_mps * (1.0 - f.magnitude)
        driven = _corner_losses(prof, layout.length_m / len(prof.speed_mps), rng) \
            * _line_variation(len(prof.speed_mps), rng)
        cells = _lap_cells(prof, layout, end - start, stationary,
                           _lap_zones(race, layout, lap, car), cap, driven)
        t0 = np.ceil(start * hz - 1e-9) / hz
        times = np.arange(t0, end - 1e-9, 1.0 / hz)
        if not len(times):
            continue
        channels = _drive(prof, layout, cells, style, mech, sensors.understeer_deg_per_g)
        values = _sample_lap(prof, layout, cells, channels, times - start, stationary)
        chunks.append((times, np.full(len(times), lap + 1, dtype=np.int64), values))
    if not chunks:
        return CarTelemetry(np.zeros(0), np.zeros(0, dtype=np.int64),
                            {c: np.zeros(0) for c in ALL_CHANNELS})
    t = np.concatenate([c[0] for c in chunks])
    laps = np.concatenate([c[1] for c in chunks])
    true = {name: np.concatenate([c[2][name] for c in chunks]) for name in ALL_CHANNELS}
    values = read_sensors(true, laps, hz, sensors, rng)
    for f in car_faults:
        if not f.lap_loss_s:
            apply_sensor_fault(f, t, laps, values, rng)
    return CarTelemetry(t, laps, digitise(values, sensors))


def _drive(prof: SpeedProfile, layout: TrackLayout, cells: LapCells, style: Style,
           mech: list[Fault], understeer_deg_per_g: float) -> dict[str, FloatArray]:
    """The true channels on each grid cell, from this lap's own speed.

    Acceleration, pedal and brake follow from the lap's speed trace through the car
    model (``lapsim.pedal_and_brake``), not from the ideal lap scaled, so each lap's
    line, pace and pit-lane stretches show in every channel. Slowed down (a caution),
    drivers shed speed mostly by lifting: the brakes' share of the deceleration shrinks
    with the pace, as the real pace-car laps show (14 bar).
    """
    v = cells.speed_mps
    ds = layout.length_m / len(v)
    accel = (np.concatenate([v[1:], v[-1:]]) ** 2 - v**2) / (2 * ds)
    gear = prof.gear.copy()
    for f in mech:
        if f.kind == "gearbox":
            gear = np.where(gear == 4, 3, gear)
    force = GR86.drive_force_n(v, gear)
    for f in mech:
        if f.kind == "power_loss":
            force = force * (1.0 - f.magnitude)
    aps, brake = pedal_and_brake(v, accel, force, style)
    brake = brake * float(np.clip((cells.pace - 0.5) / 0.5, 0.0, 1.0))
    accx = accel / G_MPS2
    for f in mech:
        if f.kind == "brake_fade":
            brake = brake * (1.0 + 3.0 * f.magnitude)
            accx = np.where(accx < 0, accx * (1.0 - f.magnitude), accx)
        if f.kind == "power_loss":
            aps = np.where(v >= 0.999 * float(v.max()), 100.0, aps)  # flat out at the cap
            accx = np.where(accx > 0, accx * (1.0 - f.magnitude), accx)
    accy = v * v * layout.curvature_per_m / G_MPS2
    return {"gear": gear.astype(np.float64), "aps": aps, "brake": brake, "accx": accx,
            "accy": accy, "steer": prof.steering_deg + understeer_deg_per_g * accy}


def _sample_lap(
    prof: SpeedProfile, layout: TrackLayout, cells: LapCells, driven: dict[str, FloatArray],
    tau: FloatArray, stationary: float,
) -> dict[str, FloatArray]:
    """The lap's true channels at times ``tau`` since the lap start.

    ``pbrake_f`` is the driver's brake demand; the sensors turn it into both pressures.
    """
    v = cells.speed_mps
    cum = np.concatenate([[stationary], stationary + np.cumsum(cells.dt_s)])
    pos = np.interp(tau, cum, np.arange(len(cum), dtype=np.float64))
    idx = np.minimum(pos.astype(np.int64), len(v) - 1)
    s = np.minimum(pos * (layout.length_m / len(v)), layout.length_m - 0.1)
    moving = tau >= stationary
    speed = np.where(moving, np.interp(pos, np.arange(len(v)), v, period=len(v)), 0.0)
    gear = np.where(moving, driven["gear"][idx], 1.0)
    per_gear = GR86.wheel_rpm_factor()
    rpm = np.clip(speed * per_gear[gear.astype(np.int64) - 1], 950.0, GR86.rpm_limit + 150)
    cell = np.arange(len(v), dtype=np.float64)

    def at(name: str) -> FloatArray:
        """A cell channel between cells: a brake or a pedal is applied over time."""
        return np.asarray(np.interp(pos, cell, driven[name]))

    aps, brake = np.where(moving, at("aps"), 0.0), np.where(moving, at("brake"), 12.0)
    lat, lon = layout.lat_lon_deg(s)
    return {
        "speed": speed * 3.6,
        "gear": gear,
        "nmot": rpm,
        "aps": aps,
        "ath": aps,
        "pbrake_f": brake,
        "pbrake_r": brake,
        "accx_can": np.where(moving, at("accx"), 0.0),
        "accy_can": np.where(moving, at("accy"), 0.0),
        "Steering_Angle": at("steer"),
        "VBOX_Long_Minutes": lon,
        "VBOX_Lat_Min": lat,
        "Laptrigger_lapdist_dls": s,
    }


__all__ = ["ALL_CHANNELS", "CarTelemetry", "LapCells", "channels_for", "speed_envelope",
           "synthesize_car"]
