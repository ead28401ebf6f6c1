"""Quasi-steady-state lap simulation: the fastest lap a car and driver can do.

The speed at each grid point is the lowest of three limits: the corner speed the
lateral grip allows (``v² κ ≤ μ g``), what the engine can reach accelerating from the
point before (power, gearing, drag, friction circle) and what the brakes can shed
before the point after. A driver's style scales the grip used in corners, the braking
and the throttle application, so each driver has a profile of their own. The profile
holds every channel the telemetry needs on the distance grid.

Each track carries a grip factor (surface and layout approximation) found once by
bisection so that a perfect driver's lap matches the calibration target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from cognirace.domain.tracks import TRACKS
from cognirace.sim.car import G_MPS2, GR86, CarSpec
from cognirace.sim.layout import TrackLayout, build_layout

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

REFERENCE_MARGIN_S: dict[str, float] = {
    "barber": 0.33, "cota": 0.23, "indianapolis": 0.05, "road_america": -0.57,
    "sebring": 0.10, "sonoma": -0.26, "vir": 0.26,
}
"""How much a perfect driver's ideal lap lies below the best race lap, s, per track.

The ideal lap is a perfect driver's typical lap; a race's best lap is set by the fastest
drivers (slower than perfect, on part-worn tyres with some fuel) as the best of many
scattered laps, below the ideal where the scatter is large. These offsets, measured over
many simulated races (``bench/calibrate.py``), put the median simulated best race lap on
the track's ``best_lap_s`` (Road America: 0.25 s above it, inside the real range whose
faster end it is).
"""

FUEL_L_PER_UNIT = 0.034
"""Fuel burnt per second at full load and the rev limit, litres (throttle × rpm model)."""

IDLE_LOAD = 0.06
"""Load fraction burnt while off the throttle (idle, overrun), 0..1."""


@dataclass(frozen=True, slots=True)
class Style:
    """How a driver uses the car; 1.0/0.0 is a perfect driver.

    Attributes:
        corner_margin: Share of the lateral grip left unused in corners, 0..0.1.
        brake_factor: Share of the braking grip used, 0.8..1 (lower = brakes earlier).
        throttle_factor: Share of the drive force used on exits, 0.8..1.
    """

    corner_margin: float = 0.0
    brake_factor: float = 1.0
    throttle_factor: float = 1.0


@dataclass(frozen=True, slots=True)
class SpeedProfile:
    """A lap on the distance grid, with every channel.

    Attributes:
        s_m: Lap distance, m.
        speed_mps: Speed, m/s.
        dt_s: Time spent on each grid cell, s.
        gear: Gear 1..6.
        rpm: Engine speed, rpm.
        aps_pct: Accelerator pedal, %.
        brake_bar: Front brake pressure, bar.
        accx_g: Longitudinal acceleration, g (+ = accelerating).
        accy_g: Lateral acceleration, g (+ = to the left).
        steering_deg: Steering wheel angle, degrees (+ = left).
        lap_time_s: Total lap time, s.
        fuel_l: Fuel burnt over the lap, litres.
    """

    s_m: FloatArray
    speed_mps: FloatArray
    dt_s: FloatArray
    gear: IntArray
    rpm: FloatArray
    aps_pct: FloatArray
    brake_bar: FloatArray
    accx_g: FloatArray
    accy_g: FloatArray
    steering_deg: FloatArray
    lap_time_s: float
    fuel_l: float


def _speed_trace(
    layout: TrackLayout, car: CarSpec, style: Style, grip: float, mass_kg: float
) -> FloatArray:
    """Forward (power) and backward (brake) passes; returns the speed at each point."""
    n = len(layout.s_m)
    ds = layout.length_m / n
    kappa = np.abs(layout.curvature_per_m)
    mu_lat = car.mu_lat * grip * (1.0 - style.corner_margin)
    mu_long = car.mu_long * grip
    v_corner = np.sqrt(mu_lat * G_MPS2 / np.maximum(kappa, 1e-5)).clip(max=95.0)
    start = int(np.argmin(v_corner))
    order = np.roll(np.arange(n), -start)
    vc = v_corner[order].tolist()
    kp = kappa[order].tolist()
    # Lookup tables over speed in 0.1 m/s steps: drive force and resistance.
    v_tab = np.arange(0.0, 100.0, 0.1)
    _, _, force = car.best_gear(v_tab)
    drive = (force * style.throttle_factor / mass_kg).tolist()
    resist = (car.resist_force_n(v_tab, mass_kg) / mass_kg).tolist()
    g_lat = mu_lat * G_MPS2
    g_long = mu_long * G_MPS2
    fwd = [0.0] * n
    fwd[0] = vc[0]
    for i in range(n - 1):
        v = fwd[i]
        k = min(int(v * 10), 999)
        ratio = min(1.0, v * v * kp[i] / g_lat)
        avail = g_long * math.sqrt(max(0.0, 1.0 - ratio * ratio))
        a = min(drive[k], avail) - resist[k]
        nxt = math.sqrt(max(v * v + 2 * a * ds, 0.0)) if a > 0 else v
        if a <= 0:
            nxt = math.sqrt(max(v * v + 2 * a * ds, 1.0))
        fwd[i + 1] = min(nxt, vc[i + 1])
    bwd = fwd[:]
    bf = style.brake_factor
    for i in range(n - 1, 0, -1):
        v = bwd[i] if i < n else bwd[0]
        k = min(int(v * 10), 999)
        ratio = min(1.0, v * v * kp[i] / g_lat)
        avail = g_long * bf * math.sqrt(max(0.0, 1.0 - ratio * ratio))
        reach = math.sqrt(v * v + 2 * (avail + resist[k]) * ds)
        if reach < bwd[i - 1]:
            bwd[i - 1] = reach
    speed = np.empty(n)
    speed[order] = np.asarray(bwd)
    return speed


def pedal_and_brake(
    speed_mps: FloatArray, accel_mps2: FloatArray, force_n: FloatArray, style: Style, *,
    car: CarSpec = GR86, mass_kg: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """The pedal (%) and front brake pressure (bar) that make the car accelerate so.

    The pedal is the share of the full-load drive force ``force_n`` the acceleration and
    the resistance need, over the driver's ``throttle_factor`` (never under 8 % off the
    brakes: the engine idles up); the brake is the deceleration past 0.05 g, in bar.
    The lap simulation derives its ideal lap's channels so, and the telemetry each
    lap's own from that lap's speed.
    """
    mass = car.mass_kg + 30.0 if mass_kg is None else mass_kg
    resist = car.resist_force_n(speed_mps, mass)
    need = (accel_mps2 * mass + resist) / np.maximum(force_n, 1.0)
    aps = np.clip(need / style.throttle_factor, 0.0, 1.0) * 100.0
    braking = accel_mps2 < -0.05 * G_MPS2
    aps = np.where(braking, 0.0, np.maximum(aps, 8.0))
    brake = np.where(braking, -accel_mps2 / G_MPS2 * car.brake_bar_per_g, 0.0)
    return np.asarray(aps), np.asarray(brake)


def simulate_lap(
    layout: TrackLayout,
    style: Style = Style(),
    *,
    grip: float | None = None,
    car: CarSpec = GR86,
    mass_kg: float | None = None,
) -> SpeedProfile:
    """Simulate one flying lap and derive every channel.

    Args:
        layout: The track.
        style: The driver's style.
        grip: Track grip factor; ``None`` uses the track's calibrated factor.
        car: The car.
        mass_kg: Mass including fuel, kg; ``None`` is the car with half a tank.
    """
    grip = track_grip(layout.track.key) if grip is None else grip
    mass = car.mass_kg + 30.0 if mass_kg is None else mass_kg
    v = _speed_trace(layout, car, style, grip, mass)
    n = len(v)
    ds = layout.length_m / n
    v_next = np.roll(v, -1)
    dt = 2 * ds / (v + v_next)
    a_long = (v_next**2 - v**2) / (2 * ds)
    gear, rpm, force = car.best_gear(v)
    aps, brake = pedal_and_brake(v, a_long, force, style, car=car, mass_kg=mass)
    accy = v * v * layout.curvature_per_m / G_MPS2
    steer = np.degrees(np.arctan(car.wheelbase_m * layout.curvature_per_m)) * car.steering_ratio
    load = np.maximum(aps / 100.0, IDLE_LOAD) * rpm / car.rpm_limit
    return SpeedProfile(
        s_m=layout.s_m,
        speed_mps=v,
        dt_s=dt,
        gear=gear.astype(np.int64),
        rpm=rpm,
        aps_pct=aps,
        brake_bar=brake,
        accx_g=a_long / G_MPS2,
        accy_g=accy,
        steering_deg=steer,
        lap_time_s=float(dt.sum()),
        fuel_l=float((load * dt).sum() * FUEL_L_PER_UNIT),
    )


def reference_lap_s(track_key: str) -> float:
    """Target ideal lap of a perfect driver on fresh tyres at the calibration mass, s."""
    track = TRACKS[track_key]
    return track.best_lap_s - REFERENCE_MARGIN_S.get(track_key, 0.14 * track.length_km)


@lru_cache(maxsize=16)
def track_grip(track_key: str) -> float:
    """The grip factor that puts a perfect driver's lap on ``reference_lap_s``."""
    layout = build_layout(track_key)
    target = reference_lap_s(track_key)
    lo, hi = 0.4, 2.5
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        t = simulate_lap(layout, Style(), grip=mid).lap_time_s
        if t > target:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-5:
            break
    return 0.5 * (lo + hi)


@lru_cache(maxsize=1024)
def driver_profile(track_key: str, style: Style) -> SpeedProfile:
    """A driver's own ideal lap at a track (cached per process)."""
    return simulate_lap(build_layout(track_key), style)


__all__ = [
    "SpeedProfile",
    "Style",
    "driver_profile",
    "pedal_and_brake",
    "reference_lap_s",
    "simulate_lap",
    "track_grip",
]
