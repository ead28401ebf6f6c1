"""The lap table on tiny hand-built races: stints, tire age, gaps, pace, clock, telemetry."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from cognirace.errors import SchemaError
from cognirace.features import (
    CATALOGUE,
    FEATURE_SCHEMA,
    aggregate_telemetry,
    build_lap_features,
    catalogue_frame,
    check_features,
    feature_table,
)
from cognirace.lake import Lake
from cognirace.lake.schema import LAPS, TELEMETRY, WEATHER

START = dt.datetime(2025, 7, 20, 18, 0, tzinfo=dt.UTC)
RACE = "barber-R1"


def _car(vehicle: str, times: list[float], *, offset: float = 0.0,
         flags: str = "", pits: dict[int, float] | None = None) -> list[dict[str, object]]:
    """Lap rows of one car: lap times (s), flags as a string of G/F, pit times by lap."""
    rows, t = [], offset
    for i, lap_time in enumerate(times, start=1):
        pit = (pits or {}).get(i)
        rows.append({
            "race_id": RACE, "vehicle_id": vehicle, "car_number": int(vehicle[-1]),
            "lap": i, "lap_start": START + dt.timedelta(seconds=t),
            "lap_end": START + dt.timedelta(seconds=t + lap_time), "lap_time_s": lap_time,
            "flag": "FCY" if flags[i - 1:i] == "F" else "GF", "in_pit": pit is not None,
            "pit_time_s": pit,
        })
        t += lap_time
    return rows


def _build(*cars: list[dict[str, object]], weather: pl.DataFrame | None = None,
           telemetry: pl.DataFrame | None = None, duration_s: float = 2700.0
           ) -> pl.DataFrame:
    laps = pl.DataFrame([r for car in cars for r in car], schema=LAPS)
    races = pl.DataFrame({"race_id": [RACE], "track": ["barber"], "session": ["R1"]})
    weather = pl.DataFrame(schema=WEATHER) if weather is None else weather
    telemetry = pl.DataFrame(schema=TELEMETRY) if telemetry is None else telemetry
    return build_lap_features(laps.lazy(), races.lazy(), weather.lazy(),
                              aggregate_telemetry(telemetry.lazy()),
                              race_duration_s=duration_s).collect()


def test_stints_split_at_every_stop_and_only_tire_changes_reset_age() -> None:
    # Barber's pit transit is 34 s: 36 s is a drive-through, 64 s includes a tire change.
    table = _build(_car("GR86-001-1", [100.0] * 6, pits={3: 36.0, 5: 64.0}))
    assert table["stint"].to_list() == [1, 1, 1, 2, 2, 3]
    assert table["out_lap"].to_list() == [False, False, False, True, False, True]
    assert table["tire_change"].to_list() == [False, False, False, False, True, False]
    assert table["tire_age_laps"].to_list() == [0, 1, 2, 3, 4, 0]


def test_flags_green_laps_and_pace() -> None:
    times = [110.0, 130.0, 101.0, 100.0, 102.0, 99.0, 104.0]
    table = _build(_car("GR86-001-1", times, flags="GFGGGGG"))
    assert table["prev_fcy"].to_list() == [False, False, True, False, False, False, False]
    # Lap 1 (start) and lap 3 (restart after the caution) are not representative.
    assert table["green_lap"].to_list() == [False, False, False, True, True, True, True]
    assert table["pace_median3_s"].to_list() == [None, None, None, 100.0, 101.0, 100.0, 102.0]
    assert table["best_green_s"].to_list() == [None, None, None, 100.0, 100.0, 99.0, 99.0]


def test_position_and_gaps_use_only_crossings_already_made() -> None:
    table = _build(
        _car("GR86-001-1", [100.0, 100.0]),
        _car("GR86-002-2", [100.0, 103.0], offset=1.0),
        _car("GR86-003-3", [100.0, 100.0], offset=3.0),
    ).sort("lap", "position")
    lap1 = table.filter(pl.col("lap") == 1)
    assert lap1["gap_ahead_s"].to_list() == [None, 1.0, 2.0]
    lap2 = table.filter(pl.col("lap") == 2)
    assert lap2["vehicle_id"].to_list() == ["GR86-001-1", "GR86-003-3", "GR86-002-2"]
    assert lap2["gap_ahead_s"].to_list() == [None, 3.0, 1.0]
    assert lap2["gap_leader_s"].to_list() == [0.0, 3.0, 4.0]
    # The gap behind is the one at lap 1's line: 1 s to car 2, 2 s from car 2 to car 3.
    assert lap2["gap_behind_prev_s"].to_list() == [1.0, None, 2.0]
    # Field median of lap 2 over the cars through so far: 100; 100, 100; 100, 100, 103.
    assert lap2["field_median_green_s"].to_list() == [100.0, 100.0, 100.0]


def test_race_clock_and_laps_left() -> None:
    table = _build(_car("GR86-001-1", [100.0] * 6), duration_s=350.0)
    assert table["race_elapsed_s"].to_list() == [100.0, 200.0, 300.0, 400.0, 500.0, 600.0]
    assert table["race_time_left_s"].to_list() == [250.0, 150.0, 50.0, 0.0, 0.0, 0.0]
    # Lap 1 has no green pace yet: the track's best lap (97.4 s) gives ceil(250/97.4).
    assert table["laps_left_est"].to_list() == [3, 2, 1, 0, 0, 0]


def test_weather_is_the_last_row_before_the_lap_end() -> None:
    weather = pl.DataFrame({
        "race_id": [RACE] * 3,
        "time": [START, START + dt.timedelta(seconds=60), START + dt.timedelta(seconds=150)],
        "air_temp_c": [20.0, 21.0, 22.0], "track_temp_c": [30.0, 0.0, 32.0],
    }).with_columns(pl.lit(None, pl.Float64).alias(c) for c in
                    ("humidity", "pressure_mbar", "wind_speed", "wind_dir_deg", "rain")
                    ).select(WEATHER.names()).cast(dict(WEATHER))
    table = _build(_car("GR86-001-1", [100.0, 100.0]), weather=weather)
    assert table["air_temp_c"].to_list() == [21.0, 22.0]
    assert table["track_temp_c"].to_list() == [None, 32.0]  # 0 means not measured


def test_telemetry_aggregates_of_a_known_lap() -> None:
    n = 5
    samples = pl.DataFrame({
        "race_id": [RACE] * n, "vehicle_id": ["GR86-001-1"] * n,
        "time": [START + dt.timedelta(seconds=s) for s in range(n)], "lap": [1] * n,
        "speed_kph": [36.0, 72.0, 36.0, 72.0, 108.0], "rpm": [6000.0] * n,
        "aps": [100.0, 100.0, 50.0, 0.0, 100.0], "pbrake_f": [0.0, 10.0, 10.0, 0.0, 0.0],
        "accy_g": [0.0, 1.0, 1.0, 0.2, 0.0],
    }).with_columns(pl.lit(None).alias(c) for c in TELEMETRY.names()
                    if c not in ("race_id", "vehicle_id", "time", "lap", "speed_kph", "rpm",
                                 "aps", "pbrake_f", "accy_g")).select(TELEMETRY.names()) \
        .cast(dict(TELEMETRY))
    row = _build(_car("GR86-001-1", [100.0, 100.0]), telemetry=samples).row(0, named=True)
    assert row["n_samples"] == n
    assert row["full_throttle_frac"] == pytest.approx(3 / 5)
    assert row["mean_aps_pct"] == pytest.approx(70.0)
    assert row["max_speed_kph"] == 108.0
    assert row["min_corner_speed_kph"] == 36.0  # the samples at 1 g
    assert row["mean_apex_speed_kph"] == 36.0   # one local minimum under lateral g
    # Brake power bar*m/s per sample: 0, 200, 100, 0, 0; trapezoid over 1 s steps.
    assert row["brake_energy_bar_m"] == pytest.approx(100 + 150 + 50 + 0)
    # Load revs per second: 100, 100, 50, 0, 100; trapezoid, in thousands.
    assert row["fuel_proxy_krev"] == pytest.approx((100 + 75 + 25 + 50) / 1000)
    lap2 = _build(_car("GR86-001-1", [100.0, 100.0]), telemetry=samples).row(1, named=True)
    assert lap2["n_samples"] == 0 and lap2["mean_rpm"] is None


def test_simulated_table_matches_the_catalogue(sim_lake: Lake) -> None:
    table = feature_table(sim_lake)
    check_features(table)
    assert table.schema == FEATURE_SCHEMA
    assert table.height == sim_lake.laps.height
    assert table.select("race_id", "vehicle_id", "lap").is_duplicated().sum() == 0
    assert catalogue_frame()["name"].to_list() == [c.name for c in CATALOGUE]
    assert all(c.description for c in CATALOGUE)
    with pytest.raises(SchemaError):
        check_features(table.drop("lap_time_s"))
    with pytest.raises(SchemaError, match="mean_rpm"):
        check_features(table.with_columns(pl.col("mean_rpm").cast(pl.Float32)))
