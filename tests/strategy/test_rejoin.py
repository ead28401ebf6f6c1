"""The deterministic rejoin estimate, on fields checked by hand."""

from __future__ import annotations

import pytest

from cognirace.errors import StrategyError
from cognirace.strategy import estimate_rejoin

from .fields import car, race


def _field(**stopping: object) -> list:
    return [car("A", 1, 1000.0), car("B", 2, 1010.0), car("C", 3, 1020.0, **stopping),
            car("D", 4, 1030.0), car("E", 5, 1050.0), car("F", 6, 1060.0, laps=9)]


def test_rejoin_under_green_by_hand() -> None:
    """C stops on lap 11 losing 25 s: it completes lap 12 at 1020 + 200 + 25 = 1245;
    A, B and D have by then (1200, 1210, 1230), E has not (1250), F is a lap down."""
    rejoin = estimate_rejoin(race(_field(), time_left_s=900.0), "C", 25.0)
    assert (rejoin.position, rejoin.out_lap, rejoin.time_s) == (4, 12, 1245.0)
    assert rejoin.gap_ahead_s == 15.0 and rejoin.gap_behind_s == 5.0


def test_new_tires_and_wear_move_the_rejoin() -> None:
    """C wears 0.5 s a lap on a 10-lap set: its laps would be 100 and 100.5 s; on new
    tires the out-lap is 0.5 × 11 = 5.5 s quicker: 1020 + 200.5 + 25 - 5.5 = 1240."""
    rejoin = estimate_rejoin(race(_field(deg_s_per_lap=0.5), time_left_s=900.0), "C", 25.0)
    assert rejoin.time_s == 1240.0 and rejoin.gap_ahead_s == 10.0 and rejoin.position == 4


def test_a_later_in_lap_and_the_leader_rejoining_ahead() -> None:
    rejoin = estimate_rejoin(race(_field(), time_left_s=900.0), "C", 25.0, in_lap=13)
    assert rejoin.out_lap == 14 and rejoin.time_s == 1445.0
    leader = estimate_rejoin(race(_field(), time_left_s=900.0), "A", 5.0)
    assert leader.position == 1 and leader.gap_ahead_s is None and leader.gap_behind_s == 5.0


def test_rejoin_under_caution_joins_the_queue_by_hand() -> None:
    """The caution starts at 1060 (F's crossing); each car runs the rest of its lap
    (A 40%, B 50%, C 60%, D 70%, E 90%) from then. Lap 11: A, the queue's head, at the
    caution's 140 s a lap: 1060 + 56 = 1116; B closes up at 115 s: 1117.5; C 1129 plus its
    20 s stop: 1149, out of the queue; D 1140.5; E 1163.5. Lap 12: A 1256, B and D queue
    1 s apart behind it (1257, 1258), C closes up on its own at 1149 + 115 = 1264, E at
    1278.5. C rejoins 4th, 6 s behind D and 14.5 s ahead of E."""
    snap = race(_field(), time_left_s=900.0, caution=True)
    rejoin = estimate_rejoin(snap, "C", 20.0)
    assert rejoin.position == 4 and rejoin.time_s == pytest.approx(1264.0)
    assert rejoin.gap_ahead_s == pytest.approx(6.0)
    assert rejoin.gap_behind_s == pytest.approx(14.5)


def test_the_leader_stopping_under_caution_drops_behind_the_queue() -> None:
    """The car right behind the line is a crossing short of the leader who has just
    crossed it, and right behind it on the road: a leader that stops under the yellow
    loses its place to every car that passes the pit lane during its stop."""
    cars = [car("A", 1, 1000.0), car("B", 2, 901.0, laps=9), car("C", 3, 905.0, laps=9),
            car("D", 4, 910.0, laps=9)]
    rejoin = estimate_rejoin(race(cars, time_left_s=900.0, caution=True), "A", 30.0)
    assert rejoin.position == 4 and rejoin.gap_behind_s is None


def test_a_past_in_lap_or_a_retired_car_is_refused() -> None:
    snap = race(_field(), time_left_s=900.0)
    with pytest.raises(StrategyError, match="in-lap"):
        estimate_rejoin(snap, "C", 25.0, in_lap=10)
    out = race([*_field()[:2], car("C", 3, 1020.0, running=False), *_field()[3:]],
               time_left_s=900.0)
    with pytest.raises(StrategyError, match="out of the race"):
        estimate_rejoin(out, "C", 25.0)
