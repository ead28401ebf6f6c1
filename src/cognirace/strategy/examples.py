"""A plausible GR Cup field built in code: for the strategy's benchmark, its tests and
a first look without a race at hand (no model or lake needed)."""

from __future__ import annotations

import dataclasses

import numpy as np

from cognirace.strategy.snapshot import CarSnapshot, RaceSnapshot


def gr_cup_field(n_cars: int = 25, laps_left: float = 15.0, lap: int = 12, seed: int = 0,
                 hazard: float = 0.03, fuel_start_l: float | None = 70.0,
                 race_id: str = "example") -> RaceSnapshot:
    """A field at Barber: laps of about 99 to 103 s, cars a second or two apart (the tail
    a lap down), wear of 0.04 to 0.06 s per lap, 2.3 l per lap, ``laps_left`` laps of
    clock to go, the leader on lap ``lap``."""
    rng = np.random.default_rng(seed)
    pace = 99.0 + np.sort(rng.normal(0.0, 0.6, n_cars)) + np.linspace(0.0, 2.0, n_cars)
    gaps = np.cumsum(np.abs(rng.normal(1.8, 1.0, n_cars)))
    leader_s = lap * 100.5
    cars = []
    for i in range(n_cars):
        laps = lap - 1 if gaps[i] > 95.0 else lap
        cars.append(CarSnapshot(
            car_number=str(10 + i), position=i + 1, laps=laps,
            race_time_s=float(leader_s + gaps[i] - (pace[i] if laps < lap else 0.0)),
            lap_time_p10_s=float(pace[i] - 0.8), lap_time_p50_s=float(pace[i]),
            lap_time_p90_s=float(pace[i] + 1.2), tire_age_laps=laps,
            deg_s_per_lap=float(0.04 + 0.02 * rng.random()),
            fuel_left_l=None if fuel_start_l is None else fuel_start_l - 2.3 * laps,
            fuel_burn_l_per_lap=2.3, p_pass_ahead=0.25, p_passed=0.2))
    cars.sort(key=lambda c: (-c.laps, c.race_time_s))
    cars = [dataclasses.replace(c, position=i + 1) for i, c in enumerate(cars)]
    return RaceSnapshot(race_id=race_id, track="barber", lap=lap,
                        time_left_s=laps_left * 100.5, caution=False,
                        caution_hazard=(hazard,), pit_loss_green_s=38.0,
                        pit_loss_caution_s=20.0, cars=tuple(cars), caution_lap_s=140.0)


__all__ = ["gr_cup_field"]
