"""The live builder emits, lap by lap, exactly the rows of the batch table."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from polars.testing import assert_frame_equal

from cognirace.domain.formats import FLAG_CAUTION, FLAG_FINISH, FLAG_GREEN
from cognirace.errors import DataError
from cognirace.features import (
    KEY_COLUMNS,
    TELEMETRY_FEATURES,
    LiveFeatureBuilder,
    build_lap_features,
    feature_table,
)
from cognirace.features.telemetry import aggregate_telemetry
from cognirace.lake import Lake, open_lake
from cognirace.lake import schema as lake_schema

# Events at one instant: weather first, then samples, then lap completions.
WEATHER, SAMPLE, LAP = 0, 1, 2


def _events(laps: pl.DataFrame, telemetry: pl.DataFrame, weather: pl.DataFrame
            ) -> list[tuple[Any, int, str, dict[str, Any]]]:
    """Every row of one race as a stream event, in the order it would happen: lap
    completions at one instant in car-number order, as the batch table breaks ties."""
    events: list[tuple[Any, int, str, dict[str, Any]]] = []
    for row in weather.iter_rows(named=True):
        events.append((row["time"], WEATHER, "", row))
    for row in telemetry.iter_rows(named=True):
        events.append((row["time"], SAMPLE, row["vehicle_id"], row))
    for row in laps.iter_rows(named=True):
        events.append((row["lap_end"], LAP, row["car_number"], row))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    return events


def feed(builder: LiveFeatureBuilder, laps: pl.DataFrame, telemetry: pl.DataFrame,
         weather: pl.DataFrame) -> pl.DataFrame:
    """Stream one race's rows through a live builder, in the order they would happen.
    Returns the builder's rows, in the batch table's order."""
    rows = []
    for _, kind, _, row in _events(laps, telemetry, weather):
        if kind == WEATHER:
            builder.add_weather(row)
        elif kind == SAMPLE:
            builder.add_sample(row)
        else:
            emitted = builder.complete_lap(row)
            assert emitted.height == 1
            rows.append(emitted)
    return pl.concat(rows).sort(*KEY_COLUMNS)


def replay(lake: Lake, race_id: str, laps: pl.DataFrame | None = None
           ) -> tuple[LiveFeatureBuilder, pl.DataFrame]:
    """Stream one race of the lake through a live builder; ``laps`` replaces the race's
    lap rows. Returns the builder and its rows, in the batch table's order."""
    race = lake.races.filter(pl.col("race_id") == race_id).row(0, named=True)
    builder = LiveFeatureBuilder(race_id, race["track"], race["session"])
    own = pl.col("race_id") == race_id
    laps = lake.laps.filter(own) if laps is None else laps
    return builder, feed(builder, laps, lake.telemetry(race_id), lake.weather.filter(own))


def test_live_rows_equal_batch_rows(sim_lake: Lake) -> None:
    race_id = sim_lake.race_ids[0]
    batch = feature_table(sim_lake)
    builder, live = replay(sim_lake, race_id)
    assert batch.height == sim_lake.laps.height
    assert (batch["n_samples"] > 0).sum() > 0.9 * batch.height  # telemetry is compared too
    assert batch["in_pit"].sum() >= 2 and (batch["flag"] == FLAG_CAUTION).any()
    stops = batch.filter(pl.col("in_pit"))["tire_change"]
    assert stops.any() and not stops.all(), "the race needs a drive-through and a tire change"
    assert builder.n_late_samples == 0 and builder.n_late_laps == 0
    assert batch["air_temp_c"].n_unique() > 1, "the weather changes during the race"
    assert batch.filter(pl.col("position") == 1)["car_number"].n_unique() > 1
    assert_frame_equal(live, batch, check_exact=True)


REAL_RACES = {"barber-R1": False, "cota-R1": False, "indianapolis-R1": True,
              "sonoma-R2": True, "vir-R2": True}
"""Real races replayed, and whether they are slow (2 to 4 s each; every real race passes,
these cover the cases): Barber R1 has the real telemetry head, cautions and cars without
logger; COTA R1 the most stops and two cars crossing the line together; Indianapolis R1
cars 021 and 21 and the most cars without logger; Sonoma R2 no weather; VIR R2 a tie."""


@pytest.mark.parametrize("race_id", [
    pytest.param(race_id, marks=[pytest.mark.slow] if slow else [])
    for race_id, slow in REAL_RACES.items()])
def test_live_rows_equal_batch_rows_in_real_races(real_lake_dir: Path, race_id: str) -> None:
    lake = open_lake(real_lake_dir)
    batch = feature_table(lake, [race_id])
    builder, live = replay(lake, race_id)
    assert live.height == batch.height > 300
    assert builder.n_late_samples == 0 and builder.n_late_laps == 0
    assert_frame_equal(live, batch, check_exact=True)


