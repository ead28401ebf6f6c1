"""Every model live: a replayed race gets, lap by lap and window by window, the answers
the training path gives the same laps; the events they feed are raised once per
episode; and what the engine holds for them stays bounded however long the race.

The models are fitted on the small season (all four races), as ``test_engine`` fits
three of them; each is wrapped in a ``Spy`` that records what the engine asked and what
the model answered, so every answer is checked, not only the last one kept on a car.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import polars as pl
import pytest

from cognirace.errors import SchemaError
from cognirace.features import LiveFeatureBuilder, feature_table
from cognirace.features.live import OPEN_LAPS
from cognirace.features.style import style_table
from cognirace.features.windows import HISTORY_COLUMNS, KEYS, window_table, with_car_history
from cognirace.lake import Lake
from cognirace.models.base import Model
from cognirace.models.fcy_rows import fcy_rows
from cognirace.models.tire_forecast import stint_so_far
from cognirace.models.traffic import line_graph
from cognirace.realtime import RaceEngine, RaceInfo, parse_frame, race_frames, race_info
from cognirace.realtime.alerts import (
    ANOMALY_CLEAR_WINDOWS,
    FCY_RISK_COLUMN,
    FCY_RISK_OFF,
    FCY_RISK_ON,
    TIRE_DEG_OFF_S_PER_LAP,
    TIRE_DEG_ON_S_PER_LAP,
    Alerts,
)
from cognirace.realtime.events import (
    ANOMALY,
    CAUTION_START,
    FCY_RISK,
    TIRE_DEGRADATION,
    EventLog,
)
from cognirace.realtime.lap_inputs import (
    TIRE_HORIZON_LAPS,
    TIRE_MAX_SEEN_LAPS,
    TIRE_MIN_SEEN_LAPS,
)
from cognirace.realtime.telemetry_inputs import RECORD_WINDOWS
from cognirace.realtime.tower import CarState

TINY_RACE_S = 1800.0
"""The small season's races are timed at 30 minutes."""
TELEMETRY_RACE = "barber-R2"
"""Telemetry at 2 Hz, two pit stops, no caution."""
CAUTION_RACE = "sonoma-R1"
"""Cautions on the leader's laps 1-3 and 12-13, no telemetry."""
FRAME_S = 30.0
"""Race time per replayed frame: few frames keep the replay quick; samples and crossings
still arrive in order, and every window and lap completes as it would live."""
NAMES = ("laptime", "fuel", "pitloss", "tire", "fcy", "traffic", "driver", "anomaly")


@dataclass
class Spy:
    """A model as the engine sees it, recording each question and answer."""

    model: Any
    calls: list[tuple[pl.DataFrame, pl.DataFrame]] = field(default_factory=list)

    def predict(self, rows: pl.DataFrame) -> pl.DataFrame:
        answer: pl.DataFrame = self.model.predict(rows)
        self.calls.append((rows, answer))
        return answer

    def answers(self) -> pl.DataFrame:
        return pl.concat([a for _, a in self.calls], how="vertical_relaxed")

    def questions(self) -> pl.DataFrame:
        return pl.concat([q for q, _ in self.calls], how="diagonal_relaxed")


@pytest.fixture(scope="module")
def fitted(lake: Lake) -> dict[str, Model]:
    """The eight models fitted on the small season's races."""
    from cognirace.training import all_tasks, task_examples

    tasks = [all_tasks()[name] for name in NAMES]
    examples = task_examples(lake, tasks)
    return {task.name: task.model().fit(examples[task.name]) for task in tasks}


def _replay(lake: Lake, race: str, models: Callable[[str], Any], *,
            telemetry: bool = True) -> RaceEngine:
    engine = RaceEngine(race_info(lake, race, duration_s=TINY_RACE_S), models)
    for body in race_frames(lake, race, frame_s=FRAME_S, telemetry=telemetry):
        engine.apply(parse_frame(body))
    engine.settle()
    return engine


@pytest.fixture(scope="module")
def spied(lake: Lake, fitted: dict[str, Model]) -> tuple[RaceEngine, dict[str, Spy]]:
    """The telemetry race replayed with every model on, each one spied on."""
    spies = {name: Spy(model) for name, model in fitted.items()}
    return _replay(lake, TELEMETRY_RACE, spies.get), spies


