"""Request instances of the predict routes, made from a task's rows.

A client holding lake rows (a pit-wall tool, the demo, the serving benchmark) sends
them as they are: a row-model's instance is one row's input columns, and the traffic
model's is the snapshot ``{"race_id", "lap", "track", "cars": [...]}`` of every car of one race
at one lap. Rows the API would refuse (a value outside its physical range, NaN) are
skipped, so every instance made here is one the service answers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import polars as pl

from cognirace.api.schemas import CAR_NUMBER, TRAFFIC, car_number_problem
from cognirace.models.schema import ColumnSpec

SNAPSHOT_KEYS = ("race_id", "lap", "track")
"""Traffic inputs given once per snapshot rather than per car (``track`` where the model
reads it)."""


def acceptable(value: Any, spec: ColumnSpec) -> bool:
    """Whether the API takes ``value`` for ``spec``: finite, and inside its range; a car
    number as text of the shape the routes take."""
    if spec.name == CAR_NUMBER:
        return car_number_problem(value) is None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return value is None and spec.dtype.startswith("Float") and spec.nullable
    if isinstance(value, list):
        return all(isinstance(v, int | float) and math.isfinite(v) for v in value)
    if isinstance(value, float | int) and not isinstance(value, bool):
        return math.isfinite(value) and (spec.low is None or value >= spec.low) \
            and (spec.high is None or value <= spec.high)
    return True


def instances(name: str, rows: pl.DataFrame, specs: Sequence[ColumnSpec]
              ) -> Iterator[tuple[dict[str, Any], pl.DataFrame]]:
    """(JSON instance, its input frame) pairs for model ``name`` from ``rows``.

    The frame is what an in-process ``model.predict`` takes for the same request, so a
    caller can compare the two answers (or their latency).
    """
    inputs = rows.select([spec.name for spec in specs])
    keys = [key for key in SNAPSHOT_KEYS if key in inputs.columns]
    groups = (inputs.partition_by(keys, maintain_order=True)
              if name == TRAFFIC else (inputs.slice(i, 1) for i in range(inputs.height)))
    for frame in groups:
        cars = frame.to_dicts()
        if not all(acceptable(car[spec.name], spec) for car in cars for spec in specs):
            continue
        if name != TRAFFIC:
            yield cars[0], frame
            continue
        snapshot = {key: cars[0][key] for key in keys}
        yield {**snapshot, "cars": [{k: v for k, v in car.items() if k not in snapshot}
                                    for car in cars]}, frame


__all__ = ["SNAPSHOT_KEYS", "acceptable", "instances"]
