"""The lap table on tiny hand-built races: stints, tire age, gaps, pace, clock, telemetry."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from cognirace.domain.formats import FLAG_CAUTION, FLAG_FINISH, FLAG_GREEN
from cognirace.errors import SchemaError
from cognirace.features import (
    CATALOGUE,
    FEATURE_SCHEMA,
    KEY_COLUMNS,
    TELEMETRY_FEATURES,
    aggregate_telemetry,
    build_lap_features,
    catalogue_frame,
    check_features,
    feature_table,
)
from cognirace.lake import Lake
from cognirace.lake.schema import LAPS, TELEMETRY, WEATHER
from features import timing_cars

START = dt.datetime(2025, 7, 20, 18, 0, tzinfo=dt.UTC)
RACE = "barber-R1"
FLAG_OF = {"G": FLAG_GREEN, "F": FLAG_CAUTION, "C": FLAG_FINISH}
"""Letters of ``_car``'s flags: green, full-course yellow, chequered."""


def _car(vehicle: str, times: list[float], *, offset: float = 0.0, flags: str = "",
         pits: dict[int, float] | None = None, number: str | None = None
         ) -> list[dict[str, object]]:
    """Lap rows of one car: lap times (s), flags as a string of G/F/C (green when
    short), pit times by lap; the number (text) defaults to the vehicle id's last part."""
    rows, t = [], offset
    for i, lap_time in enumerate(times, start=1):
        pit = (pits or {}).get(i)
        rows.append({
            "race_id": RACE, "vehicle_id": vehicle,
            "car_number": vehicle.rsplit("-", 1)[1] if number is None else number,
            "lap": i, "lap_start": START + dt.timedelta(seconds=t),
            "lap_end": START + dt.timedelta(seconds=t + lap_time), "lap_time_s": lap_time,
            "flag": FLAG_OF[flags[i - 1:i] or "G"], "in_pit": pit is not None,
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


def test_the_chequered_lap_is_a_racing_lap() -> None:
    # FF ends the car's race: raced flat out to the line, so it counts like green.
    table = _build(_car("GR86-001-1", [110.0, 100.0, 102.0, 99.0], flags="GGGC"))
    assert table["flag"].to_list() == [FLAG_GREEN, FLAG_GREEN, FLAG_GREEN, FLAG_FINISH]
    assert table["green_lap"].to_list() == [False, True, True, True]
    assert table["pace_median3_s"].to_list() == [None, 100.0, 101.0, 100.0]
    assert table["best_green_s"].to_list()[-1] == 99.0


def test_a_chequered_lap_right_after_a_caution_is_not_green() -> None:
    # A race ending behind the safety car: the lap after a caution is never representative.
    table = _build(_car("GR86-001-1", [110.0, 100.0, 130.0, 120.0], flags="GGFC"))
    assert table["prev_fcy"].to_list() == [False, False, False, True]
    assert table["green_lap"].to_list() == [False, True, False, False]


def test_car_numbers_021_and_21_stay_two_cars() -> None:
    table = _build(
        _car("GR86-004-021", [100.0, 101.0, 99.0], number="021"),
        _car("GR86-009-21", [100.0, 98.0, 103.0], offset=0.5, number="21"),
    )
    assert table.schema["car_number"] == pl.String
    per_car = (table.group_by("car_number").agg(pl.col("vehicle_id").unique(),
                                                pl.col("lap_time_s"))
               .sort("car_number"))
    assert per_car["car_number"].to_list() == ["021", "21"]
    assert per_car["vehicle_id"].to_list() == [["GR86-004-021"], ["GR86-009-21"]]
    assert per_car["lap_time_s"].to_list() == [[100.0, 101.0, 99.0], [100.0, 98.0, 103.0]]
    lap2 = table.filter(pl.col("lap") == 2).sort("position")
    assert lap2["car_number"].to_list() == ["21", "021"]  # 21 crossed first (98 s lap)
    assert lap2["gap_ahead_s"].to_list() == [None, 2.5]


def test_timing_cars_without_a_logger_are_cars_of_their_own() -> None:
    """Two timing cars without ``vehicle_id``: each has its own 20 laps, stints, tire
    ages and pace, and null telemetry features; the logged car keeps its telemetry."""
    table = timing_cars.feature_rows()
    assert table.select(pl.struct(KEY_COLUMNS).is_unique().all()).item()
    for number, (in_lap, _) in timing_cars.PITS.items():
        car = table.filter(pl.col("car_number") == number).sort("lap")
        laps = range(1, timing_cars.N_LAPS + 1)
        assert car["lap"].to_list() == list(laps)
        assert car["lap_time_s"].to_list() == timing_cars.lap_times(number)
        assert car["stint"].to_list() == [1 if lap <= in_lap else 2 for lap in laps]
        assert car["in_pit"].sum() == 1 and car["out_lap"].arg_true().to_list() == [in_lap]
        changed = number == "021"  # 64 s in the lane; 3#2's 36 s is a drive-through
        assert car["tire_age_laps"].to_list() == [
            lap - in_lap - 1 if changed and lap > in_lap else lap - 1 for lap in laps]
        green = [t for t, g in zip(car["lap_time_s"], car["green_lap"], strict=True) if g]
        assert car["best_green_s"].drop_nulls()[-1] == min(green)
        assert car["vehicle_id"].null_count() == car.height
        assert (car["n_samples"] == 0).all()
        assert car.select(TELEMETRY_FEATURES[1:]).null_count().row(0) == (car.height,) * (
            len(TELEMETRY_FEATURES) - 1)
    logged = table.filter(pl.col("car_number") == "7")
    assert logged["vehicle_id"].unique().to_list() == ["GR86-001-7"]
    assert (logged["n_samples"] == timing_cars.SAMPLES_PER_LAP).all()
    assert logged["stint"].unique().to_list() == [1]


def test_a_tie_at_the_line_goes_by_car_number() -> None:
    # Same lap ends; by number "10" < "9" as text, though 9's logger id sorts first.
    table = _build(_car("GR86-001-9", [100.0, 100.0]),
                   _car("GR86-002-10", [100.0, 100.0]),
                   [{**r, "vehicle_id": None} for r in _car("x-8", [100.0, 100.0])])
    lap2 = table.filter(pl.col("lap") == 2).sort("position")
    assert lap2["car_number"].to_list() == ["10", "8", "9"]
    assert lap2["gap_ahead_s"].to_list() == [None, 0.0, 0.0]


def test_a_lap_without_a_car_number_is_left_out() -> None:
    # A race read from lap files alone: a logged car without a number is no known car.
    nameless = [{**r, "car_number": None} for r in _car("GR86-005-0", [100.0, 101.0])]
    table = _build(_car("GR86-001-1", [100.0, 100.0], offset=0.5), nameless)
    assert table["car_number"].to_list() == ["1", "1"]
    assert table["position"].to_list() == [1, 1]


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


def _samples(n: int, step_s: float = 1.0, **channels: list[float | None]) -> pl.DataFrame:
    """``n`` samples of one car's lap 1, ``step_s`` apart; channels not given are null."""
    return pl.DataFrame({
        "race_id": [RACE] * n, "vehicle_id": ["GR86-001-1"] * n,
        "time": [START + dt.timedelta(seconds=step_s * i) for i in range(n)], "lap": [1] * n,
        **channels,
    }).with_columns(pl.lit(None).alias(c) for c in TELEMETRY.names()
                    if c not in ("race_id", "vehicle_id", "time", "lap", *channels)) \
        .select(TELEMETRY.names()).cast(dict(TELEMETRY))


def test_telemetry_aggregates_of_a_known_lap() -> None:
    n = 5
    samples = _samples(
        n, speed_kph=[36.0, 72.0, 36.0, 72.0, 108.0], rpm=[6000.0] * n,
        aps=[100.0, 100.0, 50.0, 0.0, 100.0], pbrake_f=[0.0, 10.0, 10.0, 0.0, 0.0],
        accy_g=[0.0, 1.0, 1.0, 0.2, 0.0])
    row = _build(_car("GR86-001-1", [100.0, 100.0]), telemetry=samples).row(0, named=True)
    assert row["n_samples"] == n
    assert row["throttle_source"] == "aps"
    assert row["full_throttle_frac"] == pytest.approx(3 / 5)
    assert row["mean_throttle_pct"] == pytest.approx(70.0)
    assert row["max_speed_kph"] == 108.0
    assert row["min_corner_speed_kph"] == 36.0  # the samples at 1 g
    assert row["mean_apex_speed_kph"] == 36.0   # one local minimum under lateral g
    # Brake power bar*m/s per sample: 0, 200, 100, 0, 0; trapezoid over 1 s steps.
    assert row["brake_energy_bar_m"] == pytest.approx(100 + 150 + 50 + 0)
    # 100 revs per second over 4 s, in thousands; throttle 1, 1, 0.5, 0, 1, trapezoid.
    assert row["engine_krev"] == pytest.approx(0.4)
    assert row["throttle_s"] == pytest.approx(1.0 + 0.75 + 0.25 + 0.5)
    lap2 = _build(_car("GR86-001-1", [100.0, 100.0]), telemetry=samples).row(1, named=True)
    assert lap2["n_samples"] == 0 and lap2["mean_rpm"] is None
    assert lap2["throttle_source"] is None


def test_the_throttle_is_the_blade_where_the_lap_has_no_pedal() -> None:
    throttle = [100.0, 100.0, 50.0, 0.0, 100.0]
    blade = _samples(5, rpm=[6000.0] * 5, ath=throttle)
    pedal = _samples(5, rpm=[6000.0] * 5, aps=throttle)
    both = _samples(5, rpm=[6000.0] * 5, aps=throttle, ath=[t / 2 for t in throttle])
    rows = {name: _build(_car("GR86-001-1", [100.0]), telemetry=frame).row(0, named=True)
            for name, frame in (("blade", blade), ("pedal", pedal), ("both", both))}
    assert rows["blade"]["throttle_source"] == "ath"
    assert rows["pedal"]["throttle_source"] == rows["both"]["throttle_source"] == "aps"
    for name in ("full_throttle_frac", "mean_throttle_pct", "throttle_s"):
        assert rows["blade"][name] == rows["pedal"][name] == rows["both"][name]


def test_a_lap_without_any_throttle_has_no_throttle_features() -> None:
    row = _build(_car("GR86-001-1", [100.0]), telemetry=_samples(
        4, rpm=[6000.0] * 4, speed_kph=[100.0] * 4)).row(0, named=True)
    assert row["throttle_source"] is None
    assert row["mean_throttle_pct"] is None and row["full_throttle_frac"] is None
    assert row["throttle_s"] is None  # never zero throttle from a missing channel
    assert row["mean_rpm"] == 6000.0 and row["engine_krev"] == pytest.approx(0.3)


def test_slow_channels_are_interpolated_between_their_readings() -> None:
    """At 20 Hz speed and rpm come on one sample in four, on different samples; the
    integrals match those of the same lap with every channel on every sample."""
    n, step = 81, 0.05
    t = [step * i for i in range(n)]
    speed = [100.0 + 20.0 * ti for ti in t]
    full = _samples(n, step, speed_kph=speed, rpm=[6000.0] * n, aps=[80.0] * n,
                    pbrake_f=[30.0] * n)
    sparse = full.with_columns(
        pl.when(pl.int_range(pl.len()) % 4 == 1).then(pl.col("speed_kph")),
        pl.when(pl.int_range(pl.len()) % 4 == 0).then(pl.col("rpm")))
    rows = [_build(_car("GR86-001-1", [100.0]), telemetry=f).row(0, named=True)
            for f in (full, sparse)]
    # 4 s at 100 rev/s and 80 %: 400 revs, 3.2 s of full-throttle equivalent.
    for row in rows:
        assert row["engine_krev"] == pytest.approx(0.4)
        assert row["throttle_s"] == pytest.approx(3.2)
    # 30 bar x 100..180 km/h over 4 s. Sparse: the first sample takes the first reading
    # (+1 km/h for 0.05 s), the last three hold the last one (-1, -2, -3 km/h).
    assert rows[0]["brake_energy_bar_m"] == pytest.approx(30 * 140 / 3.6 * 4)
    edges_kph_s = 0.5 * 1 * 0.05 - (0.5 * (0 + 1) + 0.5 * (1 + 2) + 0.5 * (2 + 3)) * 0.05
    assert rows[1]["brake_energy_bar_m"] == pytest.approx(
        rows[0]["brake_energy_bar_m"] + 30 * edges_kph_s / 3.6)
    assert rows[1]["mean_rpm"] == 6000.0 and rows[1]["max_speed_kph"] == speed[77]


def test_a_gap_longer_than_the_hold_is_a_dropout_not_a_value() -> None:
    n = 10
    rpm: list[float | None] = [6000.0] * 3 + [None] * 6 + [6000.0]  # 3 s without rpm
    row = _build(_car("GR86-001-1", [100.0]), telemetry=_samples(
        n, 0.5, rpm=rpm, aps=[100.0] * n)).row(0, named=True)
    # Readings at 0.0, 0.5, 1.0 and 4.5 s: only 0.0..1.0 s is bridged, not the dropout;
    # the throttle, read throughout, counts its whole 4.5 s.
    assert row["engine_krev"] == pytest.approx(100 * 1.0 / 1000)
    assert row["throttle_s"] == pytest.approx(4.5)


def test_simulated_table_matches_the_catalogue(sim_lake: Lake) -> None:
    table = feature_table(sim_lake)
    check_features(table)
    assert table.schema == FEATURE_SCHEMA
    assert table.height == sim_lake.laps.height
    assert table.select(KEY_COLUMNS).is_duplicated().sum() == 0
    assert catalogue_frame()["name"].to_list() == [c.name for c in CATALOGUE]
    assert all(c.description for c in CATALOGUE)
    with pytest.raises(SchemaError):
        check_features(table.drop("lap_time_s"))
    with pytest.raises(SchemaError, match="mean_rpm"):
        check_features(table.with_columns(pl.col("mean_rpm").cast(pl.Float32)))
