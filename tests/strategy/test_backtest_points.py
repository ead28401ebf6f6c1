"""Decision points found on a hand-built race: what triggers one, and where it lands."""

from __future__ import annotations

import numpy as np

from cognirace.strategy.backtest_points import (
    RaceTrace,
    choose_cars,
    decision_points,
    leader_lap_at,
)

LAPS, PACES = 10, (100.0, 101.0, 102.0, 103.0)
"""Four cars lapping at a steady pace; car 3 retires after three laps."""


def _trace() -> RaceTrace:
    n = len(PACES)
    laps = np.arange(1, LAPS + 1, dtype=np.float64)[:, None]
    end_s = laps * np.array(PACES)[None, :]
    end_s[3:, 3] = np.nan
    lap_time = np.where(np.isfinite(end_s), np.array(PACES)[None, :], np.nan)
    wear = np.zeros((LAPS, n))
    wear[:, 0] = 0.08 * np.arange(LAPS)  # car 0: 0.56 s on lap 8 -> worn from lap 8
    wear[0, 1] = 0.9  # car 1: a cold first lap is not wear
    age = np.tile(np.arange(LAPS)[:, None], (1, n))
    fuel_left = np.full((LAPS, n), 100.0)
    fuel_left[4:, 2] = 1.0  # car 2: short of fuel from lap 5
    return RaceTrace(
        car_numbers=("1", "2", "3", "4"), end_s=end_s, lap_time_s=lap_time,
        caution_lap=np.zeros((LAPS, n), dtype=bool), tire_wear_s=wear,
        tire_age_laps=age, fuel_left_l=fuel_left, fuel_used_l=np.full((LAPS, n), 2.0),
        caution_starts=(1, 4), faults=((1, 6),), repairs=((2, 8),), duration_s=1000.0)


def test_each_trigger_lands_on_the_leader_crossing_after_it() -> None:
    found = [(p.leader_lap, p.car_number, p.kinds)
             for p in decision_points(_trace(), [0, 1, 2, 3])]
    assert found == [
        (4, "1", ("caution",)), (4, "2", ("caution",)), (4, "3", ("caution",)),
        (6, "3", ("low_fuel",)),     # car 2 crosses lap 5 at 510 s: the leader's lap 6
        (7, "2", ("fault",)),        # fault from lap 6: crossed at 606 s
        (8, "1", ("worn_tires",)),   # the leader itself: its own lap
        (8, "3", ("damage",)),       # the crossing before the repair's in-lap 8
    ]


def test_no_point_on_lap_1_nor_for_a_retired_car() -> None:
    points = decision_points(_trace(), [3])
    assert points == []  # car 3 retired on lap 3: the lap-4 caution finds it gone
    assert all(p.leader_lap >= 2 for p in decision_points(_trace(), [0, 1, 2]))


def test_points_of_one_car_on_one_lap_merge() -> None:
    trace = _trace()
    merged = RaceTrace(**{**trace.__dict__, "faults": ((0, 8),)})
    kinds = {p.leader_lap: p.kinds for p in decision_points(merged, [0])}
    assert kinds[8] == ("fault", "worn_tires")


def test_no_point_once_the_flag_has_fallen() -> None:
    # the clock runs out at 750 s: the leader's lap 8 (800 s) brings the flag, and the
    # points on it (the leader's worn tires, car 3's damage) have nothing left to decide
    trace = _trace()
    short = RaceTrace(**{**trace.__dict__, "duration_s": 750.0})
    assert [(p.leader_lap, p.car_number) for p in decision_points(short, [0, 1, 2, 3])] == [
        (4, "1"), (4, "2"), (4, "3"), (6, "3"), (7, "2")]


def test_a_trigger_reads_nothing_after_it() -> None:
    trace = _trace()
    later = trace.end_s.copy()
    later[7:, :] += 500.0  # the race after the car's lap 7 changes: the point does not
    changed = RaceTrace(**{**trace.__dict__, "end_s": later})
    assert leader_lap_at(changed, 1, 6) == leader_lap_at(trace, 1, 6) == 7


def test_choose_cars() -> None:
    rng = np.random.default_rng(0)
    assert choose_cars(5, 0, rng) == [0, 1, 2, 3, 4]
    picked = choose_cars(20, 4, rng)
    assert len(set(picked)) == 4 and picked == sorted(picked)