@pytest.fixture(scope="module")
def caution(lake: Lake, fitted: dict[str, Model]) -> tuple[RaceEngine, dict[str, Spy]]:
    """The race with cautions replayed with the models that read lap rows, spied on."""
    spies = {name: Spy(fitted[name]) for name in ("tire", "fcy", "traffic")}
    return _replay(lake, CAUTION_RACE, spies.get, telemetry=False), spies


def _features(lake: Lake, race: str) -> pl.DataFrame:
    """A race's lap feature table, as training builds it."""
    return feature_table(lake, [race], race_duration_s=TINY_RACE_S)


@pytest.fixture(scope="module")
def batch(lake: Lake) -> pl.DataFrame:
    """The telemetry race's lap feature table."""
    return _features(lake, TELEMETRY_RACE)


def _outputs(model: Model) -> list[str]:
    return [spec.name for spec in model.output_schema()]


def _assert_same(live: dict[str, Any], want: dict[str, Any], names: list[str]) -> None:
    assert {n: live[n] for n in names} == {n: want[n] for n in names}


# --- the training path, model by model ----------------------------------------------

@pytest.mark.parametrize("race", [TELEMETRY_RACE, CAUTION_RACE])
def test_tire_reads_the_stint_so_far_as_the_batch_rows_do(
        race: str, request: pytest.FixtureRequest, lake: Lake,
        fitted: dict[str, Model]) -> None:
    """Green laps, tire ages and fuel laps (yellow laps count half) of each car's stint
    up to each lap are the batch rows', and so are the answers."""
    engine, spies = request.getfixturevalue("spied" if race == TELEMETRY_RACE else "caution")
    rows = stint_so_far(_features(lake, race), TIRE_HORIZON_LAPS,
                        max_laps=TIRE_MAX_SEEN_LAPS) \
        .filter(pl.col("n_seen_laps") >= TIRE_MIN_SEEN_LAPS)
    asked = spies["tire"].questions()
    assert asked.height == rows.height >= 50  # one forecast per lap with 5 green laps
    inputs = ["car_number", "lap", "stint", "track", "lap_times_s", "tire_ages_laps",
              "fuel_laps", "horizon_age_laps"]
    rows = rows.sort("car_number", "lap")
    assert asked.select(inputs).sort("car_number", "lap").equals(rows.select(inputs))
    by_lap = {(q["car_number"][0], q["lap"][0]): a for q, a in spies["tire"].calls}
    for row in rows.iter_slices(1):
        want = fitted["tire"].predict(row)
        assert by_lap[(row["car_number"][0], row["lap"][0])].equals(want)
    for car in engine.tower.cars.values():
        live = car.predictions.get("tire")
        if live is not None:  # the answer kept is the last lap's
            want = by_lap[(car.car_number, live["lap"])].row(0, named=True)
            _assert_same(live, want, _outputs(fitted["tire"]))


def test_fcy_answers_each_leader_lap_as_in_batch(
        caution: tuple[RaceEngine, dict[str, Spy]], lake: Lake, fitted: dict[str, Model]
        ) -> None:
    """On a race with two cautions: the caution count, the laps since the last one and
    the field at the leader's line are the batch row's, lap after lap."""
    engine, spies = caution
    spy = spies["fcy"]
    rows = fcy_rows(_features(lake, CAUTION_RACE))
    asked = spy.questions()
    assert asked["lap"].to_list() == rows["lap"].to_list()
    assert asked.select(rows.drop("laps_to_fcy_start").columns).equals(
        rows.drop("laps_to_fcy_start"))
    assert rows["n_fcy_starts"].max() == 1  # rows after the first caution are covered
    for row, (_, answer) in zip(rows.iter_slices(1), spy.calls, strict=True):
        assert answer.equals(fitted["fcy"].predict(row))
    assert engine.predictions["fcy"] == spy.calls[-1][1].row(0, named=True)


