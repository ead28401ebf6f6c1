"""The timed finish and the classification.

The race clock runs out at ``end_s``; the chequered flag falls when the leader next
crosses the line, and every other car finishes at its own next crossing. "The leader"
is whoever first completes a lap: for each lap number, the first crossing of it by any
car; the flag lap is the first lap whose first crossing comes at or after ``end_s``.
Crossings are compared by lap number, not by run index, so a car a lap down counts
with its own lap count (``aligned``).

Classification: the cars that took the flag, by laps completed then by the time of
their final crossing; behind them the cars that retired (ran dry, or were out at the
snapshot), by laps completed then by their last crossing. A car's finish position under
a candidate only needs which field cars finished ahead of it: those that took the flag
and completed the car's final lap number before it did (``car_positions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Number = TypeVar("Number", np.float64, np.int64)


def lap_chart(ends_s: FloatArray, laps_down: IntArray, before: int) -> FloatArray:
    """Crossing times by lap number rather than by run index, ``[sims, 1 + before + laps
    + 1, cars]``, from crossings ``[laps, sims, cars]``.

    Column ``1 + before + m`` holds each car's crossing of the leader's lap ``lead + m +
    1`` (``lead``: the most laps completed at the snapshot): ``-inf`` if the car had
    completed that lap before the snapshot, ``inf`` if it does not complete it in the
    run's laps. The first column is ``-inf`` and the last ``inf`` throughout, so a lap
    number outside the chart reads as one of them once clipped into it.

    Args:
        ends_s: Crossing times, ``[laps, sims, cars]``.
        laps_down: ``lead`` minus each car's laps at the snapshot, ``[cars]`` (>= 0).
        before: Columns kept for laps completed before the snapshot (>= max laps down
            of any car whose lap is looked up).
    """
    n_laps, n_sims, n_cars = ends_s.shape
    out = np.full((n_sims, before + n_laps + 2, n_cars), np.inf)
    out[:, 0] = -np.inf
    for d in np.unique(laps_down):
        cars = np.flatnonzero(laps_down == d)
        d = int(d)
        # the car's laps: up to lead - d done (-inf), then its crossings from column
        # before - d + 1 on (its next crossing is lap lead - d + 1)
        first = before - d + 1
        out[:, 1:max(first, 1), cars] = -np.inf
        skip = max(1 - first, 0)  # crossings of laps too far back for the chart
        keep = min(n_laps - skip, before + n_laps + 1 - max(first, 1))
        if keep > 0:
            start = max(first, 1)
            out[:, start:start + keep, cars] = np.swapaxes(ends_s[skip:skip + keep, :, cars],
                                                           0, 1)
    return out


def first_crossings(chart: FloatArray, before: int, cars: BoolArray | None = None
                    ) -> FloatArray:
    """Each lap number's first crossing after the snapshot (by ``cars``), ``[sims, laps]``."""
    run = chart[:, 1 + before:-1]
    first: FloatArray = (run.min(axis=2) if cars is None
                         else np.min(run, axis=2, where=cars, initial=np.inf))
    return first


def flag_times(first_crossing_s: FloatArray, end_s: float, before: int) -> FloatArray:
    """When the flag falls, from each lap's first crossing ``[..., before + laps]``, s.

    inf where no lap's first crossing comes at or after ``end_s`` (every car retired).
    """
    run = first_crossing_s[..., before:]
    after = run >= end_s
    lap = np.argmax(after, axis=-1)
    flag = np.take_along_axis(run, lap[..., None], axis=-1)[..., 0]
    return np.where(after.any(axis=-1), flag, np.inf)


@dataclass(frozen=True)
class Finish:
    """Each car's finish, ``[..., cars]``.

    Attributes:
        took_flag: Crossed the line after the flag (did not retire first).
        laps: Laps completed at the finish (or at retirement).
        time_s: Final crossing (or the last crossing before retiring), s.
    """

    took_flag: BoolArray
    laps: IntArray
    time_s: FloatArray


def last_crossings(ends_s: FloatArray, race_time_s: FloatArray | float
                   ) -> tuple[IntArray, FloatArray]:
    """Crossings made and the last of them (the snapshot's if none), ``[..., cars]``."""
    n_done = np.isfinite(ends_s).sum(axis=-1)
    last = np.take_along_axis(ends_s, np.maximum(n_done - 1, 0)[..., None], axis=-1)[..., 0]
    return n_done.astype(np.int64), np.where(n_done > 0, last, race_time_s)


