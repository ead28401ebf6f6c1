"""The car asked about under every candidate at once, sharing the field's work.

The field is simulated once with the car staying out among the others (the base run,
``field_run``, every interaction in it). A candidate's laps are the base run's laps of
the car until the candidate's stop: nothing differs before it. From the stop on, the
car races the field of the base run with itself taken out (``rivals``), lap by lap, as
arrays ``[candidates, sims]``: its own lap time from the same draws as every other
candidate (its column of the shared noise), the stop (new tires reset the wear, a
splash adds mass and refuelling time, a stop under caution costs
``pit_loss_caution_s`` on top of its slot in the queue), its fuel and running dry, and
its place on track: the car it starts the lap behind (found by ranking it among the
field's start-of-lap times) holds it up unless its pass draw succeeds, exactly as a car
inside the field is held (the field keeps, per lap and road slot, the earliest a car
right behind may cross).

What this gives up: after its stop the car races a field that does not react to it:
nobody is held up behind it, a car that crosses at the very time it does (the two were
queued behind the same car) is behind it (it started the lap ahead), and a car it had
been holding up before its stop stays held up to where it would have been by the car
that stayed out. ``simulate_rest(..., exact_after_stop=True)`` instead races it against
the field simulated again without it: on a 25-car GR Cup field the
two differ by at most a few hundredths of a place (``bench/strategy.py`` measures it),
for twice the field's work. Before the stop, and for staying out, the car's race is
the base run's, exact.

Stay out is therefore the base run itself, and two identical candidates give identical
laps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cognirace.strategy.assumptions import CAUTION_BURN_RATIO
from cognirace.strategy.candidates import Candidate, stop_lap_index
from cognirace.strategy.field import Field
from cognirace.strategy.field_run import Conditions
from cognirace.strategy.laps import Queue
from cognirace.strategy.snapshot import RaceSnapshot

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Plans:
    """The candidates as arrays, ``[candidates]`` or ``[candidates, sims]``.

    Attributes:
        stop_lap: The in-lap's index per sim (``NEVER``: no stop), ``[candidates, sims]``.
        new_tires: The stop fits new tires.
        fuel_l: Fuel the stop adds, l.
        loss_green_s, loss_caution_s: The stop's loss under green and caution, s.
    """

    stop_lap: IntArray
    new_tires: BoolArray
    fuel_l: FloatArray
    loss_green_s: FloatArray
    loss_caution_s: FloatArray


def plans_for(candidates: tuple[Candidate, ...], snap: RaceSnapshot, car_laps: int,
              under: BoolArray) -> Plans:
    """The candidates' stops, per sim where they depend on the cautions."""
    losses = [c.losses_s(snap) for c in candidates]
    return Plans(
        stop_lap=np.stack([stop_lap_index(c, car_laps, under) for c in candidates])
        if candidates else np.zeros((0, under.shape[0]), dtype=np.int64),
        new_tires=np.array([c.service != "drive_through" for c in candidates], dtype=bool),
        fuel_l=np.array([c.fuel_l for c in candidates], dtype=np.float64),
        loss_green_s=np.array([g for g, _ in losses], dtype=np.float64),
        loss_caution_s=np.array([c for _, c in losses], dtype=np.float64),
    )


@dataclass(frozen=True)
class CarRun:
    """The car's laps under each plan.

    Attributes:
        ends_s: Crossing times, ``[plans, sims, laps]``, s (inf once retired).
        dry: Ran out of fuel, ``[plans, sims]``.
        stopped_at: Index of the lap the stop was made on, ``NEVER`` if none,
            ``[plans, sims]``.
    """

    ends_s: FloatArray
    dry: BoolArray
    stopped_at: IntArray


