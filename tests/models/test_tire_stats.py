"""The tire model's per-stint statistics: the few-stint paths give the same numbers."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

from cognirace.models import tire_stats
from cognirace.models.tire_stats import _row_median, padded


@pytest.mark.parametrize("seed", range(5))
def test_row_median_is_numpys_nanmedian_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(200):
        rows, cols = rng.integers(1, 30), rng.integers(1, 25)
        values = np.round(rng.normal(0.0, 2.0, (rows, cols)), int(rng.integers(0, 4)))
        values[rng.random((rows, cols)) < rng.random()] = np.nan
        values[:, 0] = np.where(rng.random(rows) < 0.3, np.nan, values[:, 0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN row
            expected = np.nanmedian(values, axis=1)
        assert np.array_equal(_row_median(values), expected, equal_nan=True)


def test_padded_few_stints_match_the_column_path(monkeypatch: pytest.MonkeyPatch) -> None:
    lists = [[1.0, 2.5, None], None, [], [4.0], [0.5, 0.25, 0.125, 7.0]]
    column = pl.Series(lists, dtype=pl.List(pl.Float64))
    few = padded(column)
    monkeypatch.setattr(tire_stats, "_FEW_ROWS", 0)
    many = padded(column)
    assert few.shape == many.shape == (5, 4)
    assert np.array_equal(few, many, equal_nan=True)
    assert np.isnan(few[0, 2]) and np.isnan(few[1]).all() and few[4, 3] == 7.0
