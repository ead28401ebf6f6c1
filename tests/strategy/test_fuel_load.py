"""The start fill: the least fuel that finishes with P(running dry) at most 1%."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cognirace.errors import StrategyError
from cognirace.strategy import start_fuel
from cognirace.strategy.assumptions import FUEL_CELL_L, fuel_s_per_l

RACE = {"race_duration_s": 2700.0, "lap_time_s": 99.0, "burn_l_per_lap": 2.3}


def test_without_cautions_or_spread_the_fill_is_laps_times_burn(rng) -> None:
    """28 laps: the 28th crossing (2772 s) is the first after 45 minutes."""
    load = start_fuel(**RACE, burn_sd_l_per_lap=0.0, caution_hazard=(0.0,), rng=rng,
                      n_sims=500)
    assert load.laps_p50 == 28.0
    assert load.fuel_l == pytest.approx(64.4)
    assert load.p_dry == 0.0 and load.p_dry_at(64.3) == 1.0
    assert load.lap_time_gain_s == pytest.approx((FUEL_CELL_L - 64.4) * fuel_s_per_l(99.0))
    assert 0.2 < load.lap_time_gain_s < 0.4 and load.fits


def test_the_fill_runs_dry_at_most_one_percent_and_a_litre_less_does_not(rng) -> None:
    load = start_fuel(**RACE, burn_sd_l_per_lap=0.15, caution_hazard=(0.03,), rng=rng,
                      n_sims=5000)
    assert load.p_dry <= 0.01
    assert load.p_dry_at(load.fuel_l - 1.0) > 0.01
    fresh = start_fuel(**RACE, burn_sd_l_per_lap=0.15, caution_hazard=(0.03,),
                       rng=np.random.default_rng(99), n_sims=5000)
    p = fresh.p_dry_at(load.fuel_l)
    assert p <= 0.01 + 3 * math.sqrt(0.01 * 0.99 / 5000)


def test_cautions_save_fuel_and_a_wider_burn_needs_more(rng) -> None:
    calm = start_fuel(**RACE, burn_sd_l_per_lap=0.1, caution_hazard=(0.0,), rng=rng,
                      n_sims=3000)
    yellow = start_fuel(**RACE, burn_sd_l_per_lap=0.1, caution_hazard=(0.08,), rng=rng,
                        n_sims=3000)
    wild = start_fuel(**RACE, burn_sd_l_per_lap=0.5, caution_hazard=(0.0,), rng=rng,
                      n_sims=3000)
    assert yellow.laps_p50 < calm.laps_p50
    assert np.median(yellow.total_burn_l) < np.median(calm.total_burn_l) - 1.0
    assert wild.fuel_l > calm.fuel_l + 1.0


def test_the_reserve_is_added_and_an_overfull_fill_is_flagged(rng) -> None:
    base = start_fuel(**RACE, burn_sd_l_per_lap=0.0, caution_hazard=(0.0,), rng=rng,
                      n_sims=200, reserve_l=3.0)
    assert base.fuel_l == pytest.approx(67.4)
    thirsty = start_fuel(race_duration_s=2700.0, lap_time_s=99.0, burn_l_per_lap=3.2,
                         burn_sd_l_per_lap=0.0, caution_hazard=(0.0,), rng=rng, n_sims=200)
    assert not thirsty.fits and thirsty.lap_time_gain_s < 0


def test_bad_inputs_are_refused(rng) -> None:
    with pytest.raises(StrategyError, match="positive"):
        start_fuel(race_duration_s=2700.0, lap_time_s=0.0, burn_l_per_lap=2.3,
                   burn_sd_l_per_lap=0.1, caution_hazard=(0.0,), rng=rng)
    with pytest.raises(StrategyError, match="caution_hazard"):
        start_fuel(**RACE, burn_sd_l_per_lap=0.1, caution_hazard=(), rng=rng)
    with pytest.raises(StrategyError, match="p_dry_max"):
        start_fuel(**RACE, burn_sd_l_per_lap=0.1, caution_hazard=(0.0,), rng=rng,
                   p_dry_max=0.0)