def finishes(ends_s: FloatArray, laps_at_snapshot: IntArray | int, flag_s: FloatArray,
             race_time_s: FloatArray | float) -> Finish:
    """Each car's finish from its crossings ``[..., cars, laps]`` and the flag, which
    broadcasts against ``[..., cars]``."""
    after = ends_s >= flag_s[..., None]
    final = np.argmax(after, axis=-1)
    final_s = np.take_along_axis(ends_s, final[..., None], axis=-1)[..., 0]
    took = after.any(axis=-1) & np.isfinite(final_s)
    n_done, last = last_crossings(ends_s, race_time_s)
    laps = laps_at_snapshot + np.where(took, final + 1, n_done)
    return Finish(took_flag=took, laps=laps.astype(np.int64),
                  time_s=np.where(took, final_s, last))


def classify(finish: Finish, favoured: int | None = None) -> IntArray:
    """Finish positions (1 = winner), ``[sims, cars]``.

    ``favoured`` wins a dead heat: the car run through a field that does not see it
    (``car_run``) crosses at the very time of a car it holds up, and that car started
    the lap behind it.
    """
    tie = np.ones(finish.laps.shape[-1], dtype=np.int64)
    if favoured is not None:
        tie[favoured] = 0
    tie = np.broadcast_to(tie, finish.laps.shape)
    order = np.lexsort((tie, finish.time_s, -finish.laps, ~finish.took_flag), axis=-1)
    position = np.empty_like(order)
    np.put_along_axis(position, order, np.arange(1, order.shape[-1] + 1)[None, :], axis=-1)
    return position.astype(np.int64)


@dataclass(frozen=True)
class FieldLaps:
    """What the car's classification needs of the field, for one or more variants of
    the field (the base run, the field without the car), ``[variants, sims, ...]``.

    Attributes:
        chart: Crossings by lap number (``lap_chart``), ``[variants, sims, columns, cars]``.
        before: ``lap_chart``'s columns before the snapshot.
        lead_laps: Most laps completed at the snapshot.
        last_s: Last crossing in the run (the snapshot's if none), ``[variants, sims, cars]``.
        laps_done: Laps completed by the end of the run, ``[variants, sims, cars]``.
        others: The field's cars (not the car asked about), ``[cars]``.
    """

    chart: FloatArray
    before: int
    lead_laps: int
    last_s: FloatArray
    laps_done: IntArray
    others: BoolArray

    def pick(self, values: npt.NDArray[Number], variant: IntArray) -> npt.NDArray[Number]:
        """``values[variant, sim]`` for each candidate and sim, ``[candidates, sims, cars]``
        (a broadcast view when there is one variant)."""
        sims = np.arange(values.shape[1])[None, :]
        picked: npt.NDArray[Number] = (values[0][None] if values.shape[0] == 1
                                       else values[variant, sims])
        return picked

    def at_lap(self, lap: IntArray, variant: IntArray) -> FloatArray:
        """Each field car's crossing of lap number ``lap`` ``[candidates, sims]`` in the
        field ``variant``, ``[candidates, sims, cars]`` (-inf: before the snapshot; inf:
        not in the run)."""
        n_variants, n_sims, width, _ = self.chart.shape
        column = np.clip(lap - self.lead_laps + self.before, 0, width - 1)
        sims = np.arange(n_sims)[None, :]
        rows: FloatArray = (self.chart[0][sims, column] if n_variants == 1
                            else self.chart[variant, sims, column])
        return rows


def car_positions(field: FieldLaps, variant: IntArray, car: Finish,
                  flag_s: FloatArray) -> IntArray:
    """The car's finish position under each candidate, ``[candidates, sims]``.

    A field car (of the field ``variant`` each candidate and sim races) finishes ahead
    of a car that took the flag when it also took it (it crossed after the flag), it
    completed the car's final lap before the car did (a dead heat goes to the car, as
    in ``classify``), and it had not finished before that lap (its previous lap came
    before the flag). Ahead of a car that retired: every car that took the flag, and
    the retired cars with more laps, or as many completed earlier.
    """
    flag = flag_s[..., None]
    last = field.pick(field.last_s, variant)
    took = (last >= flag) & field.others
    ahead = took & (field.at_lap(car.laps, variant) < car.time_s[..., None])
    ahead &= field.at_lap(car.laps - 1, variant) < flag
    out = ~took & field.others
    laps = car.laps[..., None]
    done = field.pick(field.laps_done, variant)
    out_ahead = out & ((done > laps) | ((done == laps) & (last < car.time_s[..., None])))
    position: IntArray = np.where(car.took_flag, 1 + ahead.sum(axis=-1),
                                  1 + took.sum(axis=-1) + out_ahead.sum(axis=-1))
    return position.astype(np.int64)


__all__ = ["FieldLaps", "Finish", "car_positions", "classify", "finishes", "first_crossings",
           "flag_times", "lap_chart", "last_crossings"]
