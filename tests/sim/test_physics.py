"""Physics and calibration of the simulator against REFERENCE.md."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cognirace.domain.tracks import TRACKS
from cognirace.errors import ConfigError
from cognirace.sim import RaceConfig, build_layout, physics_floor_s, season_roster, simulate_race
from cognirace.sim.car import GR86
from cognirace.sim.events import CAUTIONS_PER_RACE, MAX_CAUTIONS, Fault, draw_cautions
from cognirace.sim.telemetry import synthesize_car

SEEDS = (0, 1, 2)


def _race(track: str, seed: int, n_cars: int = 25):  # type: ignore[no-untyped-def]
    roster = season_roster(seed)[:n_cars]
    return simulate_race(RaceConfig(track, n_cars=n_cars), roster, np.random.default_rng(seed))


@pytest.mark.parametrize("track", list(TRACKS))
def test_layout_is_closed_and_has_the_track_length(track: str) -> None:
    layout = build_layout(track)
    ds = layout.s_m[1] - layout.s_m[0]
    assert len(layout.s_m) * ds == pytest.approx(TRACKS[track].length_m, rel=1e-6)
    step = np.hypot(np.diff(layout.x_m), np.diff(layout.y_m))
    closing = np.hypot(layout.x_m[0] - layout.x_m[-1], layout.y_m[0] - layout.y_m[-1])
    assert closing < 3 * ds
    assert step.max() < 1.4 * ds  # the closing gap is spread along the lap


@pytest.mark.parametrize("track", list(TRACKS))
@pytest.mark.parametrize("seed", SEEDS)
def test_best_race_lap_is_within_the_reference_window(track: str, seed: int) -> None:
    race = _race(track, seed)
    low, high = TRACKS[track].best_lap_window_s
    assert low <= np.nanmin(race.lap_time_s) <= high


@pytest.mark.parametrize("seed", SEEDS)
def test_no_lap_is_faster_than_physics_allows(seed: int) -> None:
    for track in ("barber", "road_america"):
        race = _race(track, seed)
        assert np.nanmin(race.lap_time_s) >= physics_floor_s(track) - 1e-3


@pytest.mark.parametrize("seed", SEEDS)
def test_tyre_loss_is_linear_in_age_within_range(seed: int) -> None:
    race = _race("cota", seed)
    cold = race.terms["tyre"] - race.deg_s_per_lap[None, :] * race.tyre_age_laps
    for car in range(race.n_cars):
        ok = np.isfinite(race.terms["tyre"][:, car]) & (np.abs(cold[:, car]) < 0.5)
        age = race.tyre_age_laps[ok, car]
        if np.ptp(age) < 5:
            continue
        slope = np.polyfit(age, race.terms["tyre"][ok, car], 1)[0]
        assert 0.01 <= slope <= 0.08


@pytest.mark.parametrize("seed", SEEDS)
def test_fuel_per_lap_is_plausible_and_lower_under_caution(seed: int) -> None:
    for track in ("barber", "road_america"):
        race = _race(track, seed)
        green = race.completed() & ~race.caution_lap
        per_lap = np.nanmean(race.fuel_used_l[green])
        assert 1.8 <= per_lap <= 4.5
        assert np.nanmin(race.fuel_left_l) > 0
        assert np.nanmax(race.fuel_left_l) <= GR86.tank_l
        full = race.caution_lap & np.vstack([np.zeros((1, race.n_cars), dtype=bool),
                                              race.caution_lap[:-1]])
        if full.any():  # laps run all the way under yellow
            assert np.nanmean(race.fuel_used_l[full]) < 0.6 * per_lap


def test_caution_laps_are_slower_and_bunch_the_field() -> None:
    seen = 0
    for seed in range(12):
        race = _race("indianapolis", seed)
        full = race.caution_lap & np.vstack([np.zeros((1, race.n_cars), dtype=bool),
                                              race.caution_lap[:-1]])
        if not full.any():
            continue
        seen += 1
        green = race.completed() & ~race.caution_lap & ~race.pit_in & ~race.pit_out
        fcy = full & ~race.pit_in & ~race.pit_out  # laps all the way under yellow
        ratio = np.nanmean(race.lap_time_s[fcy]) / np.nanmedian(race.lap_time_s[green])
        assert 1.3 <= ratio <= 1.7  # real full yellow laps: 1.40 to 1.77 x the best lap
        last = min(max(c.end_lap for c in race.cautions), int(race.laps_done.max())) - 1
        lead_lap = race.end_s[last]
        same_lap = np.sort(lead_lap[np.isfinite(lead_lap)])
        spread_fcy = same_lap[min(9, len(same_lap) - 1)] - same_lap[0]
        assert spread_fcy < 15.0
    assert seen >= 3


@pytest.mark.parametrize("track", ["barber", "indianapolis"])
def test_caution_counts_follow_the_track(track: str) -> None:
    rng = np.random.default_rng(5)
    mean = CAUTIONS_PER_RACE[track]
    drawn = [draw_cautions(25, 25, rng, mean_count=mean, lap_s=120.0) for _ in range(2000)]
    counts = np.array([len(c) for c in drawn])
    assert counts.max() <= MAX_CAUTIONS
    assert abs(counts.mean() - mean) < 0.15  # a few do not fit in 25 laps
    first = [c[0].start_lap for c in drawn if c]
    assert 0.28 <= np.mean(np.array(first) == 1) <= 0.44  # P_FIRST_CAUTION_LAP1 = 0.36


def test_a_caution_flags_the_laps_it_covers_and_slows_the_next_one() -> None:
    seen = 0
    for seed in range(20):
        race = _race("sonoma", seed, n_cars=10)
        for c in race.cautions:
            if c.end_lap + 1 >= int(race.laps_done.max()):
                continue
            seen += 1
            leader = int(np.argmax(race.laps_done))
            laps = race.lap_time_s[:, leader]
            green = np.nanmedian(laps[~race.caution_lap[:, leader]])
            assert race.caution_lap[c.start_lap - 1: c.end_lap, leader].all()
            assert not race.caution_lap[c.end_lap, leader]  # flagged green again ...
            assert laps[c.end_lap] > 1.08 * green  # ... yet largely run at caution pace
    assert seen >= 5


def test_some_cautions_follow_a_car_limping_two_laps_before() -> None:
    limped, later = 0, 0
    for seed in range(40):
        race = _race("indianapolis", seed, n_cars=12)
        for caution in race.cautions:
            if caution.start_lap > 3:
                later += 1
                limped += race.terms["error"][caution.start_lap - 3, caution.cause_car] >= 4.0
    assert later >= 15
    assert 0.15 <= limped / later <= 0.65  # P_CAUTION_PRECURSOR = 0.4


def test_positions_change_through_overtakes() -> None:
    race = _race("road_america", 0)
    assert race.overtakes.sum() > 5
    assert race.overtakes.sum() == race.overtaken.sum()


def test_faults_show_in_the_channels_they_affect() -> None:
    race = _race("vir", 0, n_cars=6)
    laps = int(race.laps_done[0])
    faults = [
        Fault(0, "power_loss", 4, 6, ("speed", "nmot"), 0.12, 1.0),
        Fault(0, "stuck", 8, 9, ("Steering_Angle",), 0.1, 0.0),
        Fault(0, "brake_fade", 11, 12, ("pbrake_f",), 0.1, 1.0),
        Fault(0, "dropout", 14, 14, ("aps",), 0.1, 0.0),
    ]
    assert laps > 15
    race = dataclasses.replace(race, faults=faults)
    tel = synthesize_car(race, 0, 10.0, np.random.default_rng(0))
    lap = tel.lap
    speed, steer, brake = (tel.values[c] for c in ("speed", "Steering_Angle", "pbrake_f"))
    clean = (lap >= 2) & (lap <= 3) | (lap >= 16)
    assert speed[(lap >= 4) & (lap <= 6)].max() < 0.92 * speed[clean].max()
    assert np.ptp(steer[(lap >= 8) & (lap <= 9)]) == 0.0
    assert np.ptp(steer[clean]) > 10
    assert brake[(lap >= 11) & (lap <= 12)].max() > 1.2 * brake[clean].max()
    aps = tel.values["aps"]
    assert np.isnan(aps[lap == 14]).all() and np.isfinite(aps[lap != 14]).all()


def test_telemetry_speed_never_beats_the_car() -> None:
    race = _race("road_america", 1, n_cars=4)
    tel = synthesize_car(race, 0, 5.0, np.random.default_rng(0))
    v = np.linspace(1, 90, 900)
    _, _, force = GR86.best_gear(v)
    top_kph = v[np.nonzero(force > GR86.resist_force_n(v, GR86.mass_kg))[0].max()] * 3.6
    finite = np.isfinite(tel.values["speed"])
    assert tel.values["speed"][finite].max() <= top_kph
    assert tel.values["nmot"][np.isfinite(tel.values["nmot"])].max() <= GR86.rpm_limit + 200


def test_invalid_race_config_is_refused_with_a_hint() -> None:
    with pytest.raises(ConfigError, match="cars"):
        RaceConfig("barber", n_cars=40).validate()
    with pytest.raises(ConfigError, match="unknown track"):
        RaceConfig("monza").validate()
    with pytest.raises(ConfigError, match="telemetry"):
        RaceConfig("barber", telemetry_hz=0.5).validate()
