"""Per-lap driving-style features: one lap's samples, and the batch table over a lake."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from cognirace.features.style import (
    MIN_SAMPLES,
    STYLE_FEATURES,
    STYLE_KEYS,
    lap_style,
    style_table,
)
from cognirace.lake import Lake


def lap_samples(n: int = 40) -> pl.DataFrame:
    """A 2 Hz lap: a straight in 3rd then 4th, one braking zone into a corner, an exit."""
    t0 = dt.datetime(2025, 4, 6, 15, tzinfo=dt.UTC)
    brake = np.zeros(n)
    brake[10:14] = [20.0, 60.0, 40.0, 10.0]
    speed = np.r_[np.linspace(120, 180, 10), [150, 120, 100, 90, 85],
                  np.linspace(95, 170, n - 15)]
    aps = np.where(brake > 0, 0.0, 100.0)
    aps[14:18] = [20.0, 50.0, 80.0, 96.0]
    gear = np.where(np.arange(n) < 5, 3, 4)
    return pl.DataFrame({
        "time": [t0 + dt.timedelta(seconds=0.5 * i) for i in range(n)],
        "lap_dist_m": np.cumsum(speed / 3.6 * 0.5), "speed_kph": speed,
        "gear": gear, "rpm": np.where(np.arange(n) == 4, 7300.0, 6000.0), "aps": aps,
        "pbrake_f": brake, "accx_g": np.where(brake > 0, -brake / 60.0, 0.1),
        "accy_g": np.where((np.arange(n) >= 12) & (np.arange(n) < 16), 1.2, 0.0),
        "steering_deg": np.where((np.arange(n) >= 12) & (np.arange(n) < 16), 40.0, 0.0),
    })


def test_one_lap_gives_its_braking_throttle_and_gears() -> None:
    samples = lap_samples()
    row = lap_style(samples)
    assert list(row) == list(STYLE_FEATURES)
    assert row["peak_brake_bar"] == 60.0 and row["peak_decel_g"] == 1.0
    assert row["brake_bar_per_g"] == 60.0, "pressure per g is the car's brake gain"
    assert row["trail_brake_frac"] == 0.5, "two of four braking samples are turning"
    assert row["full_after_apex_s"] == 1.5, "apex at 85 km/h, full pedal 3 samples later"
    assert row["upshift_rpm"] == 7300.0
    assert row["corner1_speed_rel"] == 85.0 / float(samples["speed_kph"].mean())
    np.testing.assert_equal(lap_style(samples.reverse()), row)  # sorted by time first


def test_a_short_lap_gives_no_values() -> None:
    row = lap_style(lap_samples().head(MIN_SAMPLES - 1))
    assert all(math.isnan(v) for v in row.values())


def test_the_table_holds_green_laps_and_matches_one_lap_at_a_time(sim_lake: Lake) -> None:
    table = style_table(sim_lake)
    assert table.columns == [*STYLE_KEYS, *STYLE_FEATURES] and table.height > 5
    assert table.select(pl.col("lap").min()).item() >= 2, "lap 1 is a standing start"
    assert table.select(pl.col("stint").min()).item() == 1
    lap = table.row(3, named=True)
    samples = sim_lake.scan_telemetry(race_id=lap["race_id"], vehicle_id=lap["vehicle_id"]) \
        .filter(pl.col("lap") == lap["lap"]).collect()
    live = pl.DataFrame([lap_style(samples)])
    assert_frame_equal(table.slice(3, 1).select(STYLE_FEATURES), live)
    green = sim_lake.laps.filter(pl.col("flag") == "FCY").select("vehicle_id", "lap")
    assert table.join(green, on=["vehicle_id", "lap"]).is_empty()
