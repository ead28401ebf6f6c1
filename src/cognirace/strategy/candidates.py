"""What one car could do now: the candidates a strategist weighs, and how each is run.

- **stay out**: the normal answer in a series with no mandatory stop;
- **pit now**: the in-lap is the car's next lap (new tires; new tires and a splash of
  fuel when it is short; a drive-through when a repair or penalty is pending and its
  loss is given, since the snapshot knows nothing of damage);
- **pit at the next caution**: the in-lap is the first lap run under caution (never, in
  the runs without one);
- **pit on lap k**: the in-lap is lap ``k`` (the car's lap count as it completes it),
  for every ``k`` from the lap after next to the last lap but one that the clock
  leaves it (a stop on the final lap gains nothing), at most ``MAX_WINDOW_LAPS`` of
  them.

A candidate names laps by the car's own lap count, so "pit on lap 17" means the same
stop from one snapshot to the next (the advisor relies on that); ``stop_lap_index``
turns it into the index of the run's laps, per sim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from cognirace.errors import StrategyError
from cognirace.strategy.assumptions import FIELD_FUEL_MARGIN_LAPS, REFUEL_L_PER_S
from cognirace.strategy.snapshot import RaceSnapshot

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

Kind = Literal["stay_out", "pit_now", "pit_next_caution", "pit_on_lap"]
Service = Literal["tires", "tires_fuel", "drive_through"]

MAX_WINDOW_LAPS = 30
"""Most "pit on lap k" candidates offered (a 45-minute race rarely has more laps left)."""

NEVER = -1
"""``stop_lap_index`` of a run in which the candidate does not stop."""


@dataclass(frozen=True)
class Candidate:
    """One thing the car could do.

    Attributes:
        car_number: The car.
        kind: ``stay_out``, ``pit_now``, ``pit_next_caution`` or ``pit_on_lap``.
        lap: The in-lap's number (the car's lap count as it completes it), for
            ``pit_on_lap``.
        service: ``tires``, ``tires_fuel`` (new tires and ``fuel_l`` litres) or
            ``drive_through`` (no service; its green loss is ``loss_s``).
        fuel_l: Fuel added, l (``tires_fuel`` only).
        loss_s: Time a drive-through loses under green, s (``drive_through`` only).
    """

    car_number: str
    kind: Kind = "stay_out"
    lap: int | None = None
    service: Service = "tires"
    fuel_l: float = 0.0
    loss_s: float | None = None

    def __post_init__(self) -> None:
        if (self.kind == "pit_on_lap") != (self.lap is not None):
            raise StrategyError("a lap goes with pit_on_lap, and only with it",
                                value=(self.kind, self.lap),
                                hint="Candidate(car, 'pit_on_lap', lap=17)")
        if (self.service == "drive_through") != (self.loss_s is not None):
            raise StrategyError("a drive-through needs its loss (loss_s), and only it has one",
                                value=(self.service, self.loss_s),
                                hint="give the penalty's or repair's green loss in s")
        if (self.service == "tires_fuel") != (self.fuel_l > 0.0):
            raise StrategyError("fuel is added by tires_fuel stops only, and they add some",
                                value=(self.service, self.fuel_l))

    @property
    def label(self) -> str:
        """How a strategist says it: ``pit on lap 17 (tires)``."""
        if self.kind == "stay_out":
            return "stay out"
        service = {"tires": "tires", "drive_through": "drive-through",
                   "tires_fuel": f"tires + {self.fuel_l:.1f} l"}[self.service]
        when = {"pit_now": "pit now", "pit_next_caution": "pit at next caution",
                "pit_on_lap": f"pit on lap {self.lap}"}[self.kind]
        return f"{when} ({service})"

    def losses_s(self, snap: RaceSnapshot) -> tuple[float, float]:
        """The stop's loss under green and under caution, s.

        A drive-through under caution saves the same share of its loss as a tire stop
        does (the pit-loss model gives only the tire stop's two values).
        """
        green, caution = snap.pit_loss_green_s, snap.pit_loss_caution_s
        if self.service == "drive_through":
            assert self.loss_s is not None
            share = caution / green if green > 0 else 1.0
            return self.loss_s, self.loss_s * share
        extra = self.fuel_l / REFUEL_L_PER_S
        return green + extra, caution + extra


def stop_lap_index(candidate: Candidate, car_laps: int, under: BoolArray) -> IntArray:
    """The index of the in-lap among the run's laps, per sim (``NEVER``: no stop).

    Args:
        candidate: The candidate.
        car_laps: The car's laps completed at the snapshot.
        under: The caution schedule, ``[sims, laps]``.
    """
    n_sims, n_laps = under.shape
    if candidate.kind == "stay_out":
        return np.full(n_sims, NEVER, dtype=np.int64)
    if candidate.kind == "pit_now":
        return np.zeros(n_sims, dtype=np.int64)
    if candidate.kind == "pit_on_lap":
        assert candidate.lap is not None
        index = candidate.lap - car_laps - 1
        return np.full(n_sims, index if 0 <= index < n_laps else NEVER, dtype=np.int64)
    first = np.argmax(under, axis=1)
    return np.where(under.any(axis=1), first, NEVER).astype(np.int64)


def laps_left(snap: RaceSnapshot, car_number: str) -> int:
    """Laps the clock leaves the car at its P50 pace, counting the one after the flag."""
    car = snap.car(car_number)
    now = max(c.race_time_s for c in snap.cars if c.running)
    to_go = max(now + snap.time_left_s - car.race_time_s, 0.0)
    return math.floor(to_go / car.lap_time_p50_s) + 1


def splash_l(snap: RaceSnapshot, car_number: str) -> float | None:
    """Fuel the car lacks to finish at its green burn, plus a margin, l; None when it has
    enough, or when its fuel is unknown."""
    car = snap.car(car_number)
    if car.fuel_left_l is None or car.fuel_burn_l_per_lap is None:
        return None
    need = car.fuel_burn_l_per_lap * (laps_left(snap, car_number) + FIELD_FUEL_MARGIN_LAPS)
    short = need - car.fuel_left_l
    return round(short, 1) if short > 0 else None


def candidates_for(snap: RaceSnapshot, car_number: str, *,
                   drive_through_loss_s: float | None = None,
                   max_window_laps: int = MAX_WINDOW_LAPS) -> tuple[Candidate, ...]:
    """Every candidate of the car, stay out first (see the module docstring).

    Args:
        snap: The race now.
        car_number: The car asked about.
        drive_through_loss_s: A pending drive-through's green loss, s: adds "pit now
            (drive-through)".
        max_window_laps: Most "pit on lap k" candidates.

    Raises:
        DataError: No such car.
        StrategyError: The car is out of the race.
    """
    car = snap.car(car_number)
    if not car.running:
        raise StrategyError(f"car {car_number!r} is out of the race: it has no strategy",
                            value=car_number, hint="ask about a running car")
    out = [Candidate(car_number), Candidate(car_number, "pit_now")]
    fuel = splash_l(snap, car_number)
    if fuel is not None:
        out.append(Candidate(car_number, "pit_now", service="tires_fuel", fuel_l=fuel))
    if drive_through_loss_s is not None:
        out.append(Candidate(car_number, "pit_now", service="drive_through",
                             loss_s=drive_through_loss_s))
    out.append(Candidate(car_number, "pit_next_caution"))
    last = car.laps + laps_left(snap, car_number) - 1
    for lap in range(car.laps + 2, min(last, car.laps + 1 + max_window_laps) + 1):
        out.append(Candidate(car_number, "pit_on_lap", lap=lap))
    return tuple(out)


__all__ = ["MAX_WINDOW_LAPS", "NEVER", "Candidate", "candidates_for", "laps_left",
           "splash_l", "stop_lap_index"]
