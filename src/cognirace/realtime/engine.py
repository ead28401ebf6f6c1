"""One race followed live: frames in, the tower, the models' answers and events out.

``RaceEngine.apply`` takes checked frames (``parse_frame``) in the order they arrive.
A frame seen before (its ``seq`` at or below the last applied from its source) is
acknowledged and ignored, so a client may resend after a reconnect; a jump in ``seq``
is counted as a gap. Within a frame: flags, weather and samples first, then the lap
crossings in ``lap_end`` order, since a crossing closes the lap its samples belong to.

Every model runs on inputs built by the training code. On each crossing the lap's
feature row comes from ``LiveFeatureBuilder``, and the models answer:

- per car and lap: ``laptime`` (the next lap's P10/P50/P90), ``fuel`` (this lap's
  burn), ``pitloss`` (green and under caution, at this track), ``tire`` (the car's
  current stint so far, ``lap_inputs.TireStints``) and ``driver`` (the style of a
  green lap with telemetry, ``telemetry_inputs``);
- per leader lap: ``fcy`` (the hazard row ``fcy_rows`` builds, ``lap_inputs.LeaderLaps``)
  and ``traffic`` (the graph of the line before, ``lap_inputs.LineGraphs``);
- per completed telemetry window of a car: ``anomaly`` (``telemetry_inputs.Windows``).

For each car the entry list marks ``watch``, the pit strategy (``strategy.advise``) runs
on the leader's crossing, from the race as it stands (``strategy_inputs``), with the
answer to "pit if a caution starts now?" made ready beside it; the advice in force
changes only with hysteresis (``strategy.advisor``) and a change worth acting on raises
STRATEGY.

A car's answers stay on it (``CarState.predictions``), the race's in ``predictions``,
and they feed the events (``alerts``). A model that is not loaded, or refuses a row (a
required input unknown, say, on lap 1), leaves its answer out and is counted in
``model_skips`` (``name`` when it refused, ``name:not_loaded`` when it was not there):
no answer is ever made up. Every buffer behind these inputs is bounded, so a lap
completion costs the same at the end of a race as at its start.

Two costly queries, all in Polars (which leaves the interpreter free), run on a side
thread while the engine goes on. A logger's lap is summarised (its telemetry aggregates,
and the driver's style while a driver model is loaded) as soon as the logger sends a
sample of its next lap, ahead of the lap's crossing, which then finds it made (or makes
it again, should a sample of the lap have come after); the style is made apart and
waited for last, once the other models have answered the crossing. And the rows of the windows a
frame completes are computed while the engine goes on with the next frames; the
detector answers them, and their ``ANOMALY`` events are raised, when the next windows
complete (5 s of the stream later; ``settle`` at the end of a stream). The watched
cars' advice is settled before a later frame's first flag or crossing. These points
are set by the stream alone, never by a read or by the threads' speed, so one process
and every replica log the same events in the same order; a read shows the answers
settled so far.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from cognirace.errors import CogniraceError
from cognirace.features.live import LiveFeatureBuilder
from cognirace.features.style import lap_style
from cognirace.features.windows import HISTORY_FEATURES
from cognirace.models.base import Model
from cognirace.models.pitloss_rows import planned_tire_change
from cognirace.realtime.alerts import LOW_FUEL_MARGIN_LAPS, PIT_WINDOW_SAVING_S, Alerts
from cognirace.realtime.events import Event, EventLog
from cognirace.realtime.frames import Frame
from cognirace.realtime.lap_inputs import LeaderLaps, LineGraphs, TireStints
from cognirace.realtime.telemetry_inputs import Windows, style_lap, style_row
from cognirace.realtime.tower import TOWER_CHANNELS, CarState, RaceInfo, Tower
from cognirace.realtime.watch import StrategyWatch
from cognirace.strategy.advisor import Advisor

_SIDE = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cognirace-side")
"""Where window rows and lap summaries are made: one thread for every race of the
process, since Polars runs each query on all cores anyway."""

Models = Callable[[str], Model | None]
"""The production model of a task by name, or None when it is not loaded."""


@dataclass(frozen=True)
class Ack:
    """The answer to a frame: the last ``seq`` applied from its source."""

    source: str
    seq: int
    duplicate: bool
    events: tuple[Event, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"ack": self.seq, "source": self.source, "duplicate": self.duplicate,
                "events": [e.to_json() for e in self.events]}


def _no_models(_name: str) -> Model | None:
    return None


def _newest(samples: pl.DataFrame) -> list[dict[str, Any]]:
    """Each logger's newest sample (the last of its latest time), with what the tower
    reads of it: in Python, a frame's few hundred rows cost less than a query."""
    stamps = samples.get_column("time").to_physical().to_list()
    newest: dict[str, int] = {}
    for index, (vehicle, stamp) in enumerate(zip(samples.get_column("vehicle_id").to_list(),
                                                 stamps, strict=True)):
        best = newest.get(vehicle)
        if best is None or stamp >= stamps[best]:
            newest[vehicle] = index
    picked = pl.Series(list(newest.values()), dtype=pl.UInt32)
    read = [c for c in ("vehicle_id", "time", *TOWER_CHANNELS) if c in samples.columns]
    values = [samples.get_column(c).gather(picked).to_list() for c in read]
    return [dict(zip(read, row, strict=True)) for row in zip(*values, strict=True)]


