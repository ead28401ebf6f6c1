"""The deterministic rejoin estimate, on fields checked by hand."""

from __future__ import annotations

import pytest

from cognirace.errors import StrategyError
from cognirace.strategy import estimate_rejoin
from cognirace.strategy.rejoin import queue_crossings_s

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
    1 s apart behind it (1257, 1258); C leaves the pit lane at the caution's pace, not
    racing to close up under the yellow: 1149 + 140 = 1289; E, closing up at 115 s
    (1278.5), is held behind it (1290). C rejoins 4th, 31 s behind D and 1 s ahead of E."""
    snap = race(_field(), time_left_s=900.0, caution=True)
    rejoin = estimate_rejoin(snap, "C", 20.0)
    assert rejoin.position == 4 and rejoin.time_s == pytest.approx(1289.0)
    assert rejoin.gap_ahead_s == pytest.approx(31.0)
    assert rejoin.gap_behind_s == pytest.approx(1.0)
    assert queue_crossings_s(snap, "C", 20.0, 12)["E"] == pytest.approx(1290.0)


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


def test_a_drive_through_runs_its_out_lap_on_the_old_tires() -> None:
    """As ``test_new_tires_and_wear_move_the_rejoin`` but no tires are fitted: C's laps
    stay 100 and 100.5 s, 1020 + 200.5 + 25 = 1245.5, behind D (1230), ahead of E."""
    snap = race(_field(deg_s_per_lap=0.5), time_left_s=900.0)
    rejoin = estimate_rejoin(snap, "C", 25.0, new_tires=False)
    assert rejoin.time_s == 1245.5 and rejoin.position == 4
    assert rejoin.gap_ahead_s == 15.5 and rejoin.gap_behind_s == 4.5


def test_a_car_in_the_pit_lane_carries_the_rest_of_its_stop() -> None:
    """D crossed the line in the pit lane at 1008: its stop is not over. Run as a plain
    lap it would complete lap 12 at 1208, ahead of C (1020 + 200 + 25 = 1245); with the
    rest of its stop, a whole tire stop's 38 s, it comes by at 1246, 1 s behind C. So C
    rejoins 3rd (behind A at 1200 and E at 1230), and the answer says what it assumed."""
    cars = [car("A", 1, 1000.0), car("D", 2, 1008.0, in_pit=True), car("C", 3, 1020.0),
            car("E", 4, 1030.0)]
    rejoin = estimate_rejoin(race(cars, time_left_s=900.0), "C", 25.0)
    assert rejoin.position == 3 and rejoin.time_s == 1245.0
    assert rejoin.gap_ahead_s == 15.0 and rejoin.gap_behind_s == 1.0
    assert any("car(s) D in the pit lane" in note for note in rejoin.notes)
    plain = [c if c.car_number != "D" else car("D", 2, 1008.0) for c in cars]
    assert estimate_rejoin(race(plain, time_left_s=900.0), "C", 25.0).position == 4


def test_under_caution_a_car_in_the_pit_lane_neither_holds_nor_is_held() -> None:
    """The caution starts at 1030 (D's crossing). B crossed in the pit lane at 1010: it
    runs the 80% of its lap left at the caution's pace plus the rest of its stop (the
    caution loss, 20 s): 1030 + 112 + 20 = 1162, out of the queue; A heads the queue
    (1128), C (1133.5 + 20 = 1153.5) stops, D closes up (1145). Lap 12: A 1268, D 1269,
    C leaves the lane at 1153.5 + 140 = 1293.5, and B, closing up at 115 s (1277), is held
    behind it (1294.5). Taken as a queued car, B would have stayed ahead of C."""
    cars = [car("A", 1, 1000.0), car("B", 2, 1010.0, in_pit=True), car("C", 3, 1020.0),
            car("D", 4, 1030.0)]
    snap = race(cars, time_left_s=900.0, caution=True)
    rejoin = estimate_rejoin(snap, "C", 20.0)
    assert rejoin.position == 3 and rejoin.time_s == pytest.approx(1293.5)
    assert queue_crossings_s(snap, "C", 20.0, 11)["B"] == pytest.approx(1162.0)
    assert queue_crossings_s(snap, "C", 20.0, 12)["B"] == pytest.approx(1294.5)
    queued = [c if c.car_number != "B" else car("B", 2, 1010.0) for c in cars]
    assert estimate_rejoin(race(queued, time_left_s=900.0, caution=True), "C",
                           20.0).position == 4


def test_a_fallback_pace_is_said_and_a_plain_answer_says_nothing() -> None:
    plain = estimate_rejoin(race(_field(), time_left_s=900.0), "C", 25.0)
    assert not plain.pace_fallback and plain.notes == ()
    cars = [c if c.car_number != "E" else car("E", 5, 1050.0, pace_fallback=True)
            for c in _field()]
    other = estimate_rejoin(race(cars, time_left_s=900.0), "C", 25.0)
    assert other.pace_fallback and (other.position, other.time_s) == (4, 1245.0)
    assert any("car(s) E carried at the field's pace" in note for note in other.notes)
    mine = [c if c.car_number != "C" else car("C", 3, 1020.0, pace_fallback=True)
            for c in _field()]
    assert estimate_rejoin(race(mine, time_left_s=900.0), "C", 25.0).pace_fallback
    body = other.to_json()
    assert body["pace_fallback"] is True and body["notes"] == list(other.notes)