def test_traffic_reads_the_line_before_once_the_leader_crossed_again(
        spied: tuple[RaceEngine, dict[str, Spy]], batch: pl.DataFrame,
        fitted: dict[str, Model]) -> None:
    """Each graph is the batch table's line as it stood when the leader completed the
    next lap (``traffic.line_graph`` of those rows), answered as in batch."""
    _, spies = spied
    leader = batch.filter(pl.col("position") == 1).select("lap", "lap_end")
    read_at = dict(zip((leader["lap"] - 1).to_list(), leader["lap_end"].to_list(),
                       strict=True))
    graphs = spies["traffic"].calls
    assert len(graphs) >= 15
    for question, answer in graphs:
        line = int(question["lap"][0])
        want = line_graph(batch.filter((pl.col("lap") == line)
                                       & (pl.col("lap_end") <= read_at[line])))
        assert question.equals(want)
        assert answer.equals(fitted["traffic"].predict(want))
    lapped = batch.filter(pl.col("lap_end") > pl.col("lap").replace_strict(
        read_at, default=None))
    asked = spies["traffic"].questions()
    assert asked.join(lapped, on=["car_number", "lap"], how="semi").is_empty()


def test_driver_styles_the_laps_style_table_keeps(
        spied: tuple[RaceEngine, dict[str, Spy]], lake: Lake, fitted: dict[str, Model]
        ) -> None:
    """Every green lap with telemetry gets its ``style_table`` row, from the samples
    the lap's frames brought before its crossing, and the batch model's embedding."""
    engine, spies = spied
    styles = style_table(lake).filter(pl.col("race_id") == TELEMETRY_RACE) \
        .sort("car_number", "lap")
    asked = spies["driver"].questions().sort("car_number", "lap")
    assert engine.state()["late_samples"] == 0
    assert asked.height == styles.height >= 100
    assert asked.equals(styles.select(asked.columns))
    want = pl.concat([fitted["driver"].predict(row) for row in styles.iter_slices(1)])
    got = spies["driver"].answers().sort("vehicle_id", "lap")
    assert got.equals(want.sort("vehicle_id", "lap"))


def test_anomaly_scores_every_completed_window_as_the_window_table(
        spied: tuple[RaceEngine, dict[str, Spy]], lake: Lake, fitted: dict[str, Model]
        ) -> None:
    """Every window a later sample completed gets the window table's row (statistics
    and the car's record) and the batch detector's answer."""
    engine, spies = spied
    table = window_table(lake).filter(pl.col("race_id") == TELEMETRY_RACE)
    asked = spies["anomaly"].questions()
    n_loggers = asked["vehicle_id"].n_unique()
    # every window but each logger's last (nothing after it completes it)
    assert asked.height == table.height - n_loggers
    want = table.join(asked.select(KEYS), on=list(KEYS), how="semi").sort(KEYS)
    got = asked.sort(KEYS)
    assert got.select(want.columns).equals(want)
    answers = spies["anomaly"].answers().sort(KEYS)
    assert answers.equals(fitted["anomaly"].predict(want))
    assert engine.state()["late_window_samples"] == 0
    assert 0 < engine.held()["record_windows"] <= n_loggers * (RECORD_WINDOWS - 1)


def test_the_record_of_a_window_is_its_last_record_windows() -> None:
    """``with_car_history`` gives a window the same record from the car's last
    ``RECORD_WINDOWS`` windows as from the whole race: what ``Windows`` keeps is enough."""
    rng = np.random.default_rng(7)
    n = RECORD_WINDOWS + 150
    values = rng.normal(size=(n, len(HISTORY_COLUMNS)))
    values[rng.random(values.shape) < 0.2] = np.nan
    windows = pl.DataFrame({"race_id": ["r"] * n, "vehicle_id": ["v"] * n,
                            "window_id": np.arange(n, dtype=np.int64),
                            **{c: values[:, i] for i, c in enumerate(HISTORY_COLUMNS)}})
    whole = with_car_history(windows).tail(1)
    tail = with_car_history(windows.tail(RECORD_WINDOWS)).tail(1)
    assert tail.equals(whole)
    short = with_car_history(windows.tail(RECORD_WINDOWS - 1)).tail(1)
    assert not short.equals(whole)  # one window fewer is not enough


