"""One race followed live: frames in, the tower, the models' answers and events out.

``RaceEngine.apply`` takes checked frames (``parse_frame``) in the order they arrive.
A frame seen before (its ``seq`` at or below the last applied from its source) is
acknowledged and ignored, so a client may resend after a reconnect; a jump in ``seq``
is counted as a gap. Within a frame: flags, weather and samples first, then the lap
crossings in ``lap_end`` order, since a crossing closes the lap its samples belong to.

On each crossing the lap's feature row comes from ``LiveFeatureBuilder`` (the training
code), and the models that read lap rows answer it: ``laptime`` (the next lap's
P10/P50/P90), ``fuel`` (this lap's burn), ``pitloss`` (green and under caution, at this
track). Their answers stay on the car and feed the events. A model that is not loaded,
or refuses a row (a required input unknown, say, on lap 1), leaves its answer out and
is counted in ``model_skips``: no answer is ever made up.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from cognirace.errors import CogniraceError
from cognirace.features.live import LiveFeatureBuilder
from cognirace.models.base import Model
from cognirace.realtime.events import (
    CAUTION_END,
    CAUTION_START,
    LOW_FUEL,
    PACE_DROP,
    PIT_WINDOW,
    POSITION_CHANGE,
    Event,
    EventLog,
    Latch,
)
from cognirace.realtime.frames import Frame
from cognirace.realtime.tower import CarState, RaceInfo, Tower

Models = Callable[[str], Model | None]
"""The production model of a task by name, or None when it is not loaded."""

LOW_FUEL_MARGIN_LAPS = 1.0
"""LOW_FUEL when the fuel left covers fewer laps than remain plus this margin."""
PIT_WINDOW_SAVING_S = 10.0
"""PIT_WINDOW when a stop under the caution costs at least this much less than green."""


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
    _features: LiveFeatureBuilder = field(init=False)
    _latch: Latch = field(default_factory=Latch)

    def __post_init__(self) -> None:
        self.tower = Tower(self.info)
        self._features = LiveFeatureBuilder(self.info.race_id, self.info.track,
                                            self.info.session,
                                            race_duration_s=self.info.duration_s)

    # --- frames -----------------------------------------------------------------

    def apply(self, frame: Frame) -> Ack:
        """Apply one frame (see the module docstring) and acknowledge it."""
        last = self.last_seq.get(frame.source, -1)
        if frame.seq <= last:
            return Ack(frame.source, last, duplicate=True)
        if frame.seq > last + 1 and last >= 0:
            self.seq_gaps += frame.seq - last - 1
        first_event = len(self.log.events)
        for time, flag in sorted(frame.flags):
            self._flag(time, flag)
        for row in frame.weather.with_columns(race_id=pl.lit(self.info.race_id)
                                              ).iter_rows(named=True):
            self._features.add_weather(row)
        if frame.samples.height:
            self._samples(frame.samples)
        for row in frame.laps.sort("lap_end", "car_number").iter_rows(named=True):
            self._crossing(row)
        self.last_seq[frame.source] = frame.seq
        self.frames_applied += 1
        return Ack(frame.source, frame.seq, duplicate=False,
                   events=tuple(self.log.events[first_event:]))

    def _samples(self, samples: pl.DataFrame) -> None:
        samples = samples.with_columns(race_id=pl.lit(self.info.race_id))
        latest = samples.sort("time").group_by("vehicle_id").last()
        for row in latest.iter_rows(named=True):
            self.tower.sample(row)
        if "lap" in samples.columns:
            self._features.add_samples(samples.filter(pl.col("lap").is_not_null()))
        self.samples_applied += samples.height

    def _flag(self, time: dt.datetime, flag: str) -> None:
        before = self.tower.flag
        self.tower.set_flag(time, flag)
        self._caution_change(before, time)

    def _caution_change(self, before: str, time: dt.datetime | None) -> None:
        after, lap = self.tower.flag, self.tower.leader_laps
        if before != "FCY" and after == "FCY":
            self.log.add(CAUTION_START, "warning", f"Full-course yellow on lap {lap + 1}.",
                         lap=lap + 1, time=time, data={"source": self.tower.flag_source})
            self._pit_windows(time)
        elif before == "FCY" and after != "FCY":
            self.log.add(CAUTION_END, "info", f"Green flag: the caution ends on lap {lap + 1}.",
                         lap=lap + 1, time=time, data={"source": self.tower.flag_source})
            self._latch.on = {k for k in self._latch.on if k[0] != PIT_WINDOW}

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
        if row is not None and row.height:
            self._predict(car, row)
        self._positions(positions, car, lap)

    # --- models -----------------------------------------------------------------

    def _run(self, name: str, rows: pl.DataFrame) -> dict[str, Any] | None:
        model = self.models(name)
        if model is None:
            return None
        try:
            result = model.predict(rows)
        except CogniraceError:
            self.model_skips[name] += 1
            return None
        return result.row(0, named=True)

    def _predict(self, car: CarState, row: pl.DataFrame) -> None:
        laptime = self._run("laptime", row)
        if laptime is not None:
            self._pace_drop(car, laptime)
            car.predictions["laptime"] = laptime
        fuel = self._run("fuel", row)
        if fuel is not None:
            car.predictions["fuel"] = fuel
            car.fuel_used_l += float(fuel["fuel_used_pred_l"])
            self._low_fuel(car, row)
        stops = {}
        for caution in (False, True):
            answer = self._run("pitloss", row.select("track").with_columns(
                caution=pl.lit(caution), tire_change=pl.lit(True)))
            if answer is not None:
                stops["caution" if caution else "green"] = answer["pit_loss_pred_s"]
        if stops:
            car.predictions["pitloss"] = {f"pit_loss_{k}_s": v for k, v in stops.items()}

    # --- events -----------------------------------------------------------------

    def _pace_drop(self, car: CarState, laptime: dict[str, Any]) -> None:
        """The lap just run against the P90 the model gave for it a lap earlier."""
        previous = car.predictions.get("laptime")
        if previous is None or car.last_lap_s is None or car.in_pit \
                or self.tower.flag == "FCY":
            return
        p90 = float(previous["lap_time_p90_s"])
        if car.last_lap_s > p90:
            if self._latch.fire(PACE_DROP, car.car_number):
                self.log.add(PACE_DROP, "warning",
                             f"Car {car.car_number} ran {car.last_lap_s:.3f} s, slower than "
                             f"the {p90:.3f} s it should beat nine times in ten.",
                             car_number=car.car_number, lap=car.laps,
                             time=car.last_crossing,
                             data={"lap_time_s": car.last_lap_s, "p90_s": p90,
                                   "p50_s": float(previous["lap_time_p50_s"])})
        else:
            self._latch.clear(PACE_DROP, car.car_number)

    def _low_fuel(self, car: CarState, row: pl.DataFrame) -> None:
        left, burn = car.fuel_left_l, car.predictions["fuel"]["fuel_used_pred_l"]
        laps_left = row["laps_left_est"][0] if "laps_left_est" in row.columns else None
        if left is None or laps_left is None or burn <= 0:
            return
        laps_of_fuel = left / burn
        if laps_of_fuel < laps_left + LOW_FUEL_MARGIN_LAPS:
            if self._latch.fire(LOW_FUEL, car.car_number):
                self.log.add(LOW_FUEL, "critical",
                             f"Car {car.car_number} has fuel for {laps_of_fuel:.1f} laps, "
                             f"{laps_left:.1f} remain.", car_number=car.car_number,
                             lap=car.laps, time=car.last_crossing,
                             data={"fuel_left_l": left, "burn_l_per_lap": burn,
                                   "laps_of_fuel": laps_of_fuel, "laps_left": laps_left})
        else:
            self._latch.clear(LOW_FUEL, car.car_number)

    def _pit_windows(self, time: dt.datetime | None) -> None:
        """At a caution's start: each car for which a stop now costs much less."""
        for car in self.tower.cars.values():
            stops = car.predictions.get("pitloss")
            if not stops or "pit_loss_caution_s" not in stops or car.in_pit:
                continue
            saving = stops["pit_loss_green_s"] - stops["pit_loss_caution_s"]
            if saving >= PIT_WINDOW_SAVING_S and self._latch.fire(PIT_WINDOW, car.car_number):
                self.log.add(PIT_WINDOW, "warning",
                             f"Car {car.car_number}: a stop under this caution costs "
                             f"{stops['pit_loss_caution_s']:.0f} s, {saving:.0f} s less "
                             "than under green.", car_number=car.car_number, lap=car.laps,
                             time=time, data={**stops, "saving_s": saving})

    def _positions(self, before: dict[str, int | None], crossed: CarState,
                   lap: dict[str, Any]) -> None:
        """A change of place of the car that crossed, once it has run a lap."""
        old, new = before.get(crossed.car_number), crossed.position
        if old is None or new is None or old == new or crossed.laps < 2:
            return
        gained = old - new
        self.log.add(POSITION_CHANGE, "info",
                     f"Car {crossed.car_number} {'gains' if gained > 0 else 'loses'} "
                     f"{abs(gained)} place{'s' if abs(gained) > 1 else ''}: P{old} to P{new}.",
                     car_number=crossed.car_number, lap=crossed.laps, time=lap["lap_end"],
                     data={"from": old, "to": new})

    # --- reads ------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The timing tower with the stream's health."""
        return {**self.tower.to_json(), "frames": self.frames_applied,
                "samples": self.samples_applied, "seq_gaps": self.seq_gaps,
                "last_seq": dict(self.last_seq), "events": len(self.log.events),
                "late_samples": self._features.n_late_samples,
                "model_skips": dict(self.model_skips)}

    def car(self, car_number: str) -> dict[str, Any] | None:
        """One car's row with its latest predictions; None for a car never seen."""
        car = self.tower.cars.get(car_number)
        if car is None:
            return None
        return {**car.to_json(), "predictions": car.predictions}


__all__ = ["LOW_FUEL_MARGIN_LAPS", "PIT_WINDOW_SAVING_S", "Ack", "Models", "RaceEngine"]
