"""``snapshot_from_engine``: the strategy's snapshot from a live engine, and that it
agrees with ``snapshot_at`` on the same race at the same moment.

A lake race is replayed through ``RaceEngine`` up to the leader's crossing of a lap
(the lake's laps, and samples, cut there), with the models a snapshot reads fitted on
the small season, and the two snapshots are compared field by field. Exactly equal:
the cars, their order, laps, race times, tire ages, stops, pit lane, running, the clock
and the caution state, and every model answer both paths read from the same rows
(lap-time quantiles, pass probabilities, pit losses, hazard), fuel left, and the fuel
burn of a green lap where the car's last lap was green: the engine holds only the last
lap's burn, so live it is None after a caution, pit or out-lap, where the lake path
takes the car's latest green lap. To a few ulps: the wear slope (asked for every car in
one call here, one car a call live). Not compared: ``caution_lap_s`` (the engine keeps no
lap history; None there) and the notes' wording.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from typing import Any

import polars as pl
import pytest

from cognirace.errors import DataError
from cognirace.lake import Lake
from cognirace.models.base import Model
from cognirace.realtime import RaceEngine, parse_frame, race_frames, race_info
from cognirace.realtime.lap_inputs import TIRE_HORIZON_LAPS, TIRE_MAX_SEEN_LAPS
from cognirace.realtime.strategy_inputs import snapshot_from_engine
from cognirace.strategy import snapshot_at as batch
from cognirace.strategy.snapshot import RaceSnapshot

RACE_S = 1800.0
GREEN_RACE = "barber-R2"
"""Telemetry at 2 Hz, a tire change at the end of car 118's lap 9, no caution."""
CAUTION_RACE = "sonoma-R1"
"""Cautions on the leader's laps 1-3 and 12-13, no telemetry."""
NAMES = ("laptime", "tire", "fuel", "pitloss", "fcy", "traffic")
FRAME_S = 30.0


@pytest.fixture(scope="module")
def models(lake: Lake) -> dict[str, Model]:
    from cognirace.training import all_tasks, task_examples

    tasks = [all_tasks()[name] for name in NAMES]
    examples = task_examples(lake, tasks)
    return {task.name: task.model().fit(examples[task.name]) for task in tasks}


def _until(lake: Lake, race: str, end: dt.datetime) -> Lake:
    """The lake as it stood at ``end`` for ``race``: its later laps and samples cut."""
    view = copy.copy(lake)
    view.__dict__["laps"] = lake.laps.filter((pl.col("race_id") != race)
                                             | (pl.col("lap_end") <= end))

    def scan(race_id: str | None = None, vehicle_id: str | None = None) -> pl.LazyFrame:
        return lake.scan_telemetry(race_id, vehicle_id).filter(pl.col("time") <= end)

    view.scan_telemetry = scan  # type: ignore[method-assign]
    return view


def _live(lake: Lake, race: str, lap: int, models: dict[str, Any], *,
          telemetry: bool) -> RaceEngine:
    end = lake.laps.filter((pl.col("race_id") == race) & (pl.col("lap") == lap))["lap_end"].min()
    assert isinstance(end, dt.datetime)
    view = _until(lake, race, end)
    engine = RaceEngine(race_info(view, race, duration_s=RACE_S), models.get)
    for body in race_frames(view, race, frame_s=FRAME_S, telemetry=telemetry):
        engine.apply(parse_frame(body))
    return engine


def _same(live: RaceSnapshot, lake_snap: RaceSnapshot, *, caution: bool = True) -> None:
    race = ("race_id", "track", "lap", "time_left_s", "caution_hazard",
            "pit_loss_green_s", "pit_loss_caution_s", *(("caution",) if caution else ()))
    assert {k: getattr(live, k) for k in race} == {k: getattr(lake_snap, k) for k in race}
    assert [c.car_number for c in live.cars] == [c.car_number for c in lake_snap.cars]
    for mine, want in zip(live.cars, lake_snap.cars, strict=True):
        if mine.fuel_burn_l_per_lap is None:  # its last lap was not green: see the top
            want = dataclasses.replace(want, fuel_burn_l_per_lap=None)
        # the tire model is asked for every car at once here, one car a call live: the
        # same rows, a few ulps apart at most
        if want.deg_s_per_lap is not None and mine.deg_s_per_lap is not None:
            assert mine.deg_s_per_lap == pytest.approx(want.deg_s_per_lap, rel=1e-12,
                                                       abs=1e-15)
            want = dataclasses.replace(want, deg_s_per_lap=mine.deg_s_per_lap)
        assert dataclasses.asdict(mine) == dataclasses.asdict(want), mine.car_number


