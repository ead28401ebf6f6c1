"""Durations as float seconds, computed the same way whatever the size of the frame.

Batch and live rows must agree to the last bit, so conversions avoid operations whose
result can depend on how a kernel vectorises them: a duration becomes whole
microseconds times 1e-6, and sums run in row order.
"""

from __future__ import annotations

import polars as pl


def seconds(delta: pl.Expr) -> pl.Expr:
    """A ``Duration`` expression as float seconds (microsecond resolution)."""
    return (delta.dt.total_microseconds().cast(pl.Float64) * 1e-6).round(6)


def ordered_sum(values: pl.Expr) -> pl.Expr:
    """Sum of the non-null values in row order (an aggregation); null when none is logged.

    A running sum's last value, because a plain sum may add in a different order in a
    large frame than in a small one, and floating-point addition is not associative.
    """
    return pl.when(values.count() > 0).then(values.fill_null(0.0).cum_sum().last())


def ordered_mean(values: pl.Expr) -> pl.Expr:
    """Mean of the non-null values in row order (an aggregation), see ``ordered_sum``."""
    return ordered_sum(values) / values.count()


__all__ = ["ordered_mean", "ordered_sum", "seconds"]
