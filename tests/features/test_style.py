"""Per-lap driving-style features: one lap's samples, and the batch table over a lake."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cognirace.domain.formats import FLAG_CAUTION
from cognirace.features.signals import FULL_THROTTLE_PCT, HOLD_S
from cognirace.features.style import (
    MIN_SAMPLES,
    STYLE_FEATURES,
    STYLE_KEYS,
    THROTTLE_FEATURES,
    lap_style,
    style_table,
)
from cognirace.lake import Lake


def lap_samples(n: int = 40, step_s: float = 0.5) -> pl.DataFrame:
    """A lap at 2 Hz (or the same lap every ``step_s``): a straight in 3rd then 4th, one
    braking zone into a corner, an exit."""
    t0 = dt.datetime(2025, 4, 6, 15, tzinfo=dt.UTC)
    t = np.arange(n) * step_s
    knots = np.arange(40) * 0.5
    brake_k = np.zeros(40)
    brake_k[10:14] = [20.0, 60.0, 40.0, 10.0]
    speed_k = np.r_[np.linspace(120, 180, 10), [150, 120, 100, 90, 85], np.linspace(95, 170, 25)]
    aps_k = np.where(brake_k > 0, 0.0, 100.0)
    aps_k[14:18] = [20.0, 50.0, 80.0, 96.0]
    brake, speed, aps = (np.interp(t, knots, k) for k in (brake_k, speed_k, aps_k))
    turning = (t >= 6.0) & (t < 8.0)
    return pl.DataFrame({
        "time": [t0 + dt.timedelta(seconds=float(x)) for x in t],
        "lap_dist_m": np.cumsum(speed / 3.6 * step_s), "speed_kph": speed,
        "gear": np.where(t < 2.5, 3, 4), "rpm": np.where((t >= 2.0) & (t < 2.5), 7300.0, 6000.0),
        "aps": aps, "pbrake_f": brake, "accx_g": np.where(brake > 0, -brake / 60.0, 0.1),
        "accy_g": np.where(turning, 1.2, 0.0), "steering_deg": np.where(turning, 40.0, 0.0),
    })


def test_one_lap_gives_its_braking_throttle_and_gears() -> None:
    samples = lap_samples()
    row = lap_style(samples)
    assert list(row) == list(STYLE_FEATURES)
    # "peak" is the 90th percentile of the braking samples (20, 60, 40, 10 bar), not the max
    assert row["peak_brake_bar"] == pytest.approx(54.0)
    assert row["peak_decel_g"] == pytest.approx(0.9)
    assert row["brake_bar_per_g"] == 60.0, "pressure per g is the car's brake gain"
    assert row["trail_brake_frac"] == 0.5, "two of four braking samples are turning"
    assert row["full_after_apex_s"] == 1.5, "apex at 85 km/h, full pedal 3 samples later"
    assert row["upshift_rpm"] == 7300.0
    assert row["corner1_speed_rel"] == 85.0 / float(samples["speed_kph"].mean())
    np.testing.assert_equal(lap_style(samples.reverse()), row)  # sorted by time first


def test_a_short_lap_gives_no_values() -> None:
    row = lap_style(lap_samples().head(MIN_SAMPLES - 1))
    assert all(math.isnan(v) for v in row.values())


def test_throttle_features_need_the_pedal_and_the_others_do_not() -> None:
    """Where the track logs only the blade, the throttle features are absent (NaN),
    never read from the blade or from zeros; the other features are unchanged."""
    pedal = lap_samples()
    blade = pedal.rename({"aps": "ath"})
    with_pedal, blade_only = lap_style(pedal), lap_style(blade)
    for name in STYLE_FEATURES:
        if name in THROTTLE_FEATURES:
            assert math.isnan(blade_only[name]) and math.isfinite(with_pedal[name]), name
        else:
            np.testing.assert_equal(blade_only[name], with_pedal[name])
    gap = pedal.with_columns(pl.when(pl.int_range(pl.len()).is_between(20, 39))
                             .then(None).otherwise(pl.col("aps")).alias("aps"))
    # The last reading (9.5 s) stands for the samples up to HOLD_S later, no further.
    seen = [*pedal["aps"].head(20), *[pedal["aps"][19]] * int(HOLD_S / 0.5)]
    assert lap_style(gap)["full_throttle_frac"] == np.mean(np.array(seen) >= FULL_THROTTLE_PCT)


def test_a_lap_missing_a_channel_every_track_logs_gives_no_row() -> None:
    no_brake = lap_samples().with_columns(pl.lit(None, dtype=pl.Float64).alias("pbrake_f"))
    assert all(math.isnan(v) for v in lap_style(no_brake).values())


def test_slow_channels_are_read_between_their_readings() -> None:
    """At 20 Hz speed, rpm and lap distance come on one sample in four or five: the lap
    resampled that way gives the row of the lap logged on every sample."""
    fine = lap_samples(400, step_s=0.05)
    slow = fine.with_columns(
        pl.when(pl.int_range(pl.len()) % 5 == 0).then(pl.col("lap_dist_m", "rpm")),
        pl.when(pl.int_range(pl.len()) % 5 == 1).then(pl.col("speed_kph")))
    full, sparse = lap_style(fine), lap_style(slow)
    for name in ("peak_brake_bar", "brake_frac", "full_throttle_frac", "corner1_speed_rel",
                 "apex_speed_rel", "brake_zone_m"):
        assert sparse[name] == pytest.approx(full[name], rel=0.05), name


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
    green = sim_lake.laps.filter(pl.col("flag") == FLAG_CAUTION).select("vehicle_id", "lap")
    assert table.join(green, on=["vehicle_id", "lap"]).is_empty()
