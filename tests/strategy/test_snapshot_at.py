"""``snapshot_at``: a lake race as it stood when the leader completed a lap.

On the small simulated season (``training.conftest.tiny_lake``, seed 5), with the six
models the snapshot reads fitted on it: the order and race times are the timing's, the
snapshot reads no lap that ended after the leader's crossing, and a model that is
missing or refuses leaves None and a note where the contract allows it, else a
``DataError`` that names the model.
"""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import polars as pl
import pytest

from cognirace.errors import DataError, SchemaError
from cognirace.lake import Lake
from cognirace.models.base import Model
from cognirace.strategy.answers import caution_hazard
from cognirace.strategy.snapshot import RaceSnapshot
from cognirace.strategy.snapshot_at import snapshot_at
from training.conftest import tiny_lake

RACE_S = 1800.0
"""The small season's races are timed at 30 minutes."""
GREEN_RACE = "barber-R2"
"""Telemetry at 2 Hz, stops on laps 3 and 9, no caution, 19 laps."""
CAUTION_RACE = "sonoma-R1"
"""No telemetry; cautions on the leader's laps 1-3 and 12-13, 14 laps."""
NAMES = ("laptime", "tire", "fuel", "pitloss", "fcy", "traffic")


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return tiny_lake(tmp_path_factory.mktemp("snapshot"), seed=5)


@pytest.fixture(scope="module")
def models(lake: Lake) -> dict[str, Model]:
    """The models a snapshot reads, fitted on the small season."""
    from cognirace.training import all_tasks, task_examples

    tasks = [all_tasks()[name] for name in NAMES]
    examples = task_examples(lake, tasks)
    return {task.name: task.model().fit(examples[task.name]) for task in tasks}


def _snap(lake: Lake, race: str, lap: int, models: dict[str, Any], **kwargs: Any
          ) -> RaceSnapshot:
    return snapshot_at(lake, race, lap, models.get, race_duration_s=RACE_S, **kwargs)


def _leader_end(lake: Lake, race: str, lap: int) -> Any:
    return lake.laps.filter((pl.col("race_id") == race) & (pl.col("lap") == lap))["lap_end"].min()


def _with_laps(lake: Lake, laps: pl.DataFrame) -> Lake:
    """The lake with its laps table replaced (the other tables as they are)."""
    view = copy.copy(lake)
    view.__dict__["laps"] = laps
    return view


# --- the race as the timing tells it ------------------------------------------------

@pytest.mark.parametrize(("race", "lap"), [(GREEN_RACE, 6), (GREEN_RACE, 12),
                                           (CAUTION_RACE, 8), (CAUTION_RACE, 13)])
def test_order_laps_and_race_times_are_the_timings(lake: Lake, models: dict[str, Model],
                                                   race: str, lap: int) -> None:
    snap = _snap(lake, race, lap, models)
    cars = snap.cars
    assert [c.position for c in cars] == list(range(1, len(cars) + 1))
    assert cars[0].laps == lap == snap.lap
    timed = lake.laps.filter((pl.col("race_id") == race) & (pl.col("lap") == 1))
    left_out = set(timed["car_number"]) - {c.car_number for c in cars}
    assert all(any(f"car(s) {n} out of the race" in note for note in snap.notes)
               for n in left_out)  # a car that stopped on lap 1, before any green lap
    for ahead, behind in itertools.pairwise(cars):
        assert ahead.laps >= behind.laps
        if ahead.laps == behind.laps:
            assert ahead.race_time_s < behind.race_time_s
    start = lake.laps.filter(pl.col("race_id") == race)["lap_start"].min()
    leader_s = (_leader_end(lake, race, lap) - start).total_seconds()
    assert cars[0].race_time_s == leader_s
    assert snap.time_left_s == max(0.0, RACE_S - leader_s)
    assert all(c.race_time_s <= leader_s for c in cars)
    for car in cars:  # its latest crossing, from the lake's laps
        mine = lake.laps.filter((pl.col("race_id") == race) & (pl.col("car_number") ==
                                                                car.car_number)
                                & (pl.col("lap") == car.laps))
        assert (mine["lap_end"][0] - start).total_seconds() == car.race_time_s


def test_stops_pit_lane_and_tire_age_follow_the_laps(lake: Lake,
                                                     models: dict[str, Model]) -> None:
    """Car 118 changes tires at the end of lap 9: in the pit lane when the snapshot is
    at its in-lap, one stop made, and one lap on the new set after its out-lap."""
    stop_lap = 9
    at_stop = _snap(lake, GREEN_RACE, stop_lap, models)
    after = _snap(lake, GREEN_RACE, stop_lap + 2, models)
    before = _snap(lake, GREEN_RACE, stop_lap - 2, models)
    car = before.car("118")
    assert (car.stops, car.in_pit) == (0, False)
    assert car.tire_age_laps == car.laps  # laps run on the first set
    inlap = at_stop.car("118")
    if inlap.laps == stop_lap:  # crossed its in-lap by the leader's crossing
        assert inlap.in_pit and inlap.stops == 1
    out = after.car("118")
    assert out.stops == 1 and not out.in_pit
    assert out.tire_age_laps == out.laps - stop_lap


