"""Drivers and their persistent styles, cars, numbers and classes.

A season has one roster: each driver keeps their car (chassis and number), class,
team and style in every race, so that style is learnable from the telemetry. The
style sets the driver's own ideal lap through the lap simulation (``lapsim.Style``)
and their racing habits (consistency, error rate, tyre and fuel use).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cognirace.sim.lapsim import Style

MAX_CARS = 31
"""Largest field the series runs."""

_TEAMS = (
    "Copeland Motorsports", "Nitro Motorsports", "TechSport Racing", "Smooge Racing",
    "BSI Racing", "Precision Racing LA", "Hixon Motor Sports", "JTR Motorsports",
    "Rossi Racing", "Wolf Pack Racing",
)


@dataclass(frozen=True, slots=True)
class Driver:
    """A driver with their car and style.

    Attributes:
        driver_id: Stable id across races (``D01``..).
        car_number: Race number painted on the car.
        chassis: Chassis code of the car (``002``), part of ``vehicle_id``.
        car_class: ``Pro`` or ``Am``.
        team: Team name.
        style: Corner margin, braking and throttle use (drives the ideal lap).
        consistency_s: Standard deviation of the driver's lap-to-lap scatter, s.
        p_error_per_lap: Probability of a mistake (off, lock-up) on a green lap.
        tyre_wear_factor: How hard the driver is on tyres, ×1 = average.
        fuel_factor: Fuel use relative to the profile's burn, ×1 = average.
        racecraft: Skill at passing and defending, 0..1.
    """

    driver_id: str
    car_number: int
    chassis: str
    car_class: str
    team: str
    style: Style
    consistency_s: float
    p_error_per_lap: float
    tyre_wear_factor: float
    fuel_factor: float
    racecraft: float


def make_roster(rng: np.random.Generator, n_drivers: int = MAX_CARS) -> list[Driver]:
    """Draw the season's drivers.

    Args:
        rng: Random generator for this season's roster.
        n_drivers: Number of drivers, at most ``MAX_CARS``.
    """
    numbers = rng.choice(np.arange(2, 100), size=n_drivers, replace=False)
    chassis = rng.choice(np.arange(1, 120), size=n_drivers, replace=False)
    roster = []
    for i in range(n_drivers):
        pro = i < n_drivers * 0.6
        skill = rng.beta(2.0, 2.5) if pro else rng.beta(2.5, 2.0)
        style = Style(
            corner_margin=round(float(0.004 + 0.028 * skill + rng.normal(0, 0.003)), 4),
            brake_factor=round(float(np.clip(0.985 - 0.08 * skill + rng.normal(0, 0.01), 0.84,
                                             1.0)), 4),
            throttle_factor=round(float(np.clip(0.99 - 0.05 * skill + rng.normal(0, 0.01),
                                                0.88, 1.0)), 4),
        )
        roster.append(
            Driver(
                driver_id=f"D{i + 1:02d}",
                car_number=int(numbers[i]),
                chassis=f"{int(chassis[i]):03d}",
                car_class="Pro" if pro else "Am",
                team=_TEAMS[int(rng.integers(len(_TEAMS)))],
                style=Style(max(style.corner_margin, 0.0), style.brake_factor,
                            style.throttle_factor),
                consistency_s=round(float(0.22 + 0.35 * skill * rng.uniform(0.6, 1.2)), 3),
                p_error_per_lap=round(float(0.004 + 0.025 * skill * rng.uniform(0.5, 1.5)), 4),
                tyre_wear_factor=round(float(rng.uniform(0.75, 1.3)), 3),
                fuel_factor=round(float(rng.uniform(0.95, 1.06)), 3),
                racecraft=round(float(np.clip(1.0 - skill + rng.normal(0, 0.15), 0, 1)), 3),
            )
        )
    return roster


__all__ = ["MAX_CARS", "Driver", "make_roster"]
