"""Sensors as the real logger shows them: dead band, converter steps, calibration, laps
driven each on their own (see ``sim.sensors`` and ``sim.telemetry``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cognirace.sim import RaceConfig, season_roster, simulate_race
from cognirace.sim.car import G_MPS2
from cognirace.sim.sensors import BRAKE_ADC_BAR, CarSensors, digitise
from cognirace.sim.telemetry import ALL_CHANNELS, speed_envelope, synthesize_car

N = 400


def _analog(**channels: np.ndarray) -> dict[str, np.ndarray]:
    values = {name: np.zeros(N) for name in ALL_CHANNELS}
    return values | channels


def test_brakes_read_zero_under_the_dead_band_and_step_by_the_converter(seed: int) -> None:
    car = dataclasses.replace(CarSensors.draw(np.random.default_rng(seed)),
                              brake_deadband_bar=2.0, brake_offset_f_bar=0.0)
    pressure = np.linspace(0.0, 20.0, N)
    read = digitise(_analog(pbrake_f=pressure, pbrake_r=pressure), car)["pbrake_f"]
    under = pressure * car.brake_gain_f < 2.0
    assert (read[under] == 0.0).all() and (read[~under] >= 1.9).all()
    counts = read / BRAKE_ADC_BAR
    assert np.allclose(counts, np.round(counts))  # whole converter steps only
    assert 5 < len(np.unique(read)) < N  # quantised, yet follows the pressure


def test_a_dropout_stays_missing_through_the_converters(seed: int) -> None:
    car = CarSensors.draw(np.random.default_rng(seed))
    pressure = np.where(np.arange(N) % 7 == 0, np.nan, 30.0)
    read = digitise(_analog(pbrake_f=pressure, pbrake_r=pressure, speed=pressure), car)
    for name in ("pbrake_f", "pbrake_r", "speed"):
        assert np.array_equal(np.isnan(read[name]), np.isnan(pressure)), name


def test_each_car_reads_the_same_driving_its_own_way(seed: int) -> None:
    rng = np.random.default_rng(seed)
    analog = _analog(speed=np.full(N, 150.0), accx_can=np.zeros(N), accy_can=np.zeros(N),
                     Steering_Angle=np.zeros(N))
    cars = [CarSensors.draw(rng) for _ in range(20)]
    reads = [digitise(analog, c) for c in cars]
    speeds = np.array([r["speed"][0] for r in reads])
    steer = np.array([r["Steering_Angle"][0] for r in reads])
    accx = np.array([r["accx_can"][0] for r in reads])
    assert len(np.unique(speeds)) == 20 and np.abs(speeds / 150.0 - 1).max() <= 0.008
    assert np.std(steer) > 1.0 and np.std(accx) > 0.004  # zeros of their own
    assert np.abs(accx).max() < 0.06  # a mounting tilt, not a fault


def test_the_envelope_brakes_before_and_accelerates_after_a_slow_stretch() -> None:
    ds, decel, accel = 5.0, 1.2 * G_MPS2, 0.5 * G_MPS2
    v = np.concatenate([np.full(60, 45.0), np.full(10, 16.7), np.full(60, 45.0)])
    out = speed_envelope(v, ds, decel, accel)
    assert (out <= v + 1e-12).all()
    assert np.allclose(out[60:70], v[60:70]) and np.isclose(out[0], v[0])
    change = (out[1:] ** 2 - out[:-1] ** 2) / (2 * ds)
    assert change.min() >= -decel - 1e-9 and change.max() <= accel + 1e-9
    assert out[59] < 20.0 and out[70] < 20.0  # slowed before, still slow after


@pytest.fixture(scope="module")
def pit_lap_race():  # type: ignore[no-untyped-def]
    race = simulate_race(RaceConfig("barber", n_cars=4, duration_s=900.0),
                         season_roster(5)[:4], np.random.default_rng(5))
    pit_in = race.pit_in.copy()
    pit_in[:, 0] = False
    pit_in[4, 0] = True  # car 0 ends lap 5 in the pit lane
    return dataclasses.replace(race, pit_in=pit_in, faults=[])


def test_a_car_brakes_down_to_the_pit_limiter(pit_lap_race) -> None:  # type: ignore[no-untyped-def]
    tel = synthesize_car(pit_lap_race, 0, 20.0, np.random.default_rng(0))
    lap5 = tel.lap == 5
    speed_kph = tel.values["speed"][lap5]
    slow = np.nonzero(speed_kph < 62.0)[0]
    assert len(slow) and slow[0] > 20
    approach = slice(slow[0] - 40, slow[0] + 1)  # two seconds into the pit lane
    decel_g = -np.diff(speed_kph[approach]) / 3.6 * 20.0 / G_MPS2
    assert decel_g.max() < 1.6  # braked within the car's grip, not a wall at the line
    assert tel.values["pbrake_f"][lap5][approach].max() > 20.0


def test_each_lap_has_its_own_pedal_not_the_ideal_lap_scaled(
    pit_lap_race,  # type: ignore[no-untyped-def]
) -> None:
    tel = synthesize_car(pit_lap_race, 1, 20.0, np.random.default_rng(1))
    grid = np.linspace(300.0, 2000.0, 300)
    dist, aps = tel.values["Laptrigger_lapdist_dls"], tel.values["aps"]
    traces = [np.interp(grid, dist[tel.lap == k], aps[tel.lap == k]) for k in (3, 4)]
    part = (traces[0] > 20) & (traces[0] < 80) & (traces[1] > 20) & (traces[1] < 80)
    assert part.sum() > 10
    assert np.std(traces[0][part] / traces[1][part]) > 0.02


def test_braking_points_move_from_lap_to_lap(
    pit_lap_race,  # type: ignore[no-untyped-def]
) -> None:
    tel = synthesize_car(pit_lap_race, 2, 20.0, np.random.default_rng(2))
    dist, brake = tel.values["Laptrigger_lapdist_dls"], tel.values["pbrake_f"]
    onsets = []
    for lap in range(2, 8):  # the first hard braking of the lap, where it starts
        on = (tel.lap == lap) & (brake > 20.0) & (dist > 100.0)
        first = np.nonzero(on)[0][0]
        start = first
        while start > 0 and brake[start - 1] > 0.0:
            start -= 1
        onsets.append(dist[start])
    assert np.ptp(onsets) < 60.0  # the same corner every lap ...
    assert np.std(onsets) > 1.5  # ... braked for at a place of the lap's own