def _held_by(field: Field, car: int, queue: Queue, start_s: FloatArray
             ) -> tuple[BoolArray, FloatArray, FloatArray]:
    """Whether a car is ahead on the road, the earliest it lets the car cross, and the
    chance the car passes it: each ``[plans, sims]``."""
    starts = queue.starts_s
    if starts.shape[1] == 0:
        nobody = np.zeros(start_s.shape, dtype=bool)
        return nobody, np.full(start_s.shape, -np.inf), np.ones(start_s.shape)
    before = (starts[None, :, :] < start_s[:, :, None]).astype(np.float32)
    rank = (before @ np.ones(starts.shape[1], dtype=np.float32)).astype(np.int64)
    ahead = rank > 0
    slot = np.maximum(rank - 1, 0)
    sims = np.arange(starts.shape[0])[None, :]
    earliest = queue.behind_s[sims, slot]
    defender = queue.order[sims, slot]
    p = field.p_pass[car][defender]
    return ahead, earliest, p


def rivals(queue: Queue, car: int) -> Queue:
    """A lap of the base run as a car that has left it meets it: the road order, start
    times and queue constraints with the car's own slot taken out, ``[sims, cars - 1]``."""
    keep = queue.order != car
    n_sims, n_cars = keep.shape
    shape = (n_sims, n_cars - 1)
    return Queue(ends_s=queue.ends_s, order=queue.order[keep].reshape(shape),
                 starts_s=queue.starts_s[keep].reshape(shape),
                 behind_s=queue.behind_s[keep].reshape(shape))


@dataclass
class _CarState:
    """The car under each plan at the start of a lap, ``[plans, sims]``."""

    start_s: FloatArray
    alive: BoolArray
    age: FloatArray
    fuel_l: FloatArray
    delta_l: FloatArray
    dry: BoolArray

    def widen(self, rows: slice, like: int) -> None:
        """Rows that now depart from row ``like`` start from its state."""
        for a in (self.start_s, self.alive, self.age, self.fuel_l, self.delta_l, self.dry):
            a[rows] = a[like]


def _first_stops(plans: Plans, n_laps: int) -> IntArray:
    """Each plan's earliest in-lap over all sims (``n_laps``: never)."""
    stops = np.where(plans.stop_lap >= 0, plans.stop_lap, n_laps)
    first: IntArray = np.minimum(stops.min(axis=1, initial=n_laps), n_laps).astype(np.int64)
    return first


