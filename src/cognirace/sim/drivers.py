"""Drivers and their persistent styles, cars, numbers and classes.

A season has one roster: each driver keeps their car (chassis and number), class,
team and style in every race, so that style is learnable from the telemetry. The
style sets the driver's own ideal lap through the lap simulation (``lapsim.Style``)
and their racing habits (consistency, error rate, tyre and fuel use).

The roster mirrors the real 2025 fields: every car runs in class ``Am`` (a few in the
``Legends`` group); about two thirds of the drivers are regulars who enter nearly every
race and the rest enter now and then and are slower, so that a big field (30 cars at
COTA and Sonoma) spreads wider than a small one (21 at Sebring), as the real timing shows.
Car numbers are text: the roster holds a few zero-padded numbers beside their unpadded
twin (``"03"`` and ``"3"``), two different cars, as at the real Indianapolis round.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cognirace.sim.lapsim import Style

MAX_CARS = 31
"""Largest field the series runs."""

REGULAR_SHARE = 0.7
"""Share of the roster that enters nearly every race."""

P_ATTEND_REGULAR = 0.95
P_ATTEND_OCCASIONAL = 0.2
"""Relative weights with which regulars and occasional entrants fill a field."""

N_PADDED_TWINS = 2
"""Numbers that appear twice on the roster, once zero-padded (``"03"`` beside ``"3"``)."""

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
        car_number: Race number painted on the car, as text (``"03"`` and ``"3"`` differ).
        chassis: Chassis code of the car (``002``), part of ``vehicle_id``.
        car_class: Class of the car; ``Am`` throughout the 2025 season.
        team: Team name.
        style: Corner margin, braking and throttle use (drives the ideal lap).
        consistency_s: Standard deviation of the driver's lap-to-lap scatter on a
            100-second lap, s (scaled with the lap time).
        p_error_per_lap: Probability of a mistake (off, lock-up) on a green lap.
        tyre_wear_factor: How hard the driver is on tyres, ×1 = average.
        fuel_factor: Fuel use relative to the profile's burn, ×1 = average.
        racecraft: Skill at passing and defending, 0..1.
        group: Timing ``GROUP`` (``Legends`` or empty).
        p_attend: Relative weight with which the driver is in a race's field.
    """

    driver_id: str
    car_number: str
    chassis: str
    car_class: str
    team: str
    style: Style
    consistency_s: float
    p_error_per_lap: float
    tyre_wear_factor: float
    fuel_factor: float
    racecraft: float
    group: str = ""
    p_attend: float = 1.0


def _numbers(rng: np.random.Generator, n_drivers: int) -> list[str]:
    """Distinct car numbers as text, with up to ``N_PADDED_TWINS`` padded twins."""
    n_twins = min(N_PADDED_TWINS, n_drivers // 2)
    pool = np.concatenate([np.arange(2, 100), np.arange(111, 121)])
    base = [str(int(x)) for x in rng.choice(pool, size=n_drivers - n_twins, replace=False)]
    small = [i for i, number in enumerate(base) if len(number) <= 2]
    twins = [base[i] for i in sorted(rng.choice(small, size=n_twins, replace=False).tolist())]
    padded = ["0" + number for number in twins]
    # a twin sits beside its number, so that both land among the regulars
    out: list[str] = []
    for number in base:
        out.append(number)
        if number in twins:
            out.append(padded[twins.index(number)])
    return out


def _skill(rng: np.random.Generator, regular: bool) -> float:
    """How far a driver is from a perfect lap: 0 (a perfect driver) to about 2.5.

    One unit costs about 1.7% of the lap; the spread of a real field's pace (the slowest
    regular 2 to 3% off the fastest, occasional entrants up to 5%) sets the ranges.
    """
    if regular:
        return float(1.4 * rng.beta(1.3, 3.2))
    return float(0.6 + 1.9 * rng.beta(2.0, 2.0))


def _style(skill: float, rng: np.random.Generator) -> Style:
    corner = 0.004 + 0.028 * skill + rng.normal(0, 0.003)
    brake = np.clip(0.985 - 0.08 * skill + rng.normal(0, 0.01), 0.80, 1.0)
    throttle = np.clip(0.99 - 0.05 * skill + rng.normal(0, 0.01), 0.85, 1.0)
    return Style(round(max(float(corner), 0.0), 4), round(float(brake), 4),
                 round(float(throttle), 4))


def make_roster(rng: np.random.Generator, n_drivers: int = MAX_CARS) -> list[Driver]:
    """Draw the season's drivers.

    Args:
        rng: Random generator for this season's roster.
        n_drivers: Number of drivers, at most ``MAX_CARS``.
    """
    numbers = _numbers(rng, n_drivers)
    chassis = rng.choice(np.arange(1, 120), size=n_drivers, replace=False)
    n_regular = max(round(n_drivers * REGULAR_SHARE), min(n_drivers, N_PADDED_TWINS * 2))
    roster = []
    for i in range(n_drivers):
        regular = i < n_regular
        skill = _skill(rng, regular)
        roster.append(
            Driver(
                driver_id=f"D{i + 1:02d}",
                car_number=numbers[i],
                chassis=f"{int(chassis[i]):03d}",
                car_class="Am",
                team=_TEAMS[int(rng.integers(len(_TEAMS)))],
                style=_style(skill, rng),
                consistency_s=round(float(0.25 + 0.15 * skill * rng.uniform(0.6, 1.3)), 3),
                p_error_per_lap=round(float(0.004 + 0.02 * skill * rng.uniform(0.5, 1.5)), 4),
                tyre_wear_factor=round(float(rng.uniform(0.75, 1.3)), 3),
                fuel_factor=round(float(rng.uniform(0.95, 1.06)), 3),
                racecraft=round(float(np.clip(1.0 - 0.6 * skill + rng.normal(0, 0.15), 0, 1)),
                                3),
                group="Legends" if rng.random() < 0.12 else "",
                p_attend=P_ATTEND_REGULAR if regular else P_ATTEND_OCCASIONAL,
            )
        )
    return roster


def pick_field(drivers: list[Driver], n_cars: int, rng: np.random.Generator) -> list[int]:
    """Indices (sorted) of the ``n_cars`` drivers entered in a race, regulars first likely."""
    weights = np.array([d.p_attend for d in drivers], dtype=np.float64)
    picked = rng.choice(len(drivers), size=n_cars, replace=False, p=weights / weights.sum())
    return sorted(int(i) for i in picked)


__all__ = ["MAX_CARS", "Driver", "make_roster", "pick_field"]
