"""JSON instances to a Polars frame with the model's dtypes, and predictions back to JSON.

This is the hot path of every predict route, so it does the least work possible: the
validated instances are turned into columns in one pass and the frame is built with
the model's input dtypes given up front (no inference, no cast afterwards), and the
predictions leave as plain dicts for ``orjson``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from cognirace.api.schemas import CAR_NUMBER
from cognirace.api.store import Served

TRAFFIC_CAR_KEY = CAR_NUMBER
"""Names each car of a traffic prediction: its race number, text as the client sent it."""


def instances_frame(served: Served, rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """One frame row per instance, columns in the model's input order and dtypes.

    ``from_dicts`` with the schema given is the fastest constructor measured here (about
    4 times faster than a dict of lists for one row, and faster for 1,000 rows too).
    """
    return pl.from_dicts(rows, schema=served.frame_schema)


def snapshots_frame(served: Served, snapshots: Sequence[Any]) -> tuple[pl.DataFrame, list[int]]:
    """The traffic model's frame: every car of every snapshot, one graph per snapshot.

    Each snapshot gets its own ``race_id`` (its index), so two snapshots of the same race
    and lap sent together are still separate fields. Returns the frame and the number
    of cars of each snapshot, to split the predictions back.
    """
    rows: list[dict[str, Any]] = []
    sizes = []
    for index, snapshot in enumerate(snapshots):
        key = str(index)
        for car in snapshot.cars:
            shared = {"race_id": key, "lap": snapshot.lap}
            if "track" in served.frame_schema:
                shared["track"] = snapshot.track
            rows.append({**car.__dict__, **shared})
        sizes.append(len(snapshot.cars))
    return instances_frame(served, rows), sizes


def prediction_rows(served: Served, result: pl.DataFrame) -> list[dict[str, Any]]:
    """The output columns of ``result`` as one dict per row, in input order."""
    if result.height == 1:  # the common case, ten times cheaper than ``to_dicts``
        row = result.row(0, named=True)
        return [{name: row[name] for name in served.output_names}]
    return result.select(served.output_names).to_dicts()


def traffic_predictions(served: Served, frame: pl.DataFrame, result: pl.DataFrame,
                        sizes: Sequence[int]) -> list[dict[str, Any]]:
    """Per-snapshot ``{"cars": [...]}`` predictions, each car with its number."""
    rows = result.select(served.output_names).with_columns(
        frame.get_column(TRAFFIC_CAR_KEY)).select(TRAFFIC_CAR_KEY, *served.output_names
                                                  ).to_dicts()
    out, start = [], 0
    for size in sizes:
        out.append({"cars": rows[start:start + size]})
        start += size
    return out


def columns_frame(served: Served, columns: Mapping[str, Sequence[Any]]) -> pl.DataFrame:
    """A frame from named columns (Open Inference Protocol tensors), with the model's dtypes.

    Raises:
        TypeError, OverflowError, polars.exceptions.PolarsError: A value does not fit its
            column's dtype; the caller turns this into a 422 naming the tensor.
    """
    return pl.DataFrame({name: columns[name] for name in served.frame_schema},
                        schema=served.frame_schema, strict=True)


def columns_out(served: Served, result: pl.DataFrame) -> dict[str, list[Any]]:
    """The output columns as lists, for columnar responses."""
    return {name: result.get_column(name).to_list() for name in served.output_names}


__all__ = ["columns_frame", "columns_out", "instances_frame", "prediction_rows",
           "snapshots_frame", "traffic_predictions"]