class CarSim:
    """The car under every plan, one lap at a time beside the field (``step``).

    Plans run in the order of their earliest stop; until a plan's first stop its laps
    are the base run's, so only the plans that have departed in some sim, and one that
    has not (for its fuel and tires), are computed on each lap.

    Args:
        field: The cars.
        car: The car's index.
        cond: Clock, cautions, pit losses.
        burn_factor: Each car's true burn over the model's, ``[sims, cars]``.
        plans: The candidates as arrays.
        max_laps: Most laps it may run.
    """

    def __init__(self, field: Field, car: int, cond: Conditions, burn_factor: FloatArray,
                 plans: Plans, max_laps: int) -> None:
        n_plans, n_sims = plans.stop_lap.shape
        self.field, self.car, self.cond, self.plans = field, car, cond, plans
        first = _first_stops(plans, max_laps)
        self.perm = np.argsort(first, kind="stable")
        self.first, self.stop_lap = first[self.perm], plans.stop_lap[self.perm]
        self.new_tires = plans.new_tires[self.perm][:, None]
        self.fuel_add = plans.fuel_l[self.perm][:, None]
        self.loss_g = plans.loss_green_s[self.perm][:, None]
        self.loss_c = plans.loss_caution_s[self.perm][:, None]
        shape = (n_plans, n_sims)
        self.st = _CarState(start_s=np.full(shape, field.race_time_s[car]),
                            alive=np.ones(shape, dtype=bool),
                            age=np.full(shape, field.tire_age_laps[car] + 1.0),
                            fuel_l=np.full(shape, field.fuel_l[car]), delta_l=np.zeros(shape),
                            dry=np.zeros(shape, dtype=bool))
        self.ends = np.empty((max_laps, n_plans, n_sims))
        self.burn_rate = field.burn_l[car] * burn_factor[:, car]
        self.rows = 1
        self.laps = 0

    def step(self, lap: int, z: FloatArray, u_lap: FloatArray, base: Queue,
             raced: Queue | None) -> None:
        """Lap ``lap``: the base run's queue of the lap, and the queue a car that has
        stopped races (``rivals`` of it, or the field without the car)."""
        field, car, st = self.field, self.car, self.st
        n_plans, n_sims = self.stop_lap.shape
        departed_rows = int(np.searchsorted(self.first, lap, side="right"))
        widened = min(departed_rows + 1, n_plans)
        if widened > self.rows:
            st.widen(slice(self.rows, widened), self.rows - 1)
            self.rows = widened
        k = slice(0, self.rows)
        caution = self.cond.under[lap]
        burn = self.burn_rate * np.where(caution, CAUTION_BURN_RATIO, 1.0)
        stopping = st.alive[k] & (self.stop_lap[k] == lap)
        dry = st.alive[k] & (st.fuel_l[k] < burn)
        alive = st.alive[k] & ~dry
        end = np.broadcast_to(base.ends_s[:, car], (self.rows, n_sims)).copy()
        if departed_rows and raced is not None:
            d = slice(0, departed_rows)
            departed = (self.stop_lap[d] >= 0) & (self.stop_lap[d] <= lap)
            zc = z[:, car]
            drawn = field.p50_s[car] + zc * np.where(zc < 0.0, field.sigma_lo_s[car],
                                                     field.sigma_hi_s[car])
            green = (drawn + field.deg_s_per_lap[car]
                     * (st.age[d] - field.tire_age_laps[car] - 1.0)
                     + field.fuel_s_per_l[car] * st.delta_l[d])
            # the lap out of a stop made under caution runs in the pit lane at the
            # queue's pace: it closes up on the queue only from the next lap
            pit_lane = caution & (self.stop_lap[d] == lap - 1)
            lap_s = np.where(caution, np.where(pit_lane, field.caution_lap_s,
                                               field.catch_lap_s[car]), green)
            loss = np.where(stopping[d], np.where(caution, self.loss_c[d], self.loss_g[d]),
                            0.0)
            crossed = _raced(field, car, raced, u_lap[:, car], caution, st.start_s[d],
                             st.start_s[d] + lap_s, loss, stopping[d])
            crossed = np.where(pit_lane, st.start_s[d] + lap_s, crossed)
            end[d] = np.where(departed, crossed, end[d])
        end = np.where(alive, end, np.inf)
        self.ends[lap, k] = end
        self.ends[lap, self.rows:] = end[-1]
        added = np.where(stopping, self.fuel_add[k], 0.0)
        st.fuel_l[k] = st.fuel_l[k] - burn + added
        st.delta_l[k] = st.delta_l[k] - burn + added
        st.age[k] = np.where(stopping & self.new_tires[k], 1.0, st.age[k] + 1.0)
        st.dry[k] |= dry
        st.alive[k] = alive
        st.start_s[k] = end
        self.laps = lap + 1

    def result(self) -> CarRun:
        """The plans' laps so far, in the plans' order."""
        n_plans = self.stop_lap.shape[0]
        dry = self.st.dry.copy()
        dry[self.rows:] = dry[self.rows - 1]
        back = np.argsort(self.perm)
        ends = np.moveaxis(self.ends[:self.laps], 0, 2)[back]
        stopped = np.where(self.plans.stop_lap < self.laps, self.plans.stop_lap, -1)
        assert ends.shape[0] == n_plans
        return CarRun(ends_s=ends, dry=dry[back], stopped_at=stopped)


def _raced(field: Field, car: int, raced: Queue, u_pass: FloatArray, caution: BoolArray,
           start_s: FloatArray, free_s: FloatArray, pit_s: FloatArray,
           stopping: BoolArray) -> FloatArray:
    """Where the car crosses racing the field of ``raced``, ``[plans, sims]``, s: held as
    ``laps.resolve_queue`` holds a car (a stopping car under green is not; under caution
    its loss comes on top of its slot in the queue)."""
    ahead, earliest, p = _held_by(field, car, raced, start_s)
    free = np.where(caution & ~ahead, np.maximum(free_s, start_s + field.caution_lap_s),
                    free_s)
    passes = (u_pass < p) & ~caution
    held = ahead & ~passes & (~stopping | caution)
    return np.where(held, np.maximum(free, earliest), free) + pit_s


__all__ = ["CarRun", "CarSim", "Plans", "plans_for", "rivals"]