def test_the_answers_are_in_range_and_caution_is_the_leaders_flag(
        lake: Lake, models: dict[str, Model]) -> None:
    green = _snap(lake, GREEN_RACE, 12, models)
    assert not green.caution and green.caution_lap_s is None
    assert len(green.caution_hazard) == 6
    # a handful of stops teach the tiny season's pit-loss model little: only its range
    assert 10.0 < green.pit_loss_green_s < 200.0 and 10.0 < green.pit_loss_caution_s < 200.0
    for car in green.cars:
        assert 60.0 < car.lap_time_p10_s <= car.lap_time_p50_s <= car.lap_time_p90_s < 200.0
    assert green.cars[0].p_pass_ahead is None  # nobody ahead
    assert all(c.p_pass_ahead is not None for c in green.cars[1:] if c.laps == 11)
    assert sum(c.deg_s_per_lap is not None for c in green.cars) >= len(green.cars) // 2
    caution = _snap(lake, CAUTION_RACE, 12, models)
    assert caution.caution
    assert caution.caution_lap_s is not None and caution.caution_lap_s > 100.0
    assert any("fcy: hazard of leader lap 11" in note for note in caution.notes)


def test_the_hazard_chains_back_into_the_models_answer() -> None:
    answer = {f"p_fcy_start_{k}": 1.0 - 0.9 ** k for k in range(1, 7)}
    hazards = caution_hazard(answer)
    assert hazards == pytest.approx((0.1,) * 6)
    survive = math.prod(1.0 - h for h in hazards)
    assert 1.0 - survive == pytest.approx(answer["p_fcy_start_6"])
    assert caution_hazard({"p_fcy_start_1": 0.2, "p_fcy_start_2": 0.2}) == \
        pytest.approx((0.2, 0.0))
    with pytest.raises(DataError, match="p_fcy_start_1"):
        caution_hazard({})


# --- no future leakage --------------------------------------------------------------

@pytest.mark.parametrize(("race", "lap"), [(GREEN_RACE, 10), (CAUTION_RACE, 9)])
def test_nothing_after_the_leaders_crossing_is_read(lake: Lake, models: dict[str, Model],
                                                     race: str, lap: int) -> None:
    """Truncating the race after the snapshot, or rewriting what came after it (a
    caution, slow laps, every car in the pits), leaves the snapshot as it is."""
    end = _leader_end(lake, race, lap)
    later = (pl.col("race_id") == race) & (pl.col("lap_end") > end)
    truncated = _with_laps(lake, lake.laps.filter(~later))
    changed = _with_laps(lake, lake.laps.with_columns(
        lap_time_s=pl.when(later).then(pl.col("lap_time_s") + 40.0)
        .otherwise(pl.col("lap_time_s")),
        flag=pl.when(later).then(pl.lit("FCY")).otherwise(pl.col("flag")),
        in_pit=pl.when(later).then(True).otherwise(pl.col("in_pit"))))
    whole = _snap(lake, race, lap, models, fuel_start_l=50.0)
    assert _snap(truncated, race, lap, models, fuel_start_l=50.0) == whole
    assert _snap(changed, race, lap, models, fuel_start_l=50.0) == whole
    assert _snap(changed, race, lap + 2, models) != _snap(lake, race, lap + 2, models)


# --- a missing or refusing model ----------------------------------------------------

class Refusing:
    """A model that refuses every row, as one does a required input it lacks."""

    def predict(self, rows: pl.DataFrame) -> pl.DataFrame:
        raise SchemaError("input column 'x' is required", column="x")


@pytest.mark.parametrize("name", ["tire", "traffic", "fuel"])
@pytest.mark.parametrize("how", ["missing", "refusing"])
def test_an_optional_answer_missing_is_none_and_noted(
        lake: Lake, models: dict[str, Model], name: str, how: str) -> None:
    field = {"tire": "deg_s_per_lap", "traffic": "p_passed", "fuel": "fuel_burn_l_per_lap"}
    some = {**models, name: Refusing()} if how == "refusing" else \
        {k: m for k, m in models.items() if k != name}
    snap = _snap(lake, GREEN_RACE, 12, some, fuel_start_l=50.0)
    assert all(getattr(c, field[name]) is None for c in snap.cars)
    word = "refused" if how == "refusing" else "model not loaded"
    assert any(note.startswith(f"{name}: {word}") for note in snap.notes), snap.notes
    if name == "fuel":
        assert all(c.fuel_left_l is None for c in snap.cars)
    full = _snap(lake, GREEN_RACE, 12, models)
    assert any(getattr(c, field[name]) is not None for c in full.cars)


class RefusingOneCar:
    """A model that refuses any frame holding one car's rows (a car without a logger)."""

    def __init__(self, model: Model, car: str) -> None:
        self.model, self.car = model, car

    def predict(self, rows: pl.DataFrame) -> pl.DataFrame:
        if self.car in rows["car_number"].to_list():
            raise SchemaError("input column 'engine_krev' is required", column="engine_krev")
        return self.model.predict(rows)


