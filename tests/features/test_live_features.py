"""The live builder emits, lap by lap, exactly the rows of the batch table."""

from __future__ import annotations

import datetime as dt
from typing import Any

import hypothesis.strategies as st
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from polars.testing import assert_frame_equal

from cognirace.domain.formats import FLAG_CAUTION, FLAG_FINISH, FLAG_GREEN
from cognirace.errors import DataError
from cognirace.features import LiveFeatureBuilder, build_lap_features, feature_table
from cognirace.features.telemetry import aggregate_telemetry
from cognirace.lake import Lake
from cognirace.lake import schema as lake_schema

# Events at one instant: weather first, then samples, then lap completions.
WEATHER, SAMPLE, LAP = 0, 1, 2


def _events(lake: Lake, race_id: str) -> list[tuple[Any, int, str, dict[str, Any]]]:
    """Every row of the race as a stream event, in the order it would happen."""
    events: list[tuple[Any, int, str, dict[str, Any]]] = []
    for row in lake.weather.filter(pl.col("race_id") == race_id).iter_rows(named=True):
        events.append((row["time"], WEATHER, "", row))
    for row in lake.telemetry(race_id).iter_rows(named=True):
        events.append((row["time"], SAMPLE, row["vehicle_id"], row))
    for row in lake.laps.filter(pl.col("race_id") == race_id).iter_rows(named=True):
        events.append((row["lap_end"], LAP, row["vehicle_id"], row))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    return events


def _replay(lake: Lake, race_id: str) -> tuple[LiveFeatureBuilder, pl.DataFrame]:
    race = lake.races.filter(pl.col("race_id") == race_id).row(0, named=True)
    builder = LiveFeatureBuilder(race_id, race["track"], race["session"])
    rows = []
    for _, kind, _, row in _events(lake, race_id):
        if kind == WEATHER:
            builder.add_weather(row)
        elif kind == SAMPLE:
            builder.add_sample(row)
        else:
            emitted = builder.complete_lap(row)
            assert emitted.height == 1
            rows.append(emitted)
    return builder, pl.concat(rows).sort("race_id", "vehicle_id", "lap")


def test_live_rows_equal_batch_rows(sim_lake: Lake) -> None:
    race_id = sim_lake.race_ids[0]
    batch = feature_table(sim_lake)
    builder, live = _replay(sim_lake, race_id)
    assert batch.height == sim_lake.laps.height
    assert (batch["n_samples"] > 0).mean() > 0.9  # the comparison covers telemetry too
    assert batch["in_pit"].sum() >= 2 and (batch["flag"] == FLAG_CAUTION).any()
    stops = batch.filter(pl.col("in_pit"))["tire_change"]
    assert stops.any() and not stops.all(), "the race needs a drive-through and a tire change"
    assert builder.n_late_samples == 0
    assert_frame_equal(live, batch, check_exact=True)


def test_a_row_depends_only_on_laps_ended_by_then(sim_lake: Lake) -> None:
    laps, races, weather = sim_lake.laps, sim_lake.races, sim_lake.weather
    telemetry = aggregate_telemetry(sim_lake.scan_telemetry()).collect()
    full = feature_table(sim_lake)
    ends = laps["lap_end"].sort()

    @settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.integers(min_value=0, max_value=ends.len() - 1))
    def check(cut: int) -> None:
        known = laps.filter(pl.col("lap_end") <= ends[cut])
        part = build_lap_features(known.lazy(), races.lazy(), weather.lazy(),
                                  telemetry.lazy()).collect()
        expected = full.filter(pl.col("lap_end") <= ends[cut])
        assert_frame_equal(part, expected, check_exact=True)

    check()


def test_late_samples_are_counted_and_ignored(sim_lake: Lake) -> None:
    race_id = sim_lake.race_ids[0]
    lap = sim_lake.laps.filter(pl.col("race_id") == race_id).sort("lap_end").row(0, named=True)
    sample = sim_lake.telemetry(race_id, lap["vehicle_id"]).filter(
        pl.col("lap") == lap["lap"]).row(0, named=True)
    builder = LiveFeatureBuilder(race_id, "barber", "R1")
    row = builder.complete_lap(lap)
    assert row["n_samples"].to_list() == [0]
    builder.add_sample(sample)
    assert builder.n_late_samples == 1


def test_builder_refuses_bad_input(sim_lake: Lake) -> None:
    race_id = sim_lake.race_ids[0]
    lap = sim_lake.laps.filter(pl.col("race_id") == race_id).row(0, named=True)
    builder = LiveFeatureBuilder(race_id, "barber", "R1")
    with pytest.raises(DataError, match="another race"):
        builder.complete_lap({**lap, "race_id": "cota-R1"})
    with pytest.raises(DataError, match="lap_end"):
        builder.complete_lap({**lap, "lap_end": None})
    builder.complete_lap(lap)
    with pytest.raises(DataError, match="twice"):
        builder.complete_lap(lap)


START = dt.datetime(2025, 7, 20, 18, 0, tzinfo=dt.UTC)


def _lap(vehicle: str, number: str, lap: int, end_s: float, flag: str = FLAG_GREEN
         ) -> dict[str, Any]:
    """A 100 s lap of one car ending ``end_s`` after the start, as the lake holds it."""
    return {"race_id": "indianapolis-R1", "vehicle_id": vehicle, "car_number": number,
            "lap": lap, "lap_start": START + dt.timedelta(seconds=end_s - 100.0),
            "lap_end": START + dt.timedelta(seconds=end_s), "lap_time_s": 100.0,
            "flag": flag, "in_pit": False}


def test_live_rows_keep_021_and_21_apart_and_equal_batch() -> None:
    laps = sorted(
        [_lap("GR86-004-021", "021", n, 100.0 * n) for n in (1, 2, 3)]
        + [_lap("GR86-009-21", "21", n, 100.0 * n + 0.5,
                FLAG_FINISH if n == 3 else FLAG_GREEN) for n in (1, 2, 3)],
        key=lambda row: (row["lap_end"], row["vehicle_id"]))
    builder = LiveFeatureBuilder("indianapolis-R1", "indianapolis", "R1")
    live = pl.concat([builder.complete_lap(row) for row in laps]).sort(
        "race_id", "vehicle_id", "lap")
    batch = build_lap_features(
        pl.DataFrame(laps, schema=lake_schema.LAPS).lazy(),
        pl.LazyFrame({"race_id": ["indianapolis-R1"], "track": ["indianapolis"],
                      "session": ["R1"]}),
        pl.LazyFrame(schema=lake_schema.WEATHER),
        aggregate_telemetry(pl.LazyFrame(schema=lake_schema.TELEMETRY))).collect()
    assert_frame_equal(live, batch, check_exact=True)
    assert live["car_number"].to_list() == ["021"] * 3 + ["21"] * 3
    assert live.filter(pl.col("car_number") == "21")["green_lap"].to_list() == [
        False, True, True]  # lap 3 is the chequered lap, still a racing lap


def test_live_builder_refuses_a_car_number_that_is_not_text() -> None:
    builder = LiveFeatureBuilder("indianapolis-R1", "indianapolis", "R1")
    with pytest.raises(DataError, match="car numbers are text"):
        builder.complete_lap({**_lap("GR86-009-21", "21", 1, 100.0), "car_number": 21})
    assert builder.complete_lap(_lap("GR86-009-21", "21", 1, 100.0))["car_number"].to_list() \
        == ["21"]
