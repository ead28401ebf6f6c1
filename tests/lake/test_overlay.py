"""Lap overlays from telemetry logged like the real logger: slow channels, missing ones."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from cognirace.errors import DataError
from cognirace.lake import add_distance, resample_by_distance
from cognirace.lake.schema import TELEMETRY

START = dt.datetime(2025, 9, 6, 18, 0, tzinfo=dt.UTC)


def lap(hz: float = 20.0, seconds: float = 30.0) -> pl.DataFrame:
    """A lap at ``hz`` that speeds up from 100 to 160 km/h, every channel on every sample,
    the pedal logged but no blade and no GPS (as at Barber and Indianapolis)."""
    t = np.arange(int(seconds * hz)) / hz
    speed = 100.0 + 2.0 * t
    n = t.size
    values = {
        "race_id": ["barber-R1"] * n, "vehicle_id": ["GR86-002-2"] * n,
        "time": [START + dt.timedelta(seconds=float(x)) for x in t], "lap": [3] * n,
        "lap_dist_m": (100.0 * t + t**2) / 3.6, "speed_kph": speed, "gear": [4] * n,
        "rpm": 40.0 * speed, "aps": np.full(n, 100.0), "ath": [None] * n,
        "pbrake_f": np.zeros(n), "pbrake_r": np.zeros(n), "accx_g": np.full(n, 0.06),
        "accy_g": np.zeros(n), "steering_deg": np.zeros(n), "lat": [None] * n,
        "lon": [None] * n,
    }
    return pl.DataFrame(values).cast(dict(TELEMETRY)).select(TELEMETRY.names())


def logged_like_the_real_logger(frame: pl.DataFrame) -> pl.DataFrame:
    """Lap distance and rpm on one sample in five, speed on the next (the real 20 Hz)."""
    i = pl.int_range(pl.len())
    return frame.with_columns(pl.when(i % 5 == 0).then(pl.col("lap_dist_m", "rpm")),
                              pl.when(i % 5 == 1).then(pl.col("speed_kph")))


def test_slow_channels_resample_like_a_lap_logged_on_every_sample() -> None:
    full = resample_by_distance(lap(), step_m=10.0)
    slow = resample_by_distance(logged_like_the_real_logger(lap()), step_m=10.0)
    grid = min(full.height, slow.height)
    assert abs(full.height - slow.height) <= 1
    for name in ("time_s", "speed_kph", "rpm"):
        assert np.allclose(slow[name][:grid].to_numpy(), full[name][:grid].to_numpy(),
                           rtol=2e-3), name
    assert slow["ath"].null_count() == slow.height, "a channel the track lacks stays null"


def test_distance_from_speed_reads_the_speed_between_its_readings() -> None:
    full = add_distance(lap())["distance_m"].to_numpy()
    slow = add_distance(logged_like_the_real_logger(lap()))["distance_m"].to_numpy()
    expected = (100.0 * 29.95 + 29.95**2) / 3.6
    assert full[-1] == pytest.approx(expected, rel=1e-4)
    assert slow[-1] == pytest.approx(expected, rel=1e-3)  # never a speed of zero at the start


def test_a_lap_without_speed_or_distance_is_refused() -> None:
    blind = lap().with_columns(pl.lit(None, dtype=pl.Float64).alias("speed_kph"),
                               pl.lit(None, dtype=pl.Float64).alias("lap_dist_m"))
    with pytest.raises(DataError, match="no speed reading"):
        resample_by_distance(blind)
