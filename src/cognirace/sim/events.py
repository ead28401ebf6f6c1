"""Random race events drawn before the race: cautions, faults, penalties and retirements.

Probabilities follow REFERENCE.md where it has figures (cautions per race, first
cautions on lap 1, caution lengths); the rest are estimates for a spec series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

P_CAUTIONS = (0.455, 0.413, 0.099, 0.033)
"""Probability of 0, 1, 2 and 3 full-course yellows in a race."""

P_FIRST_CAUTION_LAP1 = 0.36
"""Share of first cautions that start on lap 1."""

P_CAUTION_PRECURSOR = 0.4
"""Share of cautions after lap 3 whose car ran off pace two laps before it stopped.

A car limping with damage or a problem often loses time for a lap before it stops on
track and brings out the yellow; the rest are sudden (a crash, a spin into the gravel)."""

PRECURSOR_LOSS_S = (4.0, 15.0)
"""Bounds of the time the limping car loses on that lap, s."""

CAUTION_LAPS = (2, 3, 4, 5)
P_CAUTION_LAPS = (0.25, 0.45, 0.2, 0.1)
"""Length of a caution in laps: mostly 3."""

SENSOR_FAULTS = ("stuck", "dropout", "spike", "drift")
MECHANICAL_FAULTS = ("brake_fade", "power_loss", "gearbox")
FAULT_CHANNELS: dict[str, tuple[str, ...]] = {
    "brake_fade": ("pbrake_f", "pbrake_r", "accx_can"),
    "power_loss": ("speed", "nmot", "aps", "accx_can"),
    "gearbox": ("gear", "nmot"),
}
"""Channels in which each mechanical fault shows."""

SENSOR_CHANNELS = ("speed", "nmot", "aps", "pbrake_f", "pbrake_r", "accx_can", "accy_can",
                   "Steering_Angle")
"""Channels a sensor fault can hit."""

P_SENSOR_FAULT = 0.12
"""Probability of a sensor fault per car and race."""

P_MECHANICAL_FAULT = 0.07
"""Probability of a mechanical fault per car and race."""

P_PENALTY = 0.04
"""Probability of a drive-through penalty per car and race."""

P_MECHANICAL_DNF = 0.03
"""Probability of a retirement for a mechanical reason per car and race."""


@dataclass(frozen=True, slots=True)
class Caution:
    """A full-course yellow over leader laps ``start_lap``..``end_lap`` (1-based, inclusive).

    Attributes:
        start_lap: First lap completed under yellow.
        end_lap: Last lap completed under yellow; green again after it.
        cause_car: Index of the car whose incident caused it.
    """

    start_lap: int
    end_lap: int
    cause_car: int


@dataclass(frozen=True, slots=True)
class Fault:
    """A labelled fault of one car, laps ``start_lap``..``end_lap`` (1-based, inclusive).

    Attributes:
        car: Car index in the race.
        kind: One of ``SENSOR_FAULTS`` or ``MECHANICAL_FAULTS``.
        start_lap: First affected lap.
        end_lap: Last affected lap.
        channels: Telemetry channels (real names) in which it shows.
        magnitude: Kind-specific size (share of power lost, drift per lap, ...).
        lap_loss_s: Lap time lost per affected lap, s (0 for sensor faults).
    """

    car: int
    kind: str
    start_lap: int
    end_lap: int
    channels: tuple[str, ...]
    magnitude: float
    lap_loss_s: float


def draw_cautions(n_laps: int, n_cars: int, rng: np.random.Generator) -> list[Caution]:
    """Draw the race's full-course yellows over an expected ``n_laps`` laps."""
    count = int(rng.choice(len(P_CAUTIONS), p=P_CAUTIONS))
    cautions: list[Caution] = []
    next_free = 1
    for k in range(count):
        length = int(rng.choice(CAUTION_LAPS, p=P_CAUTION_LAPS))
        if k == 0 and rng.random() < P_FIRST_CAUTION_LAP1:
            start = 1
        else:
            low = max(next_free + 2, 2)
            high = n_laps - length - 1
            if low > high:
                break
            start = int(rng.integers(low, high + 1))
        cautions.append(Caution(start, start + length - 1, int(rng.integers(n_cars))))
        next_free = start + length
    return cautions


def draw_faults(n_laps: int, n_cars: int, rng: np.random.Generator) -> list[Fault]:
    """Draw sensor and mechanical faults for each car."""
    faults: list[Fault] = []
    for car in range(n_cars):
        if rng.random() < P_SENSOR_FAULT:
            kind = str(rng.choice(SENSOR_FAULTS))
            start = int(rng.integers(2, max(n_laps - 1, 3)))
            end = min(n_laps + 3, start + int(rng.integers(1, 6)))
            channel = str(rng.choice(SENSOR_CHANNELS))
            faults.append(Fault(car, kind, start, end, (channel,),
                                float(rng.uniform(0.05, 0.2)), 0.0))
        if rng.random() < P_MECHANICAL_FAULT:
            kind = str(rng.choice(MECHANICAL_FAULTS))
            start = int(rng.integers(2, max(n_laps - 2, 3)))
            end = n_laps + 3 if rng.random() < 0.6 else start + int(rng.integers(2, 7))
            magnitude = float(rng.uniform(0.06, 0.15))
            loss = {"brake_fade": 12.0, "power_loss": 9.0, "gearbox": 6.0}[kind] * magnitude
            faults.append(Fault(car, kind, start, end, FAULT_CHANNELS[kind], magnitude,
                                round(loss, 3)))
    return faults


__all__ = [
    "FAULT_CHANNELS",
    "MECHANICAL_FAULTS",
    "SENSOR_FAULTS",
    "Caution",
    "Fault",
    "draw_cautions",
    "draw_faults",
]