def test_every_answer_and_event_goes_out_as_json(
        spied: tuple[RaceEngine, dict[str, Spy]]) -> None:
    """What the routes send: the state, each car with its answers, each event."""
    engine, _ = spied
    state = orjson.loads(orjson.dumps(engine.state()))
    assert set(state["predictions"]) == {"fcy"}
    kinds = set()
    for number in engine.tower.cars:
        car = orjson.loads(orjson.dumps(engine.car(number)))
        kinds |= set(car["predictions"])
    assert kinds == {"laptime", "fuel", "pitloss", "tire", "traffic", "driver", "anomaly"}
    for event in engine.log.events:
        assert orjson.loads(orjson.dumps(event.to_json()))["type"] == event.type


# --- a model that cannot answer ---------------------------------------------------

class Refusing:
    """A model that refuses every row, as one does a required input it lacks."""

    def predict(self, rows: pl.DataFrame) -> pl.DataFrame:
        raise SchemaError("input column 'lap_times_s' is required", column="lap_times_s")


def test_a_model_that_refuses_or_is_missing_leaves_no_answer_and_is_counted(
        lake: Lake, fitted: dict[str, Model]) -> None:
    models = {"tire": Refusing(), "fcy": fitted["fcy"]}
    engine = _replay(lake, CAUTION_RACE, models.get, telemetry=False)
    skips = engine.state()["model_skips"]
    assert skips["tire"] > 0 and skips["traffic:not_loaded"] > 0
    crossings = lake.laps.filter((pl.col("race_id") == CAUTION_RACE)
                                 & pl.col("car_number").is_not_null()).height
    assert skips["laptime:not_loaded"] == crossings
    assert all("tire" not in c.predictions and "traffic" not in c.predictions
               for c in engine.tower.cars.values())
    assert "fcy" in engine.predictions and "fcy" not in skips


# --- events and their hysteresis ----------------------------------------------------

@dataclass
class ScriptedTire:
    """The fitted tire model, with some cars' wear replaced by a script (s/lap, by the
    car's forecast count; the last value holds), the others' left as they are."""

    model: Model
    scripts: dict[str, list[float]]
    n: dict[str, int] = field(default_factory=dict)

    def predict(self, rows: pl.DataFrame) -> pl.DataFrame:
        answer = self.model.predict(rows)
        car = str(rows["car_number"][0])
        script = self.scripts.get(car)
        if script is None:
            return answer
        n = self.n[car] = self.n.get(car, -1) + 1
        return answer.with_columns(deg_s_per_lap=pl.lit(script[min(n, len(script) - 1)],
                                                        pl.Float64))


def test_tire_degradation_is_raised_once_per_episode(lake: Lake,
                                                     fitted: dict[str, Model]) -> None:
    """High wear raises the event; wear between the two thresholds keeps it quiet;
    wear below the lower one clears it, and high wear again raises a second one. A new
    tire set clears it too: a car whose both sets wear fast gets one event per set."""
    high, middle, low = TIRE_DEG_ON_S_PER_LAP + 0.05, \
        (TIRE_DEG_ON_S_PER_LAP + TIRE_DEG_OFF_S_PER_LAP) / 2, 0.0
    script = [low, high, high, middle, high, low, middle, high, high, low]
    results = lake.results.filter(pl.col("race_id") == TELEMETRY_RACE)
    car = str(results.filter(pl.col("position") == 1)["car_number"][0])  # no stop
    stopping = "118"  # a tire change on lap 9; forecasts from laps 6 and 15
    tire = ScriptedTire(fitted["tire"], {car: script, stopping: [high]})
    engine = _replay(lake, TELEMETRY_RACE, {"tire": tire}.get, telemetry=False)
    assert tire.n[car] >= len(script)
    events = [e for e in engine.log.events if e.type == TIRE_DEGRADATION]
    first, second = (e for e in events if e.car_number == car)
    assert second.lap - first.lap == 6  # script steps 1 and 7: one forecast a lap
    assert first.severity == "warning" and first.data["deg_s_per_lap"] == high
    assert "going off" in first.message and first.time is not None
    sets = [(e.lap, e.data["stint"]) for e in events if e.car_number == stopping]
    assert sets == [(6, 1), (15, 2)]
    assert len(events) == 4


