"""The live builder reads a bounded part of the race, and still emits the batch rows.

Races are drawn in code to reach what a lake race may not: ties at the line, laps
missing from the timing, unknown flags, lap and pit times, stops of both kinds, long
stops that lap a car, a weather row before the first lap or between two.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
import polars as pl
import pytest
from hypothesis import HealthCheck, assume, given, settings
from polars.testing import assert_frame_equal

from cognirace.domain.formats import FLAG_CAUTION, FLAG_FINISH, FLAG_GREEN
from cognirace.errors import DataError
from cognirace.features import (
    KEY_COLUMNS,
    PACE_WINDOW_LAPS,
    PIT_TRANSIT_S,
    TIRE_CHANGE_MIN_STATIONARY_S,
    LiveFeatureBuilder,
    add_car_history,
    add_field_context,
    aggregate_telemetry,
    build_lap_features,
    live_context,
)
from cognirace.features.car_history import add_pace
from cognirace.lake.schema import LAPS, TELEMETRY, WEATHER
from features.test_live_features import feed

RACE, TRACK = "barber-R1", "barber"
START = dt.datetime(2025, 7, 20, 18, 0, tzinfo=dt.UTC)
TRANSIT_S = PIT_TRANSIT_S[TRACK]
NUMBERS = ("7", "07", "21", "021", "3", "3#2")
RACES = pl.LazyFrame({"race_id": [RACE], "track": [TRACK], "session": ["R1"]})
NO_TELEMETRY = pl.DataFrame(schema=TELEMETRY)


def _at(seconds: float) -> dt.datetime:
    return START + dt.timedelta(seconds=seconds)


@st.composite
def car_laps(draw: st.DrawFn, number: str) -> list[dict[str, Any]]:
    """One car's laps: whole seconds, so cars tie at the line now and then."""
    t = float(draw(st.integers(0, 3)))
    vehicle = draw(st.sampled_from([None, f"GR86-001-{number}"]))
    rows, lap = [], 0
    for _ in range(draw(st.integers(1, 9))):
        lap += draw(st.sampled_from([1, 1, 1, 1, 2]))  # now and then a lap the timing lost
        lap_s = float(draw(st.sampled_from([95, 96, 97, 100, 130, 400])))
        in_pit = draw(st.sampled_from([False] * 5 + [True, None]))
        pit_s = draw(st.sampled_from(
            [None, TRANSIT_S, TRANSIT_S + TIRE_CHANGE_MIN_STATIONARY_S + 10.0])) \
            if in_pit else None
        rows.append({
            "race_id": RACE, "vehicle_id": vehicle, "car_number": number, "lap": lap,
            "lap_start": draw(st.sampled_from([_at(t)] * 9 + [None])),
            "lap_end": _at(t + lap_s),
            "lap_time_s": draw(st.sampled_from([lap_s] * 5 + [lap_s + 0.25, None])),
            "flag": draw(st.sampled_from([FLAG_GREEN] * 4 + [FLAG_CAUTION, FLAG_FINISH, None])),
            "in_pit": in_pit, "pit_time_s": pit_s, "repaired": False,
        })
        t += lap_s
    return rows


