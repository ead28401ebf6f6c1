"""The style features the driver embedding reads are the driver's, not the sensor's:
calibration offsets, noise spikes and ripples on a straight leave them where they are.

(The features live in ``cognirace.features.style``; their basic readings are tested in
``tests/features/test_style.py``, these robustness checks beside the model that needs
them.)"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from cognirace.features.style import CORNER_DROP_KPH, corner_apexes, lap_style

T0 = dt.datetime(2025, 4, 6, 15, tzinfo=dt.UTC)


def two_corner_lap(n: int = 240, step_s: float = 0.5) -> pl.DataFrame:
    """Two minutes at 2 Hz: straights, two braking zones, two corners (left, right)."""
    t = np.arange(n) * step_s
    phase = 2 * np.pi * t / (n * step_s)
    speed = 150.0 + 45.0 * np.cos(2 * phase)          # 195 on the straights, 105 at apexes
    accx = -0.9 * np.sin(2 * phase)                   # braking before each apex, then drive
    braking = accx < -0.1
    turning = np.cos(2 * phase) < -0.3
    side = np.where(np.sin(phase) > 0, 1.0, -1.0)
    return pl.DataFrame({
        "time": [T0 + dt.timedelta(seconds=float(x)) for x in t],
        "lap_dist_m": np.cumsum(speed / 3.6 * step_s), "speed_kph": speed,
        "gear": np.where(speed > 150, 5, 4), "rpm": 6000.0 + 5.0 * (speed - 150.0),
        "aps": np.where(braking, 0.0, np.where(accx > 0.3, 100.0, 60.0)),
        "pbrake_f": np.where(braking, -accx * 70.0, 0.0), "accx_g": accx,
        "accy_g": np.where(turning, 1.3 * side, 0.02 * np.sin(7 * phase)),
        "steering_deg": np.where(turning, 30.0 * side, 0.5 * np.sin(5 * phase)),
    })


def _row(samples: pl.DataFrame) -> dict[str, float]:
    return lap_style(samples)


@pytest.mark.parametrize("offset_deg", [-4.0, 16.0])
def test_a_steering_sensor_off_centre_changes_no_feature(offset_deg: float) -> None:
    """16 degrees off would read every straight as turning (trail braking everywhere)
    if steering were read from the sensor's zero rather than straight ahead."""
    lap = two_corner_lap()
    shifted = lap.with_columns(pl.col("steering_deg") + offset_deg)
    assert _row(shifted) == pytest.approx(_row(lap), nan_ok=True)
    assert 0.0 < _row(lap)["trail_brake_frac"] < 1.0


def test_a_lateral_accelerometer_off_zero_changes_no_feature() -> None:
    lap = two_corner_lap()
    tilted = lap.with_columns(pl.col("accy_g") + 0.03)
    assert _row(tilted) == pytest.approx(_row(lap), nan_ok=True)


def test_one_spike_does_not_make_a_peak() -> None:
    """A bump reads 0.5 g more deceleration and 30 bar more on one braking sample: the
    lap's high braking pressure and deceleration barely move; its maximum would."""
    lap = two_corner_lap()
    i = int(np.argmax(lap["pbrake_f"].to_numpy()))
    spiked = lap.with_columns(
        accx_g=pl.when(pl.int_range(pl.len()) == i).then(pl.col("accx_g") - 0.5)
        .otherwise(pl.col("accx_g")),
        pbrake_f=pl.when(pl.int_range(pl.len()) == i).then(pl.col("pbrake_f") + 30.0)
        .otherwise(pl.col("pbrake_f")))
    before, after = _row(lap), _row(spiked)
    assert abs(after["peak_decel_g"] - before["peak_decel_g"]) < 0.05
    assert abs(after["peak_brake_bar"] - before["peak_brake_bar"]) < 2.0
    assert -spiked["accx_g"].min() > before["peak_decel_g"] + 0.4, "the spike is there"


def test_noise_on_a_straight_makes_no_corner(seed: int) -> None:
    rng = np.random.default_rng(seed)
    speed = np.r_[np.linspace(100, 200, 40), 200 + rng.normal(0, 1.0, 60),
                  np.linspace(200, 90, 20), np.linspace(90, 180, 40)]
    apexes = corner_apexes(speed)
    assert apexes.tolist() == [119], "one real corner at 90 km/h; the ripples are none"
    dips = np.r_[np.linspace(100, 200, 40), [200 - CORNER_DROP_KPH - 1, 200], np.full(5, 201)]
    assert corner_apexes(dips).tolist() == [40], "a drop of more than the threshold counts"


def test_driving_harder_on_the_throttle_shows_without_a_pedal() -> None:
    """Blade-only tracks have no pedal features; the drive used still shows in the
    acceleration off the brakes."""
    lap = two_corner_lap().drop("aps")
    harder = lap.with_columns(pl.when(pl.col("accx_g") > 0).then(pl.col("accx_g") * 1.1)
                              .otherwise(pl.col("accx_g")).alias("accx_g"))
    assert _row(harder)["peak_accel_g"] == pytest.approx(1.1 * _row(lap)["peak_accel_g"])
    assert np.isfinite(_row(lap)["peak_accel_g"])
