"""A model's answer read as a snapshot's value, the same way on both paths.

``snapshot_at`` (a lake race at a lap) and the live engine's snapshot
(``realtime.strategy_inputs``) read the models' answers into a ``RaceSnapshot``; the
readings that must agree between them live here: the caution hazard of the laps ahead,
a car's fuel at the start, and a value that is missing or not finite (None, never a
made-up number).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from cognirace.errors import DataError

FuelStart = Mapping[str, float] | float | None
"""Fuel at the start, l: one fill for every car, one per car number, or unknown."""


def caution_hazard(answer: Mapping[str, Any]) -> tuple[float, ...]:
    """The chance a caution starts on each of the leader's next laps, from an ``fcy``
    answer.

    The model answers ``p_fcy_start_k``, the chance a caution starts within ``k`` laps,
    for k = 1..6; the hazard of lap ``k`` (given none before it) is
    ``1 - (1 - P_k) / (1 - P_{k-1})``. The six hazards go into the snapshot, and the
    snapshot's rule (the last value holds for the laps beyond) repeats the sixth lap's
    hazard for every lap after it: the model says nothing further ahead. Near the end
    the model's hazard is 0 on laps that start after the clock runs out, so the repeat
    is 0 there too.

    Raises:
        DataError: The answer has no ``p_fcy_start_1``.
    """
    cumulative = []
    k = 1
    while f"p_fcy_start_{k}" in answer:
        cumulative.append(float(answer[f"p_fcy_start_{k}"]))
        k += 1
    if not cumulative:
        raise DataError("the fcy answer has no p_fcy_start_1", column="p_fcy_start_1",
                        hint="answer with the fcy task's model (cognirace.models.fcy)")
    hazards, survive = [], 1.0
    for p in cumulative:
        after = 1.0 - min(max(p, 0.0), 1.0)
        hazards.append(0.0 if survive <= 0.0 else min(max(1.0 - after / survive, 0.0), 1.0))
        survive = after
    return tuple(hazards)


def start_fill(fuel_start_l: FuelStart, car_number: str) -> float | None:
    """The car's fuel at the start, l, or None when not known."""
    if fuel_start_l is None or isinstance(fuel_start_l, int | float):
        return None if fuel_start_l is None else float(fuel_start_l)
    value = fuel_start_l.get(car_number)
    return None if value is None else float(value)


def finite_or_none(value: float | None) -> float | None:
    """The value, or None for a missing or non-finite one (a model's NaN)."""
    return None if value is None or not math.isfinite(value) else float(value)


__all__ = ["FuelStart", "caution_hazard", "finite_or_none", "start_fill"]
