"""Column contracts: what a model reads and writes, with units and physical ranges.

A model declares its inputs, targets and outputs as ``ColumnSpec`` tuples. The same
specs check frames at ``fit`` and ``predict``, describe the model in its metadata and
model card, and let the HTTP API validate a request before it reaches the model (the
``low``/``high`` range is physical plausibility, not the training range).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from cognirace.errors import ModelError, SchemaError

_DTYPES: tuple[pl.DataType, ...] = (
    pl.Float64(), pl.Float32(),
    pl.Int64(), pl.Int32(), pl.Int16(), pl.Int8(),
    pl.UInt64(), pl.UInt32(), pl.UInt16(), pl.UInt8(),
    pl.Boolean(), pl.String(), pl.Categorical(), pl.Date(),
    pl.Datetime("us"), pl.Datetime("us", "UTC"), pl.Datetime("ms"), pl.Datetime("ns"),
    pl.Duration("us"), pl.Duration("ms"),
    pl.List(pl.Float64()), pl.List(pl.Float32()), pl.List(pl.String()),
)
DTYPES: dict[str, pl.DataType] = {str(dtype): dtype for dtype in _DTYPES}
"""The dtypes a column contract may name, by their Polars name (``str(dtype)``)."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TEXT_SOURCES = (pl.Categorical, pl.Enum, pl.Null)
"""Dtypes ``conform`` turns into a ``String`` column: text already, or all nulls."""


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column a model reads or writes.

    Attributes:
        name: Column name, unit as suffix (``lap_time_s``, ``fuel_l``).
        dtype: Polars dtype name, one of ``DTYPES`` (``"Float64"``, ``"String"``...).
        description: What the column means, for model cards and the API's docs.
        unit: Physical unit (``"s"``, ``"l"``, ``"km/h"``); empty when dimensionless.
        low: Lowest physically plausible value, or None when unbounded.
        high: Highest physically plausible value, or None when unbounded.
        nullable: Whether the model answers a null here (it is "unknown", and the model
            either does not need the value for that row or says which fallback it used
            in its ``fallbacks`` output). False makes the value required: a null is
            refused at ``predict`` and by the API (422), never silently filled.
    """

    name: str
    dtype: str
    description: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    nullable: bool = True

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ModelError(
                "a column name must be lower snake case",
                value=self.name, hint="rename it, e.g. 'lap_time_s'",
            )
        if self.dtype not in DTYPES:
            raise ModelError(
                f"column {self.name!r} names an unknown dtype", value=self.dtype,
                hint=f"use one of {', '.join(DTYPES)}",
            )
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ModelError(
                f"column {self.name!r} has low > high", value=(self.low, self.high),
                hint="swap the bounds",
            )

    @property
    def polars_dtype(self) -> pl.DataType:
        """The Polars dtype this column must have."""
        return DTYPES[self.dtype]

    @property
    def range(self) -> tuple[float | None, float | None]:
        """The physical range ``(low, high)``; None on a side means unbounded."""
        return (self.low, self.high)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (for metadata, model cards, the API's schema)."""
        return {
            "name": self.name, "dtype": self.dtype, "unit": self.unit,
            "description": self.description, "low": self.low, "high": self.high,
            "nullable": self.nullable,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSpec:
        """The inverse of ``to_dict``; unknown keys are refused so typos surface."""
        unknown = set(data) - {"name", "dtype", "unit", "description", "low", "high",
                               "nullable"}
        if unknown:
            raise ModelError("a column spec has unknown keys", value=sorted(unknown))
        return cls(**data)


FALLBACKS = "fallbacks"
"""Name of the output column, ``List(String)``, in which a model that answers a null
input with a fallback names each input it replaced on that row (``["track_temp_c"]``);
empty when it used every value as given. See ``fallbacks_spec``."""


def fallbacks_spec(what: str) -> ColumnSpec:
    """The ``fallbacks`` output column; ``what`` says what the model falls back to."""
    return ColumnSpec(FALLBACKS, "List(String)",
                      f"Inputs that were null on this row and were replaced: {what}; "
                      "empty when every input was used as given")


def conform(frame: pl.DataFrame, specs: Sequence[ColumnSpec], *, role: str) -> pl.DataFrame:
    """Check that ``frame`` has every column in ``specs`` and cast each to its dtype.

    Casting is strict, so an integer lap number given where ``Float64`` is declared is
    accepted (an API client sending ``90`` for ``90.0``), but text in a numeric column
    is refused. Numbers in a text column are refused too: text columns are names and
    keys, and a number cannot be turned back into the text it came from (car ``"021"``
    read as 21 would become car ``"21"``, another car). Other columns pass through
    untouched.

    Raises:
        SchemaError: A column is missing or cannot be cast; the message names it.
    """
    schema = frame.schema  # built on every access: read it once (this is the hot path)
    missing = [spec.name for spec in specs if spec.name not in schema]
    if missing:
        raise SchemaError(
            f"{role} frame lacks {len(missing)} column(s): {', '.join(missing)}",
            column=missing[0], hint=f"the {role} contract needs {[s.name for s in specs]}",
        )
    casts = []
    for spec in specs:
        if schema[spec.name] == spec.polars_dtype:
            continue
        if spec.polars_dtype == pl.String() and not isinstance(schema[spec.name],
                                                               _TEXT_SOURCES):
            raise SchemaError(
                f"{role} column must be text, not {schema[spec.name]}", column=spec.name,
                value=str(schema[spec.name]),
                hint="keep names and keys as text; car numbers are text (\"021\" and "
                     "\"21\" are two cars)")
        try:
            frame.get_column(spec.name).cast(spec.polars_dtype, strict=True)
        except (pl.exceptions.PolarsError, TypeError) as exc:
            raise SchemaError(
                f"{role} column cannot be read as {spec.dtype}", column=spec.name,
                value=str(schema[spec.name]), hint=str(exc).splitlines()[0],
            ) from exc
        casts.append(pl.col(spec.name).cast(spec.polars_dtype, strict=True))
    frame = frame.with_columns(casts) if casts else frame
    if role == "input":
        _refuse_nulls(frame, specs)
    return frame


def _refuse_nulls(frame: pl.DataFrame, specs: Sequence[ColumnSpec]) -> None:
    """A required (not nullable) input holding null or NaN is an error, not a default."""
    required = [s for s in specs if not s.nullable]
    if not required or frame.height == 0:
        return
    checks = [(pl.col(s.name).fill_nan(None) if s.polars_dtype.is_float() else pl.col(s.name))
              .null_count().alias(s.name) for s in required]
    counts = frame.select(checks).row(0, named=True)
    bad = {name: n for name, n in counts.items() if n}
    if bad:
        name = next(iter(bad))
        raise SchemaError(
            f"input column {name!r} is required but {bad[name]} of {frame.height} row(s) "
            "hold no value", column=name, value=bad[name],
            hint="the model needs this value to answer and will not guess it; send it, "
                 "or leave the rows without it out")


def count_out_of_range(frame: pl.DataFrame, specs: Sequence[ColumnSpec]) -> dict[str, int]:
    """How many values of each bounded numeric column fall outside its physical range.

    Nulls and NaNs are not counted (missing is not implausible). Columns absent from
    ``frame`` are skipped: presence is ``conform``'s job. Returns only columns with at
    least one offending value, so an empty dict means the frame is plausible.
    """
    counts: dict[str, int] = {}
    for spec in specs:
        if spec.name not in frame.columns or (spec.low is None and spec.high is None):
            continue
        if not frame.schema[spec.name].is_numeric():
            continue
        col = pl.col(spec.name)
        if frame.schema[spec.name].is_float():
            col = col.fill_nan(None)  # Polars orders NaN above every number
        low = -math.inf if spec.low is None else spec.low
        high = math.inf if spec.high is None else spec.high
        n_bad = frame.select(((col < low) | (col > high)).fill_null(False).sum()).item()
        if n_bad:
            counts[spec.name] = int(n_bad)
    return counts
