"""Frame columns as NumPy arrays on the prediction hot path.

A single-row ``predict`` is mostly fixed costs, and a Polars ``fill_null`` is a small
query (about 150 µs even on one value); these helpers skip it when the column has no
null, which is the common case for a live request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

FloatArray = npt.NDArray[np.float64]


def filled(series: pl.Series, value: Any) -> npt.NDArray[Any]:
    """``series`` as an array with nulls replaced by ``value``."""
    if series.null_count():
        series = series.fill_null(value)
    return series.to_numpy()


def flags(series: pl.Series) -> FloatArray:
    """A Boolean column as 0.0/1.0, null counted as False."""
    return np.asarray(filled(series, False), dtype=np.float64)


def float_matrix(frame: pl.DataFrame, names: Sequence[str]) -> FloatArray:
    """Float columns side by side, NaN for null (NumPy's conversion does that itself)."""
    return np.column_stack([frame.get_column(n).to_numpy() for n in names]
                           ).astype(np.float64, copy=False)


__all__ = ["filled", "flags", "float_matrix"]
