"""The GR86 cup car: mass, engine, gearbox, drag and tyre grip.

Figures follow the public description of the car (2.4 L flat-four, about 228 hp,
6-speed sequential, about 1,300 kg with driver, 83 L fuel cell); the aero and tyre
figures are estimates of a car without downforce on a single slick compound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

G_MPS2 = 9.81
"""Standard gravity, m/s²."""

FUEL_DENSITY_KG_PER_L = 0.745
"""Density of race gasoline, kg/L."""


@dataclass(frozen=True, slots=True)
class CarSpec:
    """A GR86 cup car.

    Attributes:
        mass_kg: Mass with driver and an empty fuel cell, kg.
        tank_l: Fuel cell capacity, litres.
        rpm_points: Engine speeds of the torque curve, rpm.
        torque_nm: Full-load engine torque at ``rpm_points``, N·m.
        rpm_limit: Rev limiter, rpm.
        gear_ratios: Ratios of gears 1 to 6.
        final_drive: Final drive ratio.
        driveline_eff: Fraction of engine power reaching the wheels.
        wheel_radius_m: Loaded rolling radius, m.
        cda_m2: Drag coefficient times frontal area, m².
        air_density_kg_m3: Air density, kg/m³.
        rolling_coeff: Rolling resistance coefficient.
        mu_lat: Lateral tyre grip on fresh slicks, g.
        mu_long: Longitudinal (braking) grip, g.
        wheelbase_m: Wheelbase, m.
        steering_ratio: Steering wheel angle per road-wheel angle.
        brake_bar_per_g: Front brake pressure per g of braking, bar.
    """

    mass_kg: float = 1300.0
    tank_l: float = 83.0
    rpm_points: tuple[float, ...] = (1000, 2500, 3700, 5000, 6000, 7000, 7500)
    torque_nm: tuple[float, ...] = (150, 215, 250, 248, 240, 232, 200)
    rpm_limit: float = 7400.0
    gear_ratios: tuple[float, ...] = (3.626, 2.188, 1.541, 1.213, 1.000, 0.767)
    final_drive: float = 4.3
    driveline_eff: float = 0.87
    wheel_radius_m: float = 0.316
    cda_m2: float = 0.80
    air_density_kg_m3: float = 1.20
    rolling_coeff: float = 0.015
    mu_lat: float = 1.40
    mu_long: float = 1.30
    wheelbase_m: float = 2.575
    steering_ratio: float = 13.5
    brake_bar_per_g: float = 75.0

    def wheel_rpm_factor(self) -> FloatArray:
        """Engine rpm per m/s of road speed in each gear."""
        ratios = np.asarray(self.gear_ratios) * self.final_drive
        return ratios * 60.0 / (2 * math.pi * self.wheel_radius_m)

    def best_gear(self, speed_mps: FloatArray) -> tuple[IntArray, FloatArray, FloatArray]:
        """The gear giving the most drive force at each speed.

        Returns:
            ``(gear, rpm, force_n)``: gear 1..6, engine speed (rpm) and the drive force at
            full load (N) in that gear.
        """
        v = np.maximum(np.asarray(speed_mps, dtype=np.float64), 0.1)
        per_gear = self.wheel_rpm_factor()
        rpm = v[:, None] * per_gear[None, :]
        torque = np.interp(np.maximum(rpm, self.rpm_points[0]), self.rpm_points, self.torque_nm)
        ratios = np.asarray(self.gear_ratios) * self.final_drive
        force = torque * ratios[None, :] * self.driveline_eff / self.wheel_radius_m
        force = np.where(rpm <= self.rpm_limit, force, 0.0)
        gear_index = np.argmax(force, axis=1)
        rows = np.arange(len(v))
        return gear_index + 1, rpm[rows, gear_index], force[rows, gear_index]

    def drive_force_n(self, speed_mps: FloatArray, gear: IntArray) -> FloatArray:
        """Full-load drive force at each speed in the given gear (1..6), N.

        Past the limiter the torque stays at the curve's last point: a driver's gear at a
        point of the lap, on a lap a little faster there than their ideal one, still
        pulls.
        """
        v = np.maximum(np.asarray(speed_mps, dtype=np.float64), 0.1)
        ratios = np.asarray(self.gear_ratios)[np.clip(gear, 1, 6) - 1] * self.final_drive
        rpm = v * ratios * 60.0 / (2 * math.pi * self.wheel_radius_m)
        torque = np.interp(np.maximum(rpm, self.rpm_points[0]), self.rpm_points, self.torque_nm)
        return np.asarray(torque * ratios * self.driveline_eff / self.wheel_radius_m)

    def resist_force_n(self, speed_mps: FloatArray, mass_kg: float) -> FloatArray:
        """Aerodynamic drag plus rolling resistance, N."""
        v = np.asarray(speed_mps, dtype=np.float64)
        drag = 0.5 * self.air_density_kg_m3 * self.cda_m2 * v * v
        return drag + self.rolling_coeff * mass_kg * G_MPS2


GR86 = CarSpec()
"""The one car of the series."""

__all__ = ["FUEL_DENSITY_KG_PER_L", "GR86", "G_MPS2", "CarSpec"]