def test_cars_without_logger_data_stay_apart_live_and_in_batch(sim_lake: Lake) -> None:
    """The two cars that stop lose their ``vehicle_id`` (no logged car matched to them);
    their samples still stream in. Each keeps its own laps, stints and tire ages, every
    timing and field value is that of the fully logged race, only the telemetry features
    are null (never attached through another car), and live rows equal batch rows."""
    race_id = sim_lake.race_ids[0]
    full = feature_table(sim_lake)
    pitted = full.filter(pl.col("in_pit"))["car_number"].unique().sort().to_list()
    assert len(pitted) == 2, "the drive-through and the tire change come from two cars"
    unlogged = pl.col("car_number").is_in(pitted)
    assert (full.filter(unlogged)["n_samples"] > 0).all()  # their samples are in the stream
    laps = sim_lake.laps.filter(pl.col("race_id") == race_id).with_columns(
        pl.when(~unlogged).then(pl.col("vehicle_id")).alias("vehicle_id"))
    batch = build_lap_features(laps.lazy(), sim_lake.races.lazy(), sim_lake.weather.lazy(),
                               aggregate_telemetry(sim_lake.scan_telemetry())).collect()
    builder, live = replay(sim_lake, race_id, laps)
    assert_frame_equal(live, batch, check_exact=True)
    assert builder.n_late_samples == 0
    expected = full.with_columns(
        *(pl.when(~unlogged).then(pl.col(c)).alias(c)
          for c in ("vehicle_id", *TELEMETRY_FEATURES[1:])),
        pl.when(unlogged).then(0).otherwise(pl.col("n_samples")).cast(pl.Int32)
        .alias("n_samples"))
    assert_frame_equal(batch, expected, check_exact=True)
    stints = batch.filter(unlogged).group_by("car_number").agg(pl.col("stint").max())
    assert stints.sort("car_number")["stint"].to_list() == [2, 2]


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
        key=lambda row: (row["lap_end"], row["car_number"]))
    builder = LiveFeatureBuilder("indianapolis-R1", "indianapolis", "R1")
    live = pl.concat([builder.complete_lap(row) for row in laps]).sort(*KEY_COLUMNS)
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


def test_a_lap_needs_its_timing_car() -> None:
    builder = LiveFeatureBuilder("indianapolis-R1", "indianapolis", "R1")
    with pytest.raises(DataError, match="car_number") as caught:
        builder.complete_lap({**_lap("GR86-009-21", "21", 1, 100.0), "car_number": None})
    assert "no feature row" in str(caught.value)
    row = builder.complete_lap({**_lap("GR86-009-21", "21", 1, 100.0), "vehicle_id": None})
    assert row["car_number"].to_list() == ["21"] and row["n_samples"].to_list() == [0]


def _feed_frames(builder: LiveFeatureBuilder, lake: Lake, race_id: str, vehicle: str,
                 lap: int) -> dict[str, Any]:
    """Stream one logger's laps up to ``lap + 1`` as frames (so ``lap`` is summarised
    ahead) and complete ``lap``; returns the completion's lake row."""
    samples = lake.telemetry(race_id).filter(
        (pl.col("vehicle_id") == vehicle) & (pl.col("lap") <= lap + 1)).sort("time")
    for start in range(0, samples.height, 40):
        builder.add_samples(samples.slice(start, 40))
    crossing = lake.laps.filter((pl.col("race_id") == race_id)
                                & (pl.col("vehicle_id") == vehicle)
                                & (pl.col("lap") == lap)).row(0, named=True)
    builder.complete_lap(crossing)
    return crossing


def test_a_lap_summarised_ahead_gives_also_of_its_samples(sim_lake: Lake) -> None:
    """``also`` runs on the side thread apart from the summary, and gives what it gives
    on the lap's samples made at the crossing."""
    from concurrent.futures import ThreadPoolExecutor

    race_id = sim_lake.race_ids[0]
    vehicle = sim_lake.telemetry(race_id)["vehicle_id"][0]
    race = sim_lake.races.filter(pl.col("race_id") == race_id).row(0, named=True)
    with ThreadPoolExecutor(2) as side:
        ahead = LiveFeatureBuilder(race_id, race["track"], race["session"], side=side,
                                   also=lambda frame: (frame.height, frame["time"].max(),
                                                       threading.current_thread().name))
        _feed_frames(ahead, sim_lake, race_id, vehicle, 2)
        samples = ahead.completed_samples(vehicle, 2)
        assert samples is not None and samples.height > 0
        height, last, thread = ahead.completed_also(vehicle, 2)
        assert (height, last) == (samples.height, samples["time"].max())
        assert thread != threading.main_thread().name  # made ahead, on the side
        assert ahead.completed_also(vehicle, 1) is None  # not the last completed lap


def test_a_failing_also_raises_where_it_is_read(sim_lake: Lake) -> None:
    """An ``also`` that fails on the side thread fails again, with its own error, where
    its answer is read: the crossing's row is made all the same."""
    from concurrent.futures import ThreadPoolExecutor

    def broken(frame: pl.DataFrame) -> None:
        raise DataError("no style", value=frame.height)

    race_id = sim_lake.race_ids[0]
    vehicle = sim_lake.telemetry(race_id)["vehicle_id"][0]
    race = sim_lake.races.filter(pl.col("race_id") == race_id).row(0, named=True)
    with ThreadPoolExecutor(2) as side:
        ahead = LiveFeatureBuilder(race_id, race["track"], race["session"], side=side,
                                   also=broken)
        _feed_frames(ahead, sim_lake, race_id, vehicle, 2)
        assert ahead.completed_samples(vehicle, 2) is not None
        with pytest.raises(DataError, match="no style"):
            ahead.completed_also(vehicle, 2)
