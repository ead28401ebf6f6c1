"""Finish classification: the lap chart's columns and a stop on the lap the flag falls."""

from __future__ import annotations

import numpy as np

from cognirace.strategy import Candidate, simulate_rest
from cognirace.strategy.finish import lap_chart

from .fields import car, race

INF = np.inf


def test_the_lap_chart_puts_every_car_s_crossings_under_their_lap_numbers() -> None:
    # three cars 0, 1 and 2 laps short of the leader's count; crossings per car 10x, 20x, 30x
    ends = np.array([[[10.0, 20.0, 30.0]], [[11.0, 21.0, 31.0]], [[12.0, 22.0, 32.0]]])
    chart = lap_chart(ends, np.array([0, 1, 2]), before=2)[0]
    # columns: -inf guard, lap lead-1, lap lead, lead+1, lead+2, lead+3, inf guard;
    # a lap done before the snapshot reads -inf, one not reached in the run inf
    assert chart.T.tolist() == [
        [-INF, -INF, -INF, 10.0, 11.0, 12.0, INF],
        [-INF, -INF, 20.0, 21.0, 22.0, INF, INF],
        [-INF, 30.0, 31.0, 32.0, INF, INF, INF],
    ]


def test_a_car_stopping_on_the_lap_the_flag_falls_is_classified_behind_the_lead_lap() -> None:
    # the leader has just crossed; the others are on the same lap, one crossing behind;
    # the clock runs out before the leader's next crossing, which brings the flag
    cars = [car("1", 1, 1000.0, laps=10), car("2", 2, 970.0, laps=9),
            car("3", 3, 980.0, laps=9), car("4", 4, 990.0, laps=9)]
    snap = race(cars, time_left_s=50.0)
    rest = simulate_rest(snap, [Candidate("4"), Candidate("4", "pit_now")], 20,
                         np.random.default_rng(0), attrition=0.0)
    stay, stop = rest.outcomes
    assert np.all(stay.finish_position == 4)
    assert np.all(stay.laps == 11)
    # in the pit lane when the flag falls: it takes the flag a lap down, behind all three
    assert np.all(stop.laps == 10)
    assert np.all(stop.finish_position == 4)