def test_the_live_tire_question_is_the_batch_one() -> None:
    assert (batch.TIRE_HORIZON_LAPS, batch.TIRE_MAX_SEEN_LAPS) == \
        (TIRE_HORIZON_LAPS, TIRE_MAX_SEEN_LAPS)


@pytest.mark.parametrize("lap", [8, 11, 15])
def test_a_green_race_live_is_the_lake_snapshot(lake: Lake, models: dict[str, Model],
                                                lap: int) -> None:
    """Laps 8, 11 and 15: before, just after and well after car 118's tire change,
    telemetry streamed (so the fuel model answers)."""
    engine = _live(lake, GREEN_RACE, lap, models, telemetry=True)
    live = snapshot_from_engine(engine, fuel_start_l=50.0)
    want = batch.snapshot_at(lake, GREEN_RACE, lap, models.get, fuel_start_l=50.0,
                             race_duration_s=RACE_S)
    _same(live, want)
    assert sum(c.fuel_burn_l_per_lap is not None for c in live.cars) >= len(live.cars) // 2
    assert all(c.fuel_left_l is not None for c in live.cars)
    assert any(c.deg_s_per_lap is not None for c in live.cars) == (lap >= 8)


@pytest.mark.parametrize("lap", [9, 12, 13, 14])
def test_a_race_with_cautions_live_is_the_lake_snapshot(lake: Lake, models: dict[str, Model],
                                                        lap: int) -> None:
    """Laps 12 and 13 are under caution (the hazard is lap 11's on both paths), lap 14
    is the chequered one (the clock has run out: no caution can start). There the
    caution state differs: the lap's flag is the chequered one, while the flags feed
    sends no green after a caution that runs to the flag, so the tower still shows it."""
    engine = _live(lake, CAUTION_RACE, lap, models, telemetry=False)
    live = snapshot_from_engine(engine)
    want = batch.snapshot_at(lake, CAUTION_RACE, lap, models.get, race_duration_s=RACE_S)
    _same(live, want, caution=lap != 14)
    assert want.caution == (lap in (12, 13))
    assert live.caution_lap_s is None  # the engine keeps no history of caution laps
    if lap == 14:
        assert live.caution_hazard == (0.0,) and live.time_left_s == 0.0
    assert all(c.fuel_left_l is None and c.fuel_burn_l_per_lap is None for c in live.cars)


def test_a_required_model_missing_live_is_an_error_naming_it(
        lake: Lake, models: dict[str, Model]) -> None:
    for name in ("laptime", "pitloss", "fcy"):
        some = {k: m for k, m in models.items() if k != name}
        engine = _live(lake, CAUTION_RACE, 9, some, telemetry=False)
        with pytest.raises(DataError, match=f"'{name}'"):
            snapshot_from_engine(engine)


def test_an_optional_model_missing_live_is_none_and_noted(
        lake: Lake, models: dict[str, Model]) -> None:
    some = {k: m for k, m in models.items() if k not in ("tire", "traffic")}
    live = snapshot_from_engine(_live(lake, GREEN_RACE, 11, some, telemetry=False))
    assert all(c.deg_s_per_lap is None and c.p_passed is None for c in live.cars)
    assert {"tire: model not loaded; wear slope unknown",
            "traffic: model not loaded; pass probabilities unknown"} <= set(live.notes)
    assert any(n.startswith("fuel:") for n in live.notes)  # no telemetry streamed


def test_a_race_before_its_first_crossing_has_no_snapshot(lake: Lake) -> None:
    engine = RaceEngine(race_info(lake, GREEN_RACE, duration_s=RACE_S))
    with pytest.raises(DataError, match="no lap done"):
        snapshot_from_engine(engine)