@pytest.mark.parametrize("name", ["tire", "fuel"])
def test_one_car_refused_leaves_the_others_answers(lake: Lake, models: dict[str, Model],
                                                   name: str) -> None:
    some = {**models, name: RefusingOneCar(models[name], "118")}
    field = {"tire": "deg_s_per_lap", "fuel": "fuel_left_l"}[name]
    snap = _snap(lake, GREEN_RACE, 17, some, fuel_start_l=50.0)
    full = _snap(lake, GREEN_RACE, 17, models, fuel_start_l=50.0)
    assert getattr(snap.car("118"), field) is None
    assert getattr(full.car("118"), field) is not None
    others = [c.car_number for c in full.cars if c.car_number != "118"]
    # the same rows, asked one car at a time or together: a few ulps apart at most
    assert [getattr(snap.car(n), field) for n in others] == pytest.approx(
        [getattr(full.car(n), field) for n in others], rel=1e-12, abs=1e-15)
    assert any(n.startswith(f"{name}: refused 1 car(s)") for n in snap.notes), snap.notes


@pytest.mark.parametrize("name", ["laptime", "pitloss", "fcy"])
@pytest.mark.parametrize("how", ["missing", "refusing"])
def test_a_required_answer_missing_is_an_error_naming_the_model(
        lake: Lake, models: dict[str, Model], name: str, how: str) -> None:
    some = {**models, name: Refusing()} if how == "refusing" else \
        {k: m for k, m in models.items() if k != name}
    with pytest.raises(DataError, match=f"'{name}'"):
        _snap(lake, GREEN_RACE, 12, some)


def test_a_lap_before_any_green_pace_is_an_error(lake: Lake,
                                                 models: dict[str, Model]) -> None:
    """Under the caution of laps 1-3 no car has a green lap: no lap-time quantiles."""
    with pytest.raises(DataError, match=r"'laptime'.*green"):
        _snap(lake, CAUTION_RACE, 3, models)


def test_the_pace_fallback_gives_the_fields_pace_marked_and_noted(
        lake: Lake, models: dict[str, Model]) -> None:
    """At the leader's lap 2 of the green race only the leader has a green lap: refused
    by default; with ``pace_fallback`` every other car runs at the answered pace, marked,
    and the notes say so. A lap where every car has an answer is left as it was."""
    with pytest.raises(DataError, match=r"'laptime'.*green"):
        _snap(lake, GREEN_RACE, 2, models)
    snap = _snap(lake, GREEN_RACE, 2, models, pace_fallback=True)
    answered = [c for c in snap.cars if not c.pace_fallback]
    given = [c for c in snap.cars if c.pace_fallback]
    assert len(answered) == 1 and len(given) == len(snap.cars) - 1 > 5
    pace = (answered[0].lap_time_p10_s, answered[0].lap_time_p50_s,
            answered[0].lap_time_p90_s)
    assert all((c.lap_time_p10_s, c.lap_time_p50_s, c.lap_time_p90_s) == pace for c in given)
    assert any(note.startswith("laptime: no lap-time quantiles for car(s) ")
               and given[0].car_number in note and "fallback" in note for note in snap.notes)
    assert _snap(lake, GREEN_RACE, 12, models, pace_fallback=True) == \
        _snap(lake, GREEN_RACE, 12, models)


def test_fuel_left_is_the_start_fill_less_every_laps_burn(
        lake: Lake, models: dict[str, Model]) -> None:
    snap = _snap(lake, GREEN_RACE, 12, models, fuel_start_l={"118": 40.0})
    car = snap.car("118")
    assert car.fuel_burn_l_per_lap is not None and 1.0 < car.fuel_burn_l_per_lap < 5.0
    assert car.fuel_left_l is not None
    assert 40.0 - 12 * 5.0 < car.fuel_left_l < 40.0 - car.laps * 1.0
    assert all(c.fuel_left_l is None for c in snap.cars if c.car_number != "118")
    timing_only = _snap(lake, CAUTION_RACE, 9, models, fuel_start_l=50.0)
    assert all(c.fuel_burn_l_per_lap is None for c in timing_only.cars)
    assert any(n.startswith("fuel: refused") for n in timing_only.notes)


def test_an_unknown_race_or_lap_is_an_error(lake: Lake, models: dict[str, Model]) -> None:
    with pytest.raises(DataError, match="no race"):
        _snap(lake, "nowhere-R1", 3, models)
    with pytest.raises(DataError, match=r"completed lap 99.*1\.\.19"):
        _snap(lake, GREEN_RACE, 99, models)


def test_the_snapshot_goes_out_as_json_and_back(lake: Lake, models: dict[str, Model]
                                                ) -> None:
    snap = _snap(lake, GREEN_RACE, 12, models, fuel_start_l=50.0)
    assert RaceSnapshot.from_json(snap.to_json()) == snap

