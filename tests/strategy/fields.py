"""Snapshots built in code for the strategy tests: hand-checkable fields and a GR Cup-like one."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from cognirace.strategy.snapshot import CarSnapshot, RaceSnapshot


def car(number: str, position: int, race_time_s: float, lap_s: float = 100.0, *,
        laps: int = 10, spread_s: float = 0.0, **extra: object) -> CarSnapshot:
    """A car lapping at ``lap_s`` (P10 and P90 ``spread_s`` either side; 0: exact)."""
    fields: dict[str, object] = {
        "car_number": number, "position": position, "laps": laps,
        "race_time_s": race_time_s, "lap_time_p10_s": lap_s - spread_s,
        "lap_time_p50_s": lap_s, "lap_time_p90_s": lap_s + spread_s, "tire_age_laps": laps}
    fields.update(extra)
    return CarSnapshot(**fields)  # type: ignore[arg-type]


def race(cars: Sequence[CarSnapshot], *, time_left_s: float, hazard: float = 0.0,
         caution: bool = False, pit_loss_green_s: float = 38.0,
         pit_loss_caution_s: float = 20.0, caution_lap_s: float | None = 140.0,
         track: str = "barber") -> RaceSnapshot:
    """A race around ``cars`` (positions as given)."""
    return RaceSnapshot(race_id="test-race", track=track, lap=max(c.laps for c in cars),
                        time_left_s=time_left_s, caution=caution, caution_hazard=(hazard,),
                        pit_loss_green_s=pit_loss_green_s,
                        pit_loss_caution_s=pit_loss_caution_s, cars=tuple(cars),
                        caution_lap_s=caution_lap_s)


def gr_cup(n_cars: int = 25, laps_left: float = 15.0, lap: int = 12, seed: int = 0,
           hazard: float = 0.03, fuel_start_l: float | None = 70.0) -> RaceSnapshot:
    """A plausible GR Cup field at Barber: laps of about 99 to 103 s, a second or two
    apart, wear of 0.04 to 0.06 s per lap, 2.3 l per lap, ``laps_left`` laps of clock."""
    rng = np.random.default_rng(seed)
    pace = 99.0 + np.sort(rng.normal(0.0, 0.6, n_cars)) + np.linspace(0.0, 2.0, n_cars)
    gaps = np.cumsum(np.abs(rng.normal(1.8, 1.0, n_cars)))
    leader_s = lap * 100.5
    cars = []
    for i in range(n_cars):
        laps = lap - 1 if gaps[i] > 95.0 else lap
        race_time = leader_s + gaps[i] - (pace[i] if laps < lap else 0.0)
        cars.append(car(
            str(10 + i), i + 1, float(race_time), float(pace[i]), laps=laps, spread_s=0.0,
            lap_time_p10_s=float(pace[i] - 0.8), lap_time_p90_s=float(pace[i] + 1.2),
            deg_s_per_lap=float(0.04 + 0.02 * rng.random()),
            fuel_left_l=None if fuel_start_l is None else fuel_start_l - 2.3 * laps,
            fuel_burn_l_per_lap=2.3, p_pass_ahead=0.25, p_passed=0.2))
    cars.sort(key=lambda c: (-c.laps, c.race_time_s))
    cars = [dataclasses.replace(c, position=i + 1) for i, c in enumerate(cars)]
    return race(cars, time_left_s=laps_left * 100.5, hazard=hazard)


__all__ = ["car", "gr_cup", "race"]
