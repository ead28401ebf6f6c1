"""A race's plan: who stops in a caution, and when a penalty is served."""

from __future__ import annotations

import numpy as np

from cognirace.sim import RaceConfig
from cognirace.sim.plan import RacePlan, plan_race

TRACKS = ("barber", "cota", "indianapolis", "road_america", "sebring", "sonoma", "vir")


def _plans(count: int) -> list[tuple[RaceConfig, RacePlan]]:
    out = []
    for i in range(count):
        config = RaceConfig(TRACKS[i % len(TRACKS)], n_cars=25)
        out.append((config, plan_race(config, 22, 125.0, np.random.default_rng([17, i]))))
    return out


def test_a_drive_through_is_never_served_under_the_yellow() -> None:
    served = 0
    for _, plan in _plans(300):
        for (lap, _car), stop in plan.pits.items():
            if stop.reason == "drive_through":
                served += 1
                assert not any(c.start_lap <= lap <= c.end_lap for c in plan.cautions), lap
    assert served > 100


def test_the_planned_caution_stops_are_as_rare_as_in_the_real_races() -> None:
    """The 2025 season: 7 stops by 433 cars running at the starts of 16 cautions (1.6%,
    95% interval 0.8% to 3.3%); the former plan stopped about 5%."""
    stops = cars = 0
    for config, plan in _plans(400):
        for c in plan.cautions:
            running = [car for car in range(config.n_cars)
                       if plan.dnf_lap.get(car, 10**6) > c.start_lap]
            cars += len(running)
            stops += sum(1 for (lap, car) in plan.pits
                         if c.start_lap <= lap <= c.end_lap and car in running)
    assert cars > 5_000
    assert 0.008 <= stops / cars <= 0.033, stops / cars


def test_the_car_behind_a_caution_mostly_retires_or_pits() -> None:
    retired = pitted = causes = 0
    for _, plan in _plans(400):
        for c in plan.cautions:
            causes += 1
            retired += plan.dnf_lap.get(c.cause_car) == c.start_lap + 1
            pitted += (c.start_lap, c.cause_car) in plan.pits
    assert causes > 300
    assert 0.4 < retired / causes < 0.6
    assert 0.1 < pitted / causes < 0.35
