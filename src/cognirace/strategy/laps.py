"""One lap of many cars in many runs: the lap time as named terms, and the queue on track.

A green lap is the car's P50 plus a split-normal draw through its P10 and P90 (σ below
and above P50 apart, so the draw's P10, P50 and P90 are the model's exactly), plus wear
(``deg_s_per_lap`` × laps of tire age beyond the next lap's, which the model's quantiles
already hold), plus the fuel-mass effect of the fuel burnt or added since the snapshot.
Under caution a car laps at its catch-up pace until it reaches the queue.

``resolve_queue`` then places the cars on track, in the order they started the lap: a
car whose lap would take it past the one ahead passes only if its pass draw succeeds,
else it crosses ``gap`` behind; under caution nobody passes and the gap is the queue's.
A car in the pit lane this lap holds nobody up. Under green it is not held either, and
crosses its own lap plus the stop's loss later; under caution it cannot gain on the
queue through the pit lane, so the loss comes on top of its slot in the queue (the loss
under caution is measured against a lap in the queue). All of it is array
arithmetic over ``[sims, cars]``: the queue's chain of "at least the car ahead plus a
gap" is a running maximum, split where a car passes (a segmented ``maximum.accumulate``),
so there is no loop over cars.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cognirace.strategy.field import Field

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

SEGMENT_OFFSET_S = 1.0e7
"""Offset that keeps a segmented running maximum inside its segment; far above any race
time (s), small enough that float64 keeps race times to about 1e-8 s."""


def green_lap_s(field: Field, z: FloatArray, age_laps: FloatArray,
                fuel_delta_l: FloatArray) -> FloatArray:
    """Green lap times, s: P50 plus the split-normal draw, plus wear and the fuel-mass
    effect (worked in place: a lap of a run is a few hundred kB a term).

    Args:
        field: The cars (their arrays broadcast on the last axis).
        z: The lap-time noise in σ units, ``[..., cars]``.
        age_laps: Tire age during the lap, ``[..., cars]`` (the next lap's is
            ``tire_age_laps + 1``, where the model's quantiles already hold the wear).
        fuel_delta_l: Fuel on board minus the snapshot's, l (negative once burnt).
    """
    lap_s = np.where(z < 0.0, field.sigma_lo_s, field.sigma_hi_s)
    lap_s *= z
    lap_s += field.p50_s
    wear = age_laps - field.tire_age_laps
    wear -= 1.0
    wear *= field.deg_s_per_lap
    lap_s += wear
    np.multiply(field.fuel_s_per_l, fuel_delta_l, out=wear)
    lap_s += wear
    return lap_s


@dataclass(frozen=True)
class Queue:
    """The cars placed on track at the end of one lap (views into a run's arrays).

    Attributes:
        ends_s: Crossing time of each car, ``[sims, cars]`` in car order (inf: retired).
        order: Car indices in road order at the start of the lap, ``[sims, cars]``.
        starts_s: Start-of-lap times in that order, ``[sims, cars]``.
        behind_s: Earliest a car joining right behind each slot may cross, ``[sims, cars]``
            (the slot's car's constraint passed on, plus the gap).
    """

    ends_s: FloatArray
    order: IntArray
    starts_s: FloatArray
    behind_s: FloatArray


def _along_rows(ufunc: np.ufunc, a: FloatArray) -> None:
    """``ufunc.accumulate(a, axis=1, out=a)``, the same numbers, column by column: on a
    few cars and many runs a loop over the cars is 2-3x faster than ``accumulate``
    along the short last axis, which runs one inner loop per run."""
    for j in range(1, a.shape[1]):
        ufunc(a[:, j - 1], a[:, j], out=a[:, j])


def resolve_queue(field: Field, start_s: FloatArray, free_end_s: FloatArray,
                  pit_s: FloatArray | None, loose: BoolArray, alive: BoolArray,
                  u_pass: FloatArray, caution: BoolArray, gap_s: FloatArray,
                  out: Queue, unheld: BoolArray | None = None) -> Queue:
    """Where each car crosses the line, given where it would cross on its own.

    Args:
        field: The cars.
        start_s: Start of the lap (last crossing), ``[sims, cars]``, s.
        free_end_s: Crossing time on its own, without a stop, s.
        pit_s: The loss of each car's stop this lap (0: no stop), or None (no stops).
        loose: Holding nobody up (in the pit lane this lap, or retired), ``[sims, cars]``.
        alive: Still running, ``[sims, cars]``.
        u_pass: Pass draws, ``[sims, cars]``.
        caution: The lap runs under caution, ``[sims]``.
        gap_s: Following gap for the lap, ``[sims]`` s.
        out: Where to write the answer (C-contiguous ``[sims, cars]`` arrays; returned).
        unheld: Cars that cross at ``free_end_s`` whatever the queue, ``[sims, cars]``
            (out of the pit lane under caution; ``loose`` as well), or None.
    """
    n_sims, n_cars = start_s.shape
    order = np.argsort(start_s, axis=1)
    out.order[...] = order
    order += (np.arange(n_sims) * n_cars)[:, None]
    flat = order.ravel()
    np.take(start_s.ravel(), flat, out=out.starts_s.ravel())
    free = np.take(free_end_s.ravel(), flat).reshape(n_sims, n_cars)
    loose_s = np.take(loose.ravel(), flat).reshape(n_sims, n_cars)
    lead = np.empty((n_sims, n_cars), dtype=bool)
    if n_cars > 1:
        pair = out.order[:, 1:] * n_cars
        pair += out.order[:, :-1]
        u = np.take(u_pass.ravel(), flat).reshape(n_sims, n_cars)[:, 1:]
        np.less(u, np.take(field.p_pass.ravel(), pair), out=lead[:, 1:])
    if caution.any():
        lead[:, 1:] &= ~caution[:, None]
        queue_lap = np.maximum(free[:, 0], out.starts_s[:, 0] + field.caution_lap_s)
        free[:, 0] = np.where(caution, queue_lap, free[:, 0])
    lead &= ~loose_s
    lead[:, 0] = True
    segment = lead.astype(np.float64)
    _along_rows(np.add, segment)  # a running count of the segments
    segment *= SEGMENT_OFFSET_S
    slots = np.arange(n_cars + 1, dtype=np.float64) * gap_s[:, None]
    offset = segment - slots[:, :-1]
    held = free + offset
    np.copyto(held, -np.inf, where=loose_s)
    _along_rows(np.maximum, held)
    # The same arithmetic the next slot's car is held with, so that a car inserted
    # there (``car_run``) is held to the very same time.
    np.subtract(held, segment - slots[:, 1:], out=out.behind_s)
    held -= offset
    np.maximum(free, held, out=held)
    if pit_s is None:
        np.copyto(held, free, where=loose_s)
    else:
        np.copyto(held, free, where=loose_s & ~caution[:, None])
        held += np.take(pit_s.ravel(), flat).reshape(n_sims, n_cars)
    if unheld is not None:
        np.copyto(held, free, where=np.take(unheld.ravel(), flat).reshape(n_sims, n_cars))
    out.ends_s.ravel()[flat] = held.ravel()
    np.copyto(out.ends_s, np.inf, where=~alive)
    return out


__all__ = ["Queue", "green_lap_s", "resolve_queue"]
