"""A simulated race as the engine hands it over, and the standings read from it.

``RaceResult`` holds the ``[lap, car]`` arrays; the rules that turn them into standings
live here once: a car's position at the end of each lap (``lap_positions``, as the
truth's ``position`` column) and the classification at the flag (``classification``,
as the results files). A caller that branches races (``season.branch``) reads finish
positions, laps and stops straight from the result, without writing a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from cognirace.sim.config import RaceConfig
from cognirace.sim.drivers import Driver
from cognirace.sim.events import Caution, Fault
from cognirace.sim.plan import PitStop
from cognirace.sim.weather import Weather

if TYPE_CHECKING:
    from cognirace.sim.tape import RaceTape

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def lap_positions(end_s: FloatArray) -> IntArray:
    """Position of each car at the end of each lap, ``[lap, car]``, 1-based; 0 where not run.

    Among the cars that completed a lap, the earlier crossing ranks first (a lapped car
    is ranked on its own lap count, as a lap chart does).
    """
    position = np.zeros(end_s.shape, dtype=np.int64)
    for lap in range(end_s.shape[0]):
        col = end_s[lap]
        ok = np.isfinite(col)
        position[lap, ok] = np.argsort(np.argsort(col[ok])) + 1
    return position


@dataclass
class RaceResult:
    """A simulated race: configuration, field, events and the ``[lap, car]`` state.

    Arrays are ``(max_laps, n_cars)``; laps a car did not complete hold NaN (floats),
    0 or False. ``end_s`` is race time at the line since the green flag.
    ``caution_lap`` marks laps flagged ``FCY`` (the yellow out as the car crossed the
    line). ``pit_stops`` are the stops made, each with the positions before and after
    it and the gaps at pit exit (``plan.PitStop``).

    ``tape`` is what the race *without decisions* drew and read lap by lap (see
    ``tape``): a branch of the same race passes this result as ``base`` to skip
    re-running the undecided race.
    """

    config: RaceConfig
    drivers: list[Driver]
    grid: IntArray
    weather: Weather
    cautions: list[Caution]
    faults: list[Fault]
    pit_stops: list[PitStop]
    laps_done: IntArray
    status: list[str]
    lap_time_s: FloatArray
    end_s: FloatArray
    terms: dict[str, FloatArray]
    tyre_age_laps: IntArray
    grip: FloatArray
    deg_s_per_lap: FloatArray
    fuel_used_l: FloatArray
    fuel_left_l: FloatArray
    overtakes: IntArray
    overtaken: IntArray
    caution_lap: BoolArray
    pit_in: BoolArray
    pit_out: BoolArray
    stationary_s: FloatArray
    finish_s: float
    dnf_lap: dict[int, int] = field(default_factory=dict)
    tape: RaceTape | None = field(default=None, repr=False, compare=False)

    @property
    def n_cars(self) -> int:
        """Cars on the grid."""
        return len(self.drivers)

    def completed(self) -> BoolArray:
        """Mask ``[lap, car]`` of completed laps."""
        return np.isfinite(self.lap_time_s)

    def positions(self) -> IntArray:
        """Position at the end of each lap, ``[lap, car]`` (see ``lap_positions``)."""
        return lap_positions(self.end_s)

    def classification(self) -> list[int]:
        """Cars in finishing order: classified by laps then time, retired cars after by laps."""
        total = np.array([self.end_s[self.laps_done[c] - 1, c] if self.laps_done[c] else np.inf
                          for c in range(self.n_cars)])
        dnf = np.array([s == "DNF" for s in self.status])
        return [int(c) for c in np.lexsort((total, -self.laps_done, dnf))]

    def finish_position(self) -> IntArray:
        """Each car's classified position at the flag, 1-based, in car order."""
        position = np.empty(self.n_cars, dtype=np.int64)
        position[self.classification()] = np.arange(1, self.n_cars + 1)
        return position

    def car_index(self, car_number: str) -> int:
        """Index in car order of the car painted ``car_number`` (text: ``"03"`` is not ``"3"``).

        Raises:
            KeyError: No car of the field carries that number.
        """
        for c, d in enumerate(self.drivers):
            if d.car_number == car_number:
                return c
        raise KeyError(f"no car number {car_number!r} in this race; the field runs "
                       f"{', '.join(d.car_number for d in self.drivers)}")


__all__ = ["RaceResult", "lap_positions"]
