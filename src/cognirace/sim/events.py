"""Random race events drawn before the race: cautions, faults, penalties and retirements.

Caution counts, their place in the race and their length follow the real 2025 lap
charts (``bench/calibrate.py`` compares); the rest are estimates for a spec series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CAUTIONS_PER_RACE: dict[str, float] = {
    "barber": 0.45, "cota": 1.7, "indianapolis": 1.8, "road_america": 1.2,
    "sebring": 0.45, "sonoma": 1.5, "vir": 0.45,
}
"""Mean number of full-course yellows per 45-minute race at each track.

Fitted to the 2025 races (two per track, so known only roughly): over the 14 races
0, 1, 2 and 3 cautions came 3, 7, 3 and 1 times (mean 1.14, well above F1's 0.7); COTA,
Indianapolis and Sonoma had one or two each race, Barber, Sebring and VIR at most one.
"""

MAX_CAUTIONS = 3
"""Most cautions drawn for one race: the count is binomial over this many chances (less
spread than Poisson: the real tracks saw much the same number in both races)."""

P_FIRST_CAUTION_LAP1 = 0.36
"""Share of first cautions that start on lap 1 (4 of the 11 real races with a caution)."""

CAUTION_DURATION_S = (480.0, 0.3, 200.0, 900.0)
"""Time from the yellow to the green: median, log-normal sigma, lowest and highest, s.

Read from the real lap charts: 400 to 600 s at tracks of 97 to 160 s laps, so a caution
flags two laps at COTA, VIR or Road America and three or four at Sonoma or Indianapolis."""

CAUTION_PACE = (1.42, 1.65)
"""Bounds of a caution's lap time relative to a perfect green lap (real full yellow
laps run 1.40 to 1.77 times the best lap)."""

P_CAUTION_PRECURSOR = 0.4
"""Share of cautions after lap 3 whose car ran off pace two laps before it stopped.

A car limping with damage or a problem often loses time for a lap before it stops on
track and brings out the yellow; the rest are sudden (a crash, a spin into the gravel)."""

PRECURSOR_LOSS_S = (4.0, 15.0)
"""Bounds of the time the limping car loses on that lap, s."""

SENSOR_FAULTS = ("stuck", "dropout", "spike", "drift")
MECHANICAL_FAULTS = ("brake_fade", "power_loss", "gearbox")
FAULT_CHANNELS: dict[str, tuple[str, ...]] = {
    "brake_fade": ("pbrake_f", "pbrake_r", "accx_can"),
    "power_loss": ("speed", "nmot", "accx_can"),
    "gearbox": ("gear", "nmot"),
}
"""Channels in which each mechanical fault shows (a power loss leaves the throttle wide
open: it shows in speed, revs and acceleration, at every track)."""

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

    As in the real timing, a lap is flagged ``FCY`` when the yellow is still out as the
    car crosses the line: the yellow comes out part-way through ``start_lap`` and the
    green part-way through ``end_lap + 1``, a lap flagged green but run mostly slowly.

    Attributes:
        start_lap: First lap flagged FCY; the yellow comes out during it.
        end_lap: Last lap flagged FCY; the green comes out during the next lap.
        cause_car: Index of the car whose incident caused it.
        first_share: Share of ``start_lap`` run at caution pace, 0..1.
        restart_share: Share of lap ``end_lap + 1`` run at caution pace, 0..1.
        pace: Caution lap time relative to a perfect green lap.
    """

    start_lap: int
    end_lap: int
    cause_car: int
    first_share: float = 1.0
    restart_share: float = 0.0
    pace: float = 1.5


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


def _caution_laps(lap_s: float, rng: np.random.Generator) -> tuple[int, float, float, float]:
    """One caution's flagged laps, first and restart shares and pace for a lap of ``lap_s``.

    The real lap charts show the yellow coming out late in its first lap (that lap runs
    1.02 to 1.3 times the best lap) and the lap after the last ``FCY`` lap, flagged green,
    still run largely at caution pace (1.1 to 1.55 times the best lap, median 1.3).
    """
    median, sigma, low, high = CAUTION_DURATION_S
    duration = float(np.clip(median * rng.lognormal(0.0, sigma), low, high))
    pace = float(rng.uniform(*CAUTION_PACE))
    first = float(rng.uniform(0.05, 0.6))
    restart = float(rng.uniform(0.25, 1.0))
    caution_lap = pace * lap_s
    full = max(round((duration - (first + restart) * caution_lap) / caution_lap), 0)
    return 1 + full, round(first, 3), round(restart, 3), round(pace, 3)


def draw_cautions(n_laps: int, n_cars: int, rng: np.random.Generator, *,
                  mean_count: float = 1.0, lap_s: float = 120.0) -> list[Caution]:
    """Draw the race's full-course yellows over an expected ``n_laps`` laps.

    Args:
        n_laps: Laps the leader is expected to run.
        n_cars: Cars in the race (one of them causes each caution).
        rng: The race's generator.
        mean_count: Mean number of cautions (a track's ``CAUTIONS_PER_RACE``).
        lap_s: A green lap at the track, s (turns a caution's duration into laps).
    """
    count = int(rng.binomial(MAX_CAUTIONS, min(mean_count / MAX_CAUTIONS, 1.0)))
    shapes = [_caution_laps(lap_s, rng) for _ in range(count)]
    cautions: list[Caution] = []
    next_free = 1
    for k, (flagged, first, restart, pace) in enumerate(shapes):
        # room kept for the cautions still to come, each with two green laps before it
        later = sum(f + 2 for f, *_ in shapes[k + 1:])
        if k == 0 and rng.random() < P_FIRST_CAUTION_LAP1:
            start = 1
        else:
            low = max(next_free + 2, 2)
            high = n_laps - flagged - 2 - later
            if low > high:
                break
            start = int(rng.integers(low, high + 1))
        cautions.append(Caution(start, start + flagged - 1, int(rng.integers(n_cars)),
                                first, restart, pace))
        next_free = start + flagged + 1
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
    "CAUTIONS_PER_RACE",
    "FAULT_CHANNELS",
    "MECHANICAL_FAULTS",
    "SENSOR_FAULTS",
    "Caution",
    "Fault",
    "draw_cautions",
    "draw_faults",
]