@dataclass
class RaceEngine:
    """The live state of one race (see the module docstring)."""

    info: RaceInfo
    models: Models = _no_models
    tower: Tower = field(init=False)
    log: EventLog = field(default_factory=EventLog)
    last_seq: dict[str, int] = field(default_factory=dict)
    seq_gaps: int = 0
    frames_applied: int = 0
    samples_applied: int = 0
    model_skips: Counter[str] = field(default_factory=Counter)
    predictions: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The race's latest answers: ``fcy`` (the caution hazard after the leader's lap)."""
    _features: LiveFeatureBuilder = field(init=False)
    _watch: StrategyWatch = field(init=False)
    _watching: bool = field(init=False)
    """Some car of the entry list is watched (``Entry.watch``)."""
    _alerts: Alerts = field(init=False)
    _stints: TireStints = field(default_factory=TireStints)
    _leader: LeaderLaps = field(default_factory=LeaderLaps)
    _lines: LineGraphs = field(default_factory=LineGraphs)
    _windows: Windows = field(default_factory=Windows)
    _pitloss: tuple[Model, dict[str, float]] | None = None
    _pending_windows: tuple[Future[pl.DataFrame], dict[str, str], int] | None = None
    """The rows of the windows a frame completed, being made, the cars' loggers then, and
    the frame (``frames_applied`` before it)."""

    def __post_init__(self) -> None:
        self.tower = Tower(self.info)
        self._features = LiveFeatureBuilder(self.info.race_id, self.info.track,
                                            self.info.session,
                                            race_duration_s=self.info.duration_s,
                                            side=_SIDE, also=self._style_ahead)
        self._alerts = Alerts(self.log)
        self._watch = StrategyWatch(self.info.race_id)
        self._watching = any(e.watch for e in self.info.entries)

    # --- frames -----------------------------------------------------------------

    def apply(self, frame: Frame) -> Ack:
        """Apply one frame (see the module docstring) and acknowledge it."""
        last = self.last_seq.get(frame.source, -1)
        if frame.seq <= last:
            return Ack(frame.source, last, duplicate=True)
        if frame.seq > last + 1 and last >= 0:
            self.seq_gaps += frame.seq - last - 1
        first_event = len(self.log.events)
        if frame.flags:
            self._settle_strategy(self.frames_applied)  # before the frame's first event
        for time, flag in sorted(frame.flags):
            self._flag(time, flag)
        for row in frame.weather.with_columns(race_id=pl.lit(self.info.race_id)
                                              ).iter_rows(named=True):
            self._features.add_weather(row)
        if frame.samples.height:
            self._samples(frame.samples)  # raises no event: the windows' answers wait
        if frame.laps.height:
            self._settle_strategy(self.frames_applied)
        for row in frame.crossings:
            self._crossing(row)
        self.last_seq[frame.source] = frame.seq
        self.frames_applied += 1
        return Ack(frame.source, frame.seq, duplicate=False,
                   events=tuple(self.log.events[first_event:]))

    def _samples(self, samples: pl.DataFrame) -> None:
        # race_id first: a parsed frame is then in the lake's column order, which the
        # feature builder takes as it is (a frame costs a few queries, each counts)
        samples = samples.drop("race_id", strict=False)
        samples.insert_column(0, pl.Series("race_id", [self.info.race_id] * samples.height,
                                           dtype=pl.String))
        if "lap" in samples.columns:  # first: a lap it completes is summarised meanwhile
            laps = samples.get_column("lap")
            self._features.add_samples(samples if not laps.null_count()
                                       else samples.filter(laps.is_not_null()))
        for row in _newest(samples):
            self.tower.sample(row)
        completed = self._windows.add(samples, rows=lambda: self._loaded("anomaly"))
        if completed is not None:
            self._settle_windows()  # the windows before first: records and events in order
            self._pending_windows = (_SIDE.submit(
                self._windows.rows, completed, self._anomaly_reads_history()),
                dict(self.tower.vehicles), self.frames_applied)
        self.samples_applied += samples.height

    def _flag(self, time: dt.datetime, flag: str) -> None:
        before = self.tower.flag
        self.tower.set_flag(time, flag)
        self._caution_change(before, time)

    def _caution_change(self, before: str, time: dt.datetime | None) -> None:
        if self._alerts.caution(before, self.tower.flag, self.tower.leader_laps + 1, time,
                                self.tower.flag_source):
            self._alerts.pit_windows(self.tower.cars.values(), time)

    def _crossing(self, lap: dict[str, Any]) -> None:
        before_flag = self.tower.flag
        positions = {c.car_number: c.position for c in self.tower.cars.values()}
        car = self.tower.cross(lap)
        self._caution_change(before_flag, lap["lap_end"])
        try:
            row = self._features.complete_lap({**lap, "race_id": self.info.race_id})
        except CogniraceError:
            self.model_skips["features"] += 1
            row = None
        vehicle, number = lap.get("vehicle_id"), int(lap["lap"])
        samples = None if vehicle is None else self._features.completed_samples(vehicle,
                                                                                number)
        if row is not None and row.height:
            self._predict(car, row, samples, lambda: None if vehicle is None
                          else self._features.completed_also(vehicle, number))
        self._alerts.position(positions.get(car.car_number), car, lap["lap_end"])
        if car.position == 1 and self._watching:
            self._strategy(lap["lap_end"])

    # --- models -----------------------------------------------------------------

    def _run(self, name: str, rows: pl.DataFrame) -> pl.DataFrame | None:
        """``name``'s answer to ``rows``; None, counted, when it is not loaded or
        refuses them."""
        model = self.models(name)
        if model is None:
            self.model_skips[f"{name}:not_loaded"] += 1
            return None
        try:
            return model.predict(rows)
        except CogniraceError:
            self.model_skips[name] += 1
            return None

    def _loaded(self, name: str) -> bool:
        """Whether ``name`` is loaded, counted as ``_run`` counts it when not: asked
        once its row is due, so an input is built only for a model that reads it."""
        if self.models(name) is None:
            self.model_skips[f"{name}:not_loaded"] += 1
            return False
        return True

    def _first(self, name: str, rows: pl.DataFrame) -> dict[str, Any] | None:
        result = self._run(name, rows)
        return None if result is None else result.row(0, named=True)

    def _predict(self, car: CarState, row: pl.DataFrame, samples: pl.DataFrame | None,
                 style_ahead: Callable[[], dict[str, float] | None]) -> None:
        """Every model that answers on this crossing (see the module docstring)."""
        values = row.row(0, named=True)
        self._lap_models(car, row, values)
        self._tire(car, values)
        self._field(row, values)
        if samples is not None and style_lap(values) and self._loaded("driver"):
            # the costly part, made ahead on the side thread while a driver model is in
            # (and asked for last, so the other models answer while it is made)
            ahead = style_ahead()
            style = style_row(values, ahead if ahead is not None else lap_style(samples))
            driver = None if style is None else self._first("driver", style)
            if driver is not None:
                car.predictions["driver"] = driver

    def _lap_models(self, car: CarState, row: pl.DataFrame, values: dict[str, Any]) -> None:
        """The models that read the car's lap row as it is: laptime, fuel, pitloss."""
        laptime = self._first("laptime", row)
        if laptime is not None:
            self._alerts.pace_drop(car, car.predictions.get("laptime"), self.tower.flag)
            car.predictions["laptime"] = laptime
        fuel = self._first("fuel", row)
        if fuel is not None:
            car.predictions["fuel"] = fuel
            car.fuel_used_l += float(fuel["fuel_used_pred_l"])
            self._alerts.low_fuel(car, values.get("laps_left_est"))
        stops = self._pit_losses(row)
        if stops:
            car.predictions["pitloss"] = dict(stops)

    def _pit_losses(self, row: pl.DataFrame) -> dict[str, float]:
        """A planned tire change's loss at this track, green and under caution. The
        question is the same for every car and lap, so the answer is kept for as long as
        the same model is in production (a refusal is asked again, and counted, next lap)."""
        model = self.models("pitloss")
        if self._pitloss is not None and self._pitloss[0] is model:
            return self._pitloss[1]
        stops = {}
        for caution in (False, True):
            answer = self._first("pitloss", planned_tire_change(row["track"][0], caution))
            if answer is not None:
                stops[f"pit_loss_{'caution' if caution else 'green'}_s"] = \
                    float(answer["pit_loss_pred_s"])
        if model is not None and len(stops) == 2:
            self._pitloss = (model, stops)
        return stops

    def _tire(self, car: CarState, values: dict[str, Any]) -> None:
        """The tire forecast of the car's stint so far; a new stint drops the last one's."""
        held = car.predictions.get("tire")
        if held is not None and held["stint"] != values["stint"]:
            del car.predictions["tire"]
            self._alerts.new_stint(car)
        rows = self._stints.add(values, build=lambda: self._loaded("tire"))
        answer = None if rows is None else self._first("tire", rows)
        if answer is not None and rows is not None:
            car.predictions["tire"] = {
                **answer, "lap": values["lap"], "tire_age_laps": values["tire_age_laps"],
                "horizon_age_laps": rows["horizon_age_laps"][0]}
            self._alerts.tire(car, car.predictions["tire"])

    def _field(self, row: pl.DataFrame, values: dict[str, Any]) -> None:
        """On the leader's crossing: the caution hazard, and the line before's graph."""
        hazard = self._leader.add(row, values, build=lambda: self._loaded("fcy"))
        answer = None if hazard is None else self._first("fcy", hazard)
        if answer is not None and hazard is not None:
            self.predictions["fcy"] = answer
            self._alerts.fcy_risk(answer, hazard.drop("race_id", "lap").row(0, named=True),
                                  values["lap_end"])
        graph = self._lines.add(row, values, build=lambda: self._loaded("traffic"))
        result = None if graph is None else self._run("traffic", graph)
        for answer in [] if result is None else result.iter_rows(named=True):
            car = self.tower.cars.get(answer["car_number"])
            if car is not None:
                car.predictions["traffic"] = answer

    def settle(self) -> None:
        """Finish what frames left running (the rows of the windows they completed, the
        watched cars' advice) and raise their events: at the end of a stream, or of a
        replay, when no later frame will (see the module docstring)."""
        self._settle_windows()
        self._settle_strategy(self.frames_applied + 1)

    def _quiesce(self) -> None:
        """Wait for the side thread's work on this race's buffers, applying nothing."""
        if self._pending_windows is not None:
            wait([self._pending_windows[0]])

    @property
    def advisor(self) -> Advisor:
        """The pit advice in force for each watched car (``Entry.watch``)."""
        return self._watch.advisor

    def _strategy(self, time: dt.datetime) -> None:
        """On the leader's crossing: every watched car's advice, from the race as it
        stands (``realtime.watch``)."""
        from cognirace.realtime.strategy_inputs import snapshot_from_engine

        try:
            snap = snapshot_from_engine(self)
        except CogniraceError:
            self.model_skips["strategy"] += 1
            return
        self._watch.ask(snap, self.info.entries, _SIDE, time, self.frames_applied)

    def _settle_strategy(self, before_frame: int) -> None:
        """The watched cars' answers asked before ``before_frame``, in the order asked."""
        failed = self._watch.settle(before_frame, self.tower.cars, self._alerts.strategy)
        if failed:
            self.model_skips["strategy"] += failed

    def _settle_windows(self) -> None:
        pending, self._pending_windows = self._pending_windows, None
        if pending is None:
            return
        try:
            rows = pending[0].result()
        except CogniraceError:
            self.model_skips["anomaly"] += 1
            return
        self._anomaly(rows, pending[1])

    def _style_ahead(self, samples: pl.DataFrame) -> dict[str, float] | None:
        """The style of a logger's lap, made with its summary on the side thread while a
        driver model is loaded (whether the lap gets a style row is known at its crossing)."""
        return lap_style(samples) if self.models("driver") is not None else None

    def _anomaly_reads_history(self) -> bool:
        """Whether the loaded detector reads the windows' car-history columns (the
        default one does not, and they are the costliest part of a window)."""
        model = self.models("anomaly")
        schema = getattr(model, "input_schema", None)  # a stand-in may not declare one
        return model is not None and (schema is None or any(
            spec.name in HISTORY_FEATURES for spec in schema()))

    def _anomaly(self, windows: pl.DataFrame, numbers: dict[str, str]) -> None:
        """The detector on the windows a frame completed, each on the car its logger
        belonged to then, in order."""
        windows = windows.with_columns(
            track=pl.lit(self.info.track),
            car_number=pl.col("vehicle_id").replace_strict(numbers, default=None,
                                                           return_dtype=pl.String))
        result = self._run("anomaly", windows)
        if result is None:
            return
        for answer, window in zip(result.iter_rows(named=True),
                                  windows.select("car_number", "lap", "window_start")
                                  .iter_rows(named=True), strict=True):
            car = self.tower.cars.get(window["car_number"] or "")
            if car is None:
                continue
            start: dt.datetime = window["window_start"]
            car.predictions["anomaly"] = {**answer, "lap": window["lap"],
                                          "window_start": start.isoformat()}
            self._alerts.anomaly(car, car.predictions["anomaly"], start)

    # --- reads ------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The timing tower with the stream's health and the race's answers (those
        settled so far, see the module docstring)."""
        return {**self.tower.to_json(), "frames": self.frames_applied,
                "samples": self.samples_applied, "seq_gaps": self.seq_gaps,
                "last_seq": dict(self.last_seq), "events": len(self.log.events),
                "late_samples": self._features.n_late_samples,
                "late_window_samples": self._windows.n_late,
                "model_skips": dict(self.model_skips), "predictions": dict(self.predictions)}

    def car(self, car_number: str) -> dict[str, Any] | None:
        """One car's row with its latest predictions; None for a car never seen."""
        car = self.tower.cars.get(car_number)
        if car is None:
            return None
        return {**car.to_json(), "predictions": car.predictions}

    def held(self) -> dict[str, int]:
        """What the model inputs' buffers hold now, each bounded whatever the race's
        length (for health checks and the tests that hold them to it)."""
        self._quiesce()
        return {"tire_laps": self._stints.held_laps(), "line_rows": self._lines.held_rows(),
                "lap_samples_laps": self._features.held_laps(),
                "record_windows": self._windows.held_windows()}


__all__ = ["LOW_FUEL_MARGIN_LAPS", "PIT_WINDOW_SAVING_S", "Ack", "Models", "RaceEngine"]
