"""The rest of the race for the field: every car but the one asked about, lap by lap.

The loop runs over laps only; each step is array arithmetic over ``[sims, cars]``. Lap
``i`` of every car is its ``i``-th lap after the snapshot: the cars' last crossings
all lie within one lap of each other, so their ``i``-th laps run at about the same time,
and a caution on the leader's lap ``i`` is taken to cover every car's lap ``i``.

The other cars follow their expected behaviour, which is to stay out unless forced:

- a car with fuel data stops for a splash (and tires) when it has less than
  ``FIELD_FUEL_RESERVE_LAPS`` green laps of fuel left while the clock runs, taking
  enough for the laps its clock leaves plus ``FIELD_FUEL_MARGIN_LAPS``;
- when a caution starts, each car stops with ``FIELD_CAUTION_STOP_P`` (the real
  races' rate, ``strategy.caution_record``) and leaves on new tires;
- a car that runs out of fuel retires on that lap (it does not cross the line again).

The car asked about stays out among the others here (``stay_out``: it is never forced
to stop; this is the base run, with every interaction), and ``car_run`` runs each
candidate against this field, sharing its work; with ``exclude`` the car is left out
(the field an ``exact_after_stop`` run races a car that has stopped against).

The field steps one lap at a time (``FieldSim.step``) so that the car's candidates can
step with it, lap by lap, reading the lap's queue while it is at hand and nothing of it
kept after.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cognirace.strategy.assumptions import (
    CAUTION_BURN_RATIO,
    CAUTION_GAP_S,
    FIELD_CAUTION_STOP_P,
    FIELD_FUEL_MARGIN_LAPS,
    FIELD_FUEL_RESERVE_LAPS,
    FOLLOW_GAP_S,
    REFUEL_L_PER_S,
)
from cognirace.strategy.field import Field
from cognirace.strategy.laps import Queue, green_lap_s, resolve_queue

EXTRA_LAPS = 1
"""Laps run after every car has taken the flag: a car under another plan (``car_run``)
may cross a little earlier than it did here."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Conditions:
    """The race around the cars: the clock, the caution schedule, the pit losses.

    Attributes:
        end_s: When the race clock runs out, s since the green flag.
        under: Lap ``i`` runs under caution, ``[laps, sims]``.
        starts: A caution starts on lap ``i``, ``[laps, sims]``.
        pit_loss_green_s: A tire stop under green, s.
        pit_loss_caution_s: A tire stop under caution, s.
    """

    end_s: float
    under: BoolArray
    starts: BoolArray
    pit_loss_green_s: float
    pit_loss_caution_s: float

    def gap_s(self, lap: int) -> FloatArray:
        """The following gap on lap ``lap`` of each sim, s."""
        return np.where(self.under[lap], CAUTION_GAP_S, FOLLOW_GAP_S)


@dataclass(frozen=True)
class FieldRun:
    """The field's laps.

    Attributes:
        ends_s: Crossing times, ``[laps, sims, cars]``, s (inf: retired or left out).
        dry: Ran out of fuel, ``[sims, cars]``.
        stops: Stops made, ``[sims, cars]``.
    """

    ends_s: FloatArray
    dry: BoolArray
    stops: IntArray


@dataclass
class _State:
    start_s: FloatArray
    alive: BoolArray
    age: FloatArray
    delta_l: FloatArray
    dry: BoolArray
    stops: IntArray
    pitted: BoolArray
    """Stopped on the lap before: this lap is its out-lap."""

    def fuel_l(self, field: Field) -> FloatArray:
        """Fuel on board, l (NaN where unknown)."""
        return field.fuel_l + self.delta_l


def _initial(field: Field, n_sims: int, exclude: int | None) -> _State:
    """Every car as the snapshot has it (``exclude`` out of the race)."""
    alive = np.broadcast_to(field.running, (n_sims, field.n_cars)).copy()
    if exclude is not None:
        alive[:, exclude] = False
    shape = alive.shape
    return _State(
        start_s=np.where(alive, field.race_time_s, np.inf),
        alive=alive,
        age=np.broadcast_to(field.tire_age_laps + 1.0, shape).copy(),
        delta_l=np.zeros(shape),
        dry=np.zeros(shape, dtype=bool),
        stops=np.zeros(shape, dtype=np.int64),
        pitted=np.zeros(shape, dtype=bool),
    )


def _stops(field: Field, cond: Conditions, u_lap: FloatArray, state: _State, lap: int,
           fuel_l: FloatArray, burn_l: FloatArray, may_stop: BoolArray
           ) -> tuple[BoolArray | None, FloatArray | None, FloatArray]:
    """This lap's forced stops: ``(stopping or None, splash_l or None, loss_s)``.

    The uniform that decides a stop at a caution's start is the lap's pass draw: no
    car passes under caution, so that draw is otherwise unused on such a lap.
    """
    clock_on = state.alive & (state.start_s < cond.end_s) & may_stop
    short = clock_on & (fuel_l < FIELD_FUEL_RESERVE_LAPS * field.burn_l)
    stopping: BoolArray | None = short if short.any() else None
    splash: FloatArray | None = None
    if stopping is not None:
        laps_left = np.ceil(np.maximum(cond.end_s - state.start_s, 0.0) / field.p50_s)
        need = field.burn_l * (laps_left + FIELD_FUEL_MARGIN_LAPS) - (fuel_l - burn_l)
        splash = np.where(short, np.maximum(need, 0.0), 0.0)
    if cond.starts[lap].any():
        tires = (clock_on & cond.starts[lap][:, None]
                 & (u_lap < FIELD_CAUTION_STOP_P))
        stopping = tires if stopping is None else stopping | tires
    loss = np.where(cond.under[lap], cond.pit_loss_caution_s, cond.pit_loss_green_s)[:, None]
    return stopping, splash, loss if splash is None else loss + splash / REFUEL_L_PER_S


