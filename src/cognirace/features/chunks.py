"""Split a frame into its groups, fast enough for a live stream's small frames.

``DataFrame.partition_by(..., as_dict=True)`` builds each group's key with a query of
its own: on a frame of a second of telemetry (500 rows, 25 cars) it costs five times the
sort and slices below, and a live race splits every frame two or three ways.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl


def split_by(frame: pl.DataFrame, keys: Sequence[str]
             ) -> list[tuple[tuple[Any, ...], pl.DataFrame]]:
    """``frame``'s groups by ``keys``, in key order, each group's rows in their order.

    Returns:
        ``(key values, rows)`` pairs; the rows keep every column, keys included.
    """
    if frame.is_empty():
        return []
    names = list(keys)
    ordered = frame.sort(names, maintain_order=True, nulls_last=True)
    ids = ordered.select(pl.struct(names).rle_id()).to_series().to_numpy()
    starts = np.flatnonzero(np.diff(ids, prepend=-1))
    ends = [*starts[1:].tolist(), ordered.height]
    values = [ordered.get_column(k).to_list() for k in names]
    return [(tuple(v[start] for v in values), ordered.slice(start, end - start))
            for start, end in zip(starts.tolist(), ends, strict=True)]


__all__ = ["split_by"]