def test_fcy_risk_follows_the_hazard_with_hysteresis(
        caution: tuple[RaceEngine, dict[str, Spy]]) -> None:
    """FCY_RISK on each lap whose hazard passes the threshold while armed; armed again
    once the hazard falls below the lower threshold or a caution starts."""
    engine, spies = caution
    spy = spies["fcy"]
    risk = {int(a["lap"][0]): float(a[FCY_RISK_COLUMN][0]) for _, a in spy.calls}
    starts = [e.lap for e in engine.log.events if e.type == CAUTION_START]
    raised = [e for e in engine.log.events if e.type == FCY_RISK]
    assert raised, "the hazard never passed the threshold on this race"
    armed, previous = True, 0
    for lap in sorted(risk):
        armed = armed or any(previous < start <= lap for start in starts)
        previous = lap
        fired = [e for e in raised if e.lap == lap]
        should = armed and risk[lap] >= FCY_RISK_ON
        assert bool(fired) == should, (lap, risk[lap])
        if fired:
            assert fired[0].data[FCY_RISK_COLUMN] == risk[lap]
            armed = False
        if risk[lap] < FCY_RISK_OFF:
            armed = True


def _car() -> CarState:
    return CarState("7", laps=12, last_crossing=dt.datetime(2025, 4, 6, 15, tzinfo=dt.UTC))


def test_anomaly_is_raised_per_kind_and_again_only_after_quiet_windows() -> None:
    alerts, car = Alerts(EventLog()), _car()
    start = dt.datetime(2025, 4, 6, 15, tzinfo=dt.UTC)

    def window(kind: str | None, i: int) -> None:
        alerts.anomaly(car, {"is_anomaly": kind is not None, "anomaly_kind": kind or "none",
                             "anomaly_channels": "pbrake_f,pbrake_r,accx_g" if kind else "",
                             "p_anomaly": 0.9 if kind else 0.1, "lap": 12, "window_id": i},
                       start + dt.timedelta(seconds=5 * i))

    # the sensor window and the windows after it count as quiet for the brake: one
    # short of ANOMALY_CLEAR_WINDOWS keeps the brake fade latched, as many clear it
    sequence = ["brake", None, "brake", "sensor", *[None] * (ANOMALY_CLEAR_WINDOWS - 2),
                "brake", *[None] * ANOMALY_CLEAR_WINDOWS, "brake"]
    for i, kind in enumerate(sequence):
        window(kind, i)
    events = alerts.log.events
    assert [(e.type, e.data["kind"]) for e in events] == [
        (ANOMALY, "brake"), (ANOMALY, "sensor"), (ANOMALY, "brake")]
    assert events[0].severity == "critical" and events[1].severity == "warning"
    assert events[0].data["channels"] == ["pbrake_f", "pbrake_r", "accx_g"]
    assert events[2].data["window_id"] == len(sequence) - 1
    assert events[0].time == start


def test_the_real_detector_raises_anomaly_only_on_flagged_windows(
        spied: tuple[RaceEngine, dict[str, Spy]]) -> None:
    engine, spies = spied
    flagged = spies["anomaly"].answers().filter(pl.col("is_anomaly"))
    events = [e for e in engine.log.events if e.type == ANOMALY]
    assert 0 < len(events) <= flagged.height
    keys = set(zip(flagged["vehicle_id"].to_list(), flagged["window_id"].to_list(),
                   strict=True))
    assert all((e.data["vehicle_id"], e.data["window_id"]) in keys for e in events)


# --- bounded work per lap -------------------------------------------------------------

Crossings = dict[tuple[str, int], dt.datetime]