class _FlagWatch:
    """Tells, lap by lap, when every running car has taken the flag.

    The flag is read from the cars on the lead lap only (the first of them to cross
    after the clock runs out): a car a lap down unlapping itself to lead is not seen, in
    which case the run ends early and ``simulate_rest`` notices and runs every lap.
    """

    def __init__(self, field: Field, n_sims: int, end_s: float) -> None:
        lead = field.running & (field.laps == field.laps[field.running].max())
        self.lead = np.flatnonzero(lead).tolist()
        self.flag = np.full(n_sims, np.inf)
        self.end_s = end_s

    def done(self, ends_s: FloatArray, alive: BoolArray) -> bool:
        """After a lap with crossings ``ends_s`` ``[sims, cars]`` (inf where retired)."""
        first = np.full(ends_s.shape[0], np.inf)
        for car in self.lead:  # column by column: faster than a masked min along cars
            np.minimum(first, ends_s[:, car], out=first)
        self.flag = np.where(np.isinf(self.flag) & (first >= self.end_s), first, self.flag)
        waiting = np.isinf(self.flag)
        if waiting.any() and alive[waiting].any():  # a running car short of a flag to come
            return False
        return bool(np.all(~alive | (ends_s >= self.flag[:, None])))


class FieldSim:
    """The field, one lap at a time (``step``), stay-out-unless-forced.

    Args:
        field: The cars.
        cond: Clock, cautions, pit losses.
        burn_factor: Each car's true burn over the model's (``RaceDraws.burn_factor``),
            ``[sims, cars]``.
        max_laps: Most laps it may run.
        exclude: A car left out of the race.
        stay_out: A car that never stops.
    """

    def __init__(self, field: Field, cond: Conditions, burn_factor: FloatArray,
                 max_laps: int, *, exclude: int | None = None,
                 stay_out: int | None = None) -> None:
        n_sims = burn_factor.shape[0]
        self.field, self.cond = field, cond
        self.burn_rate = field.burn_l * burn_factor
        self.state = _initial(field, n_sims, exclude)
        self.may_stop = np.ones(field.n_cars, dtype=bool)
        if stay_out is not None:
            self.may_stop[stay_out] = False
        self.ends = np.empty((max_laps, n_sims, field.n_cars))
        self.laps = 0
        self.watch = _FlagWatch(field, n_sims, cond.end_s)
        self.flagged = False

    def step(self, lap: int, z: FloatArray, u_lap: FloatArray) -> Queue:
        """Run lap ``lap`` with its draws (``RaceDraws.lap``); the queue it left."""
        field, cond, state = self.field, self.cond, self.state
        caution = cond.under[lap]
        burn = self.burn_rate * np.where(caution, CAUTION_BURN_RATIO, 1.0)[:, None]
        # the lap out of a stop made under caution runs in the pit lane at the queue's
        # pace, neither held nor holding anyone up: it closes up from the next lap
        pit_lane = state.pitted & caution[:, None]
        lap_s = green_lap_s(field, z, state.age, state.delta_l)
        if caution.any():
            np.copyto(lap_s, np.where(pit_lane, field.caution_lap_s, field.catch_lap_s),
                      where=caution[:, None])
        fuel = state.fuel_l(field)
        stopping, splash, loss = _stops(field, cond, u_lap, state, lap, fuel, burn,
                                        self.may_stop)
        dry = state.alive & (fuel < burn)
        alive = state.alive & ~dry
        free = state.start_s + lap_s
        pit = None if stopping is None else np.where(stopping, loss, 0.0)
        loose = (~alive if stopping is None else stopping | ~alive) | pit_lane
        shape = free.shape
        queue = resolve_queue(field, state.start_s, free, pit, loose, alive, u_lap, caution,
                              cond.gap_s(lap), Queue(self.ends[lap], np.empty(shape, np.int64),
                                                     np.empty(shape), np.empty(shape)),
                              unheld=pit_lane if pit_lane.any() else None)
        state.delta_l = state.delta_l - burn if splash is None else state.delta_l - burn + splash
        if stopping is not None:
            state.age = np.where(stopping, 1.0, state.age + 1.0)
            state.stops = state.stops + (stopping & alive)
            state.pitted = stopping & alive
        else:
            state.age = state.age + 1.0
            state.pitted[...] = False
        state.dry |= dry
        state.alive = alive
        state.start_s = queue.ends_s
        self.laps = lap + 1
        if not self.flagged:
            self.flagged = self.watch.done(queue.ends_s, alive)
        return queue

    def result(self) -> FieldRun:
        """The laps run so far."""
        return FieldRun(ends_s=self.ends[:self.laps], dry=self.state.dry,
                        stops=self.state.stops)


__all__ = ["EXTRA_LAPS", "Conditions", "FieldRun", "FieldSim"]