@st.composite
def races(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A race's laps and weather rows (track temperature 0: not measured)."""
    numbers = draw(st.lists(st.sampled_from(NUMBERS), min_size=1, max_size=5, unique=True))
    laps = [row for number in numbers for row in draw(car_laps(number))]
    times = draw(st.lists(st.integers(-60, 1500), max_size=4, unique=True))
    weather = [{"race_id": RACE, "time": _at(s), "air_temp_c": 20.0 + i,
                "track_temp_c": draw(st.sampled_from([0.0, 31.5]))}
               for i, s in enumerate(times)]
    return pl.DataFrame(laps, schema=LAPS), pl.DataFrame(weather, schema=WEATHER)


def _tie_behind(laps: pl.DataFrame) -> bool:
    """A lap ends at the instant another car crosses the line of the car's lap before,
    the other car's number sorting after (see ``test_a_tie_with_the_car_behind...``)."""
    before = laps.sort("car_number", "lap").with_columns(
        lap_before=pl.col("lap").shift(1).over("car_number"))
    ties = before.join(laps, left_on=["lap_before", "lap_end"], right_on=["lap", "lap_end"],
                       suffix="_other")
    return ties.filter(pl.col("car_number_other") > pl.col("car_number")).height > 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(races())
def test_live_rows_equal_batch_rows_in_drawn_races(race: tuple[pl.DataFrame, pl.DataFrame]
                                                   ) -> None:
    laps, weather = race
    assume(not _tie_behind(laps))
    batch = build_lap_features(laps.lazy(), RACES, weather.lazy(),
                               aggregate_telemetry(NO_TELEMETRY.lazy())).collect()
    live = feed(LiveFeatureBuilder(RACE, TRACK, "R1"), laps, NO_TELEMETRY, weather)
    assert_frame_equal(live, batch, check_exact=True)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(races(), st.data())
def test_after_a_late_lap_the_rows_are_the_batch_rows_again(
        race: tuple[pl.DataFrame, pl.DataFrame], data: st.DataObject) -> None:
    """Two crossings of two cars arrive swapped: those two rows may differ from the
    batch rows, every later one is the batch row again."""
    laps, weather = race
    laps = laps.sort("lap_end", "car_number")
    assume(laps.height >= 2 and not _tie_behind(laps))
    i = data.draw(st.integers(0, laps.height - 2))
    first, second = laps.row(i, named=True), laps.row(i + 1, named=True)
    assume(first["car_number"] != second["car_number"])
    builder = LiveFeatureBuilder(RACE, TRACK, "R1")
    for row in weather.iter_rows(named=True):
        builder.add_weather(row)
    rows = [builder.complete_lap(row) for row in laps.head(i).iter_rows(named=True)]
    builder.complete_lap(second)
    builder.complete_lap(first)
    rows += [builder.complete_lap(row) for row in laps.slice(i + 2).iter_rows(named=True)]
    assert builder.n_late_laps == 1
    batch = build_lap_features(laps.lazy(), RACES, weather.lazy(),
                               aggregate_telemetry(NO_TELEMETRY.lazy())).collect()
    swapped = pl.DataFrame([first, second], schema=LAPS).select(KEY_COLUMNS)
    expected = batch.join(swapped, on=KEY_COLUMNS, how="anti")
    assert_frame_equal(pl.concat([batch.clear(), *rows]).sort(*KEY_COLUMNS), expected,
                       check_exact=True)


def _long_race(n_laps: int) -> pl.DataFrame:
    """Three cars: one stops every tenth lap (a tire change), one is lapped, with two
    cautions of five laps."""
    rows = []
    for k, number in enumerate(("7", "21", "021")):
        t = float(k)
        for lap in range(1, n_laps + 1):
            lap_s = 100.0 + 3.0 * k * (k == 2) + 0.1 * (lap % 3)
            in_pit = number == "7" and lap % 10 == 0
            caution = lap % 50 in range(20, 25)
            rows.append({"race_id": RACE, "vehicle_id": None, "car_number": number,
                         "lap": lap, "lap_start": _at(t), "lap_end": _at(t + lap_s),
                         "lap_time_s": lap_s, "flag": FLAG_CAUTION if caution else FLAG_GREEN,
                         "in_pit": in_pit, "pit_time_s": 70.0 if in_pit else None,
                         "repaired": False})
            t += lap_s
    return pl.DataFrame(rows, schema=LAPS)


def _counting(function: Callable[..., pl.LazyFrame], heights: list[int]
              ) -> Callable[..., pl.LazyFrame]:
    def counted(frame: pl.LazyFrame, *args: Any) -> pl.LazyFrame:
        heights.append(frame.collect().height)
        return function(frame, *args)
    return counted


def test_a_completion_reads_a_bounded_part_of_the_race(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """The rows each step reads do not grow with the laps before: a few lap numbers'
    laps for the field, the car's in-laps and its lap before for its history, and
    ``PACE_WINDOW_LAPS`` green laps, the best one and the new lap for its pace."""
    history: list[int] = []
    pace: list[int] = []
    field: list[int] = []
    monkeypatch.setattr(live_context, "add_car_history", _counting(add_car_history, history))
    monkeypatch.setattr(live_context, "add_pace", _counting(add_pace, pace))
    monkeypatch.setattr(live_context, "add_field_context",
                        _counting(add_field_context, field))
    laps = _long_race(120)
    live = feed(LiveFeatureBuilder(RACE, TRACK, "R1"), laps, NO_TELEMETRY,
                pl.DataFrame(schema=WEATHER))
    batch = build_lap_features(laps.lazy(), RACES, pl.LazyFrame(schema=WEATHER),
                               aggregate_telemetry(NO_TELEMETRY.lazy())).collect()
    assert_frame_equal(live, batch, check_exact=True)
    assert live["stint"].max() == 12 and live["position"].n_unique() == 3
    assert max(field) <= 4 * 3 + 1
    assert max(pace) <= PACE_WINDOW_LAPS + 2
    assert max(history) == 11 + 2  # car 7's 11 in-laps before its last lap, its lap
    # before and the new lap: the stops count, not the laps


def _lap(number: str, lap: int, end_s: float) -> dict[str, Any]:
    return {"race_id": RACE, "vehicle_id": None, "car_number": number, "lap": lap,
            "lap_start": _at(end_s - 100.0), "lap_end": _at(end_s), "lap_time_s": 100.0,
            "flag": FLAG_GREEN, "in_pit": False}


def test_a_late_completion_is_counted_and_computed_one_of_its_own_car_refused() -> None:
    """A crossing that reaches the builder after a later one of another car (a feed
    that lags) still gets its row, from the laps received, and is kept for the laps
    after it; a car's lap after its next one cannot be placed and is refused."""
    builder = LiveFeatureBuilder(RACE, TRACK, "R1")
    builder.complete_lap(_lap("21", 1, 100.0))
    late = builder.complete_lap(_lap("7", 1, 99.0))
    assert late["position"].to_list() == [1] and late["gap_ahead_s"].to_list() == [None]
    builder.complete_lap(_lap("07", 1, 100.0))  # a tie goes by car number: "07" < "21"
    assert builder.n_late_laps == 2
    with pytest.raises(DataError, match="later lap of its car"):
        builder.complete_lap(_lap("21", 1, 101.0) | {"lap": 0})
    row = builder.complete_lap(_lap("21", 2, 200.0))
    assert row["position"].to_list() == [1] and row["gap_behind_prev_s"].to_list() == [None]
    assert builder.complete_lap(_lap("07", 2, 201.0))["position"].to_list() == [2]
    assert builder.n_late_laps == 2


def test_weather_rows_no_lap_can_see_are_dropped() -> None:
    builder = LiveFeatureBuilder(RACE, TRACK, "R1")
    for s, temp in ((-60.0, 20.0), (50.0, 21.0), (150.0, 22.0), (250.0, 23.0)):
        builder.add_weather({"time": _at(s), "air_temp_c": temp})
    assert builder.complete_lap(_lap("7", 1, 100.0))["air_temp_c"].to_list() == [21.0]
    assert builder.complete_lap(_lap("21", 1, 150.0))["air_temp_c"].to_list() == [22.0]
    assert [r["air_temp_c"] for r in builder._weather] == [22.0, 23.0]
    assert builder.complete_lap(_lap("7", 2, 200.0))["air_temp_c"].to_list() == [22.0]


@pytest.mark.xfail(strict=True, reason=(
    "the batch gap behind at the previous line counts a car that crosses it at the very "
    "instant this lap ends, though it comes later in crossing order (features.field."
    "add_line_order compares lap_end with <=): no live builder knows that crossing yet"))
def test_a_tie_with_the_car_behind_at_the_line_before() -> None:
    """Car 21 ends lap 2 at 200 s, when car 7 (sorting after it) ends lap 1, 100 s
    behind 21 at that line: the batch row of 21's lap 2 has a gap behind of 100 s."""
    laps = pl.DataFrame([_lap("21", 1, 100.0), _lap("7", 1, 200.0), _lap("21", 2, 200.0)],
                        schema=LAPS)
    assert _tie_behind(laps)
    batch = build_lap_features(laps.lazy(), RACES, pl.LazyFrame(schema=WEATHER),
                               aggregate_telemetry(NO_TELEMETRY.lazy())).collect()
    live = feed(LiveFeatureBuilder(RACE, TRACK, "R1"), laps, NO_TELEMETRY,
                pl.DataFrame(schema=WEATHER))
    assert_frame_equal(live, batch, check_exact=True)


def test_times_without_a_zone_are_utc_as_in_the_lake() -> None:
    builder = LiveFeatureBuilder(RACE, TRACK, "R1")
    builder.add_weather({"time": _at(50.0).replace(tzinfo=None), "air_temp_c": 21.0})
    builder.add_weather({"time": _at(150.0), "air_temp_c": 22.0})
    lap = _lap("7", 1, 100.0)
    row = builder.complete_lap(lap | {"lap_end": lap["lap_end"].replace(tzinfo=None)})
    assert row["lap_end"].to_list() == [lap["lap_end"]]
    assert row["air_temp_c"].to_list() == [21.0]
    builder.complete_lap(_lap("21", 1, 99.0) | {"lap_end": _at(99.0).replace(tzinfo=None)})
    assert builder.n_late_laps == 1
