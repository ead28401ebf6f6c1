"""Before the race: the least fuel that finishes, and what the lighter car gains.

Fuel is mass: every litre not needed costs lap time all race (``fuel_s_per_l``), and
one litre too few costs the race. The answer is the least start fill that runs dry in
at most ``p_dry_max`` (1%) of simulated races, given the driver's burn (a mean and a
lap-to-lap spread) and the track's caution odds: a caution slows the laps, so the
clock admits fewer of them, and halves the burn of its own (``CAUTION_BURN_RATIO``).

A race is timed: the car completes laps until its first crossing after the clock runs
out (on the lead lap, the most laps it can run, so the fill covers the leader too), at
the given green lap (its lap-to-lap scatter moves the lap count far less than a caution
does). The simulation is vectorised over races, looping over laps; cautions start and
last as in the race Monte Carlo (``draws.caution_schedule``).

The fill is the ``1 - p_dry_max`` quantile of the total burn (the ``higher`` order
statistic, rounded up to 0.1 l), so that on the very runs it was chosen from, its
P(dry) is at most ``p_dry_max`` and a litre less is above it unless the burn's spread
at that tail is under a litre. Formation and in-laps are not included: add them as
``reserve_l``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cognirace.errors import StrategyError
from cognirace.strategy.assumptions import (
    CAUTION_BURN_RATIO,
    CAUTION_PACE_RATIO,
    FUEL_CELL_L,
    fuel_s_per_l,
)
from cognirace.strategy.draws import caution_schedule, draw_race

FloatArray = npt.NDArray[np.float64]

DEFAULT_SIMS = 20_000
"""Races simulated: the 1% tail then rests on about 200 races."""


@dataclass(frozen=True)
class FuelLoad:
    """The start fill and what it buys.

    Attributes:
        fuel_l: The least fill that runs dry in at most ``p_dry_max`` of the races, l.
        p_dry: Its chance of running dry on the simulated races.
        p_dry_max: The risk accepted.
        full_tank_l: The fill it is compared with (the cell), l.
        fits: The fill fits in the cell.
        lap_time_gain_s: Lap time the lighter car gains over a full cell, s per lap.
        race_time_gain_s: The same over the race's median laps, s.
        laps_p50: Median laps the car completes.
        total_burn_l: Each simulated race's burn, ``[sims]``, l (reserve included).
    """

    fuel_l: float
    p_dry: float
    p_dry_max: float
    full_tank_l: float
    fits: bool
    lap_time_gain_s: float
    race_time_gain_s: float
    laps_p50: float
    total_burn_l: FloatArray

    def p_dry_at(self, fuel_l: float) -> float:
        """Chance of running dry with ``fuel_l`` on the simulated races."""
        return float(np.mean(self.total_burn_l > fuel_l))


def _check(race_duration_s: float, lap_time_s: float, burn_l_per_lap: float,
           burn_sd_l_per_lap: float, p_dry_max: float, n_sims: int) -> None:
    if not (race_duration_s > 0 and lap_time_s > 0 and burn_l_per_lap > 0):
        raise StrategyError("race length, lap time and burn must be positive",
                            value=(race_duration_s, lap_time_s, burn_l_per_lap),
                            hint="seconds, seconds and litres per lap")
    if burn_sd_l_per_lap < 0 or not 0 < p_dry_max < 1 or n_sims < 100:
        raise StrategyError("the burn's spread must be >= 0, p_dry_max within (0, 1) and "
                            "n_sims at least 100", value=(burn_sd_l_per_lap, p_dry_max,
                                                          n_sims))


def race_burns(race_duration_s: float, lap_time_s: float, burn_l_per_lap: float,
               burn_sd_l_per_lap: float, caution_hazard: Sequence[float],
               caution_lap_s: float | None, n_sims: int, rng: np.random.Generator
               ) -> tuple[FloatArray, FloatArray]:
    """Each simulated race's total burn, l, and laps completed."""
    caution_lap = CAUTION_PACE_RATIO * lap_time_s if caution_lap_s is None else caution_lap_s
    max_laps = math.ceil(race_duration_s / lap_time_s) + 2
    draws = draw_race(rng, n_sims, 1, max_laps)
    under, _ = caution_schedule(draws, tuple(caution_hazard), ongoing=False, force=False)
    burn = burn_l_per_lap + burn_sd_l_per_lap * rng.standard_normal((max_laps, n_sims))
    burn = np.maximum(burn, 0.0) * np.where(under, CAUTION_BURN_RATIO, 1.0)
    lap_s = np.where(under, caution_lap, lap_time_s)
    ends = np.cumsum(lap_s, axis=0)
    counted = np.cumsum(ends >= race_duration_s, axis=0) <= 1
    return (burn * counted).sum(axis=0), counted.sum(axis=0).astype(np.float64)


def start_fuel(*, race_duration_s: float, lap_time_s: float, burn_l_per_lap: float,
               burn_sd_l_per_lap: float, caution_hazard: Sequence[float],
               rng: np.random.Generator, caution_lap_s: float | None = None,
               reserve_l: float = 0.0, p_dry_max: float = 0.01,
               full_tank_l: float = FUEL_CELL_L, n_sims: int = DEFAULT_SIMS) -> FuelLoad:
    """The least start fill with P(running dry) at most ``p_dry_max``.

    Args:
        race_duration_s: The race clock, s (45 minutes: 2,700 s).
        lap_time_s: The car's green lap, s.
        burn_l_per_lap: The driver's mean burn of a green lap, l.
        burn_sd_l_per_lap: Its lap-to-lap standard deviation, l.
        caution_hazard: Chance a caution starts on each lap from the start (the last
            value holds for the laps beyond), e.g. the ``fcy`` model's for this track.
        rng: The races' random numbers.
        caution_lap_s: A lap under caution, s (default ``CAUTION_PACE_RATIO`` × the
            green lap).
        reserve_l: Fuel kept aside (formation lap, in-lap, scrutineering sample), l.
        p_dry_max: The risk of running dry accepted.
        full_tank_l: The fill the gain is measured against, l (the fuel cell).
        n_sims: Races simulated.

    Raises:
        StrategyError: An input out of range, or no caution hazard.
    """
    _check(race_duration_s, lap_time_s, burn_l_per_lap, burn_sd_l_per_lap, p_dry_max, n_sims)
    if not caution_hazard or not all(0.0 <= p <= 1.0 for p in caution_hazard):
        raise StrategyError("caution_hazard needs at least one chance within 0..1",
                            value=tuple(caution_hazard)[:5])
    total, laps = race_burns(race_duration_s, lap_time_s, burn_l_per_lap,
                             burn_sd_l_per_lap, caution_hazard, caution_lap_s, n_sims, rng)
    total = total + reserve_l
    tail = float(np.quantile(total, 1.0 - p_dry_max, method="higher"))
    fuel = math.ceil(tail * 10.0 - 1e-9) / 10.0
    gain = (full_tank_l - fuel) * fuel_s_per_l(lap_time_s)
    laps_p50 = float(np.median(laps))
    return FuelLoad(fuel_l=fuel, p_dry=float(np.mean(total > fuel)), p_dry_max=p_dry_max,
                    full_tank_l=full_tank_l, fits=fuel <= full_tank_l,
                    lap_time_gain_s=gain, race_time_gain_s=gain * laps_p50,
                    laps_p50=laps_p50, total_burn_l=total)


__all__ = ["DEFAULT_SIMS", "FuelLoad", "race_burns", "start_fuel"]
