"""Drop-outs on top of a run's finishes: chances, bounds and common random numbers."""

from __future__ import annotations

import numpy as np

from cognirace.strategy.attrition import with_attrition

SIMS = 20_000


def test_no_hazard_changes_nothing() -> None:
    positions = np.array([[3, 7, 1]])
    out = with_attrition(positions, np.full((1, 3), 10), 20, 0.0, np.random.default_rng(1))
    assert np.array_equal(out, positions)


def test_the_car_drops_out_as_often_as_the_hazard_says_and_ranks_behind_finishers() -> None:
    n, laps, hazard = 20, 15, 0.01
    positions = np.full((1, SIMS), 1)
    out = with_attrition(positions, np.full((1, SIMS), laps), n, hazard,
                         np.random.default_rng(2))
    p_out = 1 - (1 - hazard) ** laps
    dropped = out[0] > 1  # a leader only loses its place by dropping out
    assert abs(dropped.mean() - p_out) < 4 * np.sqrt(p_out * (1 - p_out) / SIMS)
    assert out.min() >= 1 and out.max() <= n
    # behind every car still running: at least n minus the others that dropped too
    assert np.all(out[0][dropped] >= n - 3 * laps * hazard * n)


def test_a_car_at_the_back_gains_from_drop_outs_ahead() -> None:
    n, laps, hazard = 20, 20, 0.005
    positions = np.full((1, SIMS), n)
    out = with_attrition(positions, np.full((1, SIMS), laps), n, hazard,
                         np.random.default_rng(3))
    p = 1 - (1 - hazard) ** laps
    # not out itself: every other car out is a place; out: it ranks among the others out
    # at random, half of them behind it on average
    expected_gain = (1 - p) * (n - 1) * p + p * (n - 1) * p / 2
    assert abs((n - out[0]).mean() - expected_gain) < 0.05
    assert out.max() == n


def test_candidates_share_the_draws() -> None:
    positions = np.array([[5] * 1000, [5] * 1000, [12] * 1000])
    out = with_attrition(positions, np.full((3, 1000), 12), 25, 0.01,
                         np.random.default_rng(4))
    assert np.array_equal(out[0], out[1])
    # who drops out is the same run by run: the car drops out in the same runs
    assert np.array_equal(out[0] > 5, out[2] > 12)