def _long_stream(minutes: float) -> tuple[RaceInfo, list[dict[str, Any]], Crossings]:
    """Three cars on one stint for ``minutes`` (several real races' worth), the third
    so slow that it is lapped every seven laps; crossings in order, three a frame."""
    start = dt.datetime(2025, 4, 6, 15, tzinfo=dt.UTC)
    finish = start + dt.timedelta(minutes=minutes)
    rng = np.random.default_rng(3)
    rows: list[dict[str, Any]] = []
    ends: Crossings = {}
    for car, pace_s in (("1", 98.0), ("2", 98.6), ("3", 113.0)):
        begin, lap = start, 1
        while True:
            lap_s = pace_s + float(rng.normal(0.0, 0.3))
            end = begin + dt.timedelta(seconds=lap_s)
            if end > finish:
                break
            ends[(car, lap)] = end
            rows.append({"car_number": car, "lap": lap, "lap_start": begin.isoformat(),
                         "lap_end": end.isoformat(), "lap_time_s": lap_s, "flag": "GF",
                         "in_pit": False})
            begin, lap = end, lap + 1
    rows.sort(key=lambda r: (r["lap_end"], r["car_number"]))
    frames = [{"seq": i, "laps": rows[3 * i:3 * i + 3]} for i in range((len(rows) + 2) // 3)]
    info = RaceInfo(race_id="long", track="barber", start=start,
                    duration_s=minutes * 60.0 + 600.0)
    return info, frames, ends


def test_what_the_models_read_stays_bounded_over_a_long_race(
        fitted: dict[str, Model]) -> None:
    """A stint longer than any race: the tire forecast reads at most its last
    ``TIRE_MAX_SEEN_LAPS`` green laps, the hazard one row, the traffic graph the cars
    that crossed its line before the leader crossed the next (never the lapped car
    late), and the buffers behind them stay as small on the last lap as on the first."""
    info, frames, ends = _long_stream(minutes=120.0)
    spies = {name: Spy(fitted[name]) for name in ("tire", "fcy", "traffic")}
    engine = RaceEngine(info, spies.get)
    held = []
    for body in frames:
        engine.apply(parse_frame(body))
        held.append(engine.held())
    assert engine.state()["model_skips"].get("features", 0) == 0
    seen = spies["tire"].questions()["lap_times_s"].list.len()
    assert seen.max() == TIRE_MAX_SEEN_LAPS and seen.tail(30).min() == TIRE_MAX_SEEN_LAPS
    assert max(h["tire_laps"] for h in held) == 3 * TIRE_MAX_SEEN_LAPS
    assert max(h["line_rows"] for h in held) <= 2 * 3
    assert len(spies["fcy"].calls) >= 70 and all(q.height == 1 for q, _ in spies["fcy"].calls)
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    lapped = 0
    for question, _ in spies["traffic"].calls:
        line = int(question["lap"][0])
        read = min(t for (_, lap), t in ends.items() if lap == line + 1)
        crossed = {c for c in ("1", "2", "3") if ends.get((c, line), far) <= read}
        assert set(question["car_number"].to_list()) == crossed
        lapped += "3" not in crossed and ("3", line) in ends
    assert lapped >= 5  # the slow car crossed those lines after they were read


def test_a_logger_that_never_crosses_holds_a_few_laps_only() -> None:
    builder = LiveFeatureBuilder("r", "barber", "R1")
    start = dt.datetime(2025, 4, 6, 15, tzinfo=dt.UTC)
    for lap in range(1, 11):
        builder.add_samples(pl.DataFrame({
            "vehicle_id": ["GR86-9"] * 5, "lap": [lap] * 5,
            "time": [start + dt.timedelta(seconds=100 * lap + i) for i in range(5)]}))
    assert builder.held_laps() == OPEN_LAPS
    assert builder.n_evicted_samples == 5 * (10 - OPEN_LAPS)
    builder.complete_lap({"car_number": "9", "vehicle_id": "GR86-9", "lap": 10,
                          "lap_end": start + dt.timedelta(seconds=1_200)})
    samples = builder.completed_samples("GR86-9", 10)
    assert samples is not None and samples.height == 5
    assert builder.completed_samples("GR86-9", 9) is None
    assert builder.held_laps() == OPEN_LAPS - 1
    builder.add_samples(pl.DataFrame({"vehicle_id": ["GR86-9"], "lap": [10], "time": [start]}))
    assert builder.n_late_samples == 1 and builder.held_laps() == OPEN_LAPS - 1
