"""The backtest's statistics on hand-built data: the race-clustered paired interval,
win/tie/loss, the oracle's share and the calibration error."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cognirace.strategy.backtest_stats import (
    calibration_pairs,
    cluster_bootstrap,
    oracle_share,
    paired_gain,
    reliability,
)


def test_the_interval_resamples_races_not_points() -> None:
    # race 0: three points gaining 1; race 1: one point losing 1. A resample holds two
    # races: both race 0 (mean 1), both race 1 (-1) or one of each (mean 0.5), each
    # drawn often enough that the 95% interval runs from -1 to 1.
    mean, low, high = cluster_bootstrap([1.0, 1.0, 1.0, -1.0], [0, 0, 0, 1])
    assert mean == pytest.approx(0.5)
    assert (low, high) == (pytest.approx(-1.0), pytest.approx(1.0))
    # resampled as four independent points the interval would be far narrower
    _, naive_low, _ = cluster_bootstrap([1.0, 1.0, 1.0, -1.0], [0, 1, 2, 3])
    assert naive_low > low


def test_the_interval_of_a_constant_is_the_constant_and_one_race_is_itself() -> None:
    assert cluster_bootstrap([2.0] * 6, [0, 0, 1, 1, 2, 2]) == (2.0, 2.0, 2.0)
    assert cluster_bootstrap([1.0, 3.0], [7, 7]) == (2.0, 2.0, 2.0)
    assert all(math.isnan(v) for v in cluster_bootstrap([], []))


def test_the_interval_covers_a_known_mean() -> None:
    rng = np.random.default_rng(1)
    race_effect = np.repeat(rng.normal(0.0, 1.0, 200), 5)
    values = 0.3 + race_effect + rng.normal(0.0, 1.0, 1000)
    mean, low, high = cluster_bootstrap(values, np.repeat(np.arange(200), 5))
    assert low < 0.3 < high and low < mean < high
    assert 0.2 < high - low < 0.6  # sd of the mean about 0.08: width about 0.33


def test_paired_gain_counts_wins_ties_and_losses() -> None:
    gain = paired_gain(baseline=[3, 5, 5, 2], advice=[2, 5, 6, 2], clusters=[0, 0, 1, 1])
    assert (gain.mean, gain.win, gain.tie, gain.loss, gain.n) == (0.0, 0.25, 0.5, 0.25, 4)
    assert gain.low <= gain.mean <= gain.high
    assert set(gain.to_json()) >= {"mean_gain", "ci95", "win", "tie", "loss"}


def test_oracle_share() -> None:
    assert oracle_share([5, 5, 5], [4, 5, 5], [3, 5, 4]) == pytest.approx(1 / 3)
    assert oracle_share([5, 5], [5, 6], [5, 5]) is None  # no stop ever beat staying out


def test_reliability_of_hand_built_predictions() -> None:
    table = reliability(np.array([0.05, 0.05, 0.95, 0.95]), np.array([0, 0, 1, 1], bool))
    assert table.error == pytest.approx(0.05)
    assert [(lo, n) for lo, _, n, _, _ in table.bins] == [(0.0, 2), (0.9, 2)]
    perfect = reliability(np.array([0.5] * 4), np.array([1, 0, 1, 0], bool))
    assert perfect.error == pytest.approx(0.0)


def test_calibration_pairs_every_place_but_the_last() -> None:
    predicted, observed = calibration_pairs([(0.2, 0.7, 1.0)], [2])
    assert predicted.tolist() == [0.2, 0.7]
    assert observed.tolist() == [False, True]
