"""The interval on a gain: races are resampled whole, and only a clear gain is a win."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cognirace.errors import ModelError
from cognirace.training.bootstrap import gain_interval, race_parts, race_weights
from training.toy import TOY


def _parts(errors: dict[str, list[float]]) -> pl.DataFrame:
    rows = [(race, e) for race, values in errors.items() for e in values]
    return pl.DataFrame({"race_id": [r for r, _ in rows], "num": [e for _, e in rows],
                         "den": 1.0})


def _summed(parts: pl.DataFrame) -> pl.DataFrame:
    return parts.group_by("race_id").agg(pl.col("num").sum(), pl.col("den").sum()
                                         ).sort("race_id")


def test_each_resample_draws_as_many_races_as_there_are() -> None:
    weights = race_weights(7, n_resamples=50, seed=1)
    assert weights.shape == (50, 7) and np.all(weights.sum(axis=1) == 7)
    assert len({tuple(w) for w in weights}) > 40  # resamples differ


def test_a_model_better_on_every_race_wins_with_the_interval_above_zero() -> None:
    races = [f"r{i}" for i in range(10)]
    rng = np.random.default_rng(0)
    base = {r: list(1.0 + rng.random(20)) for r in races}
    model = {r: [e - 0.3 for e in base[r]] for r in races}
    found = gain_interval(TOY, [(_summed(_parts(base)), _summed(_parts(model)))])
    assert found is not None and found.n_races == 10
    assert found.gain == pytest.approx(0.3) and found.low > 0 and found.above_zero
    assert found.low <= found.gain <= found.high


def test_a_gain_carried_by_one_race_is_not_a_win() -> None:
    """Nine races even, one race much better: the point gain is positive, yet a resample
    without that race shows no gain, so the interval reaches zero."""
    races = [f"r{i}" for i in range(10)]
    base = {r: [1.0] * 20 for r in races}
    model = {r: [1.0] * 20 for r in races} | {"r0": [0.0] * 20}
    found = gain_interval(TOY, [(_summed(_parts(base)), _summed(_parts(model)))])
    assert found is not None and found.gain > 0
    assert found.low <= 0 and not found.above_zero


def test_one_race_gives_no_interval_and_other_races_are_refused() -> None:
    one = _summed(_parts({"r0": [1.0, 2.0]}))
    assert gain_interval(TOY, [(one, one)]) is None
    other = _summed(_parts({"r1": [1.0], "r2": [1.0]}))
    two = _summed(_parts({"r0": [1.0], "r2": [1.0]}))
    with pytest.raises(ModelError, match="other races"):
        gain_interval(TOY, [(two, other)])


def test_folds_are_resampled_apart_and_averaged() -> None:
    """Leave-one-track-out shows the mean over folds: the interval is of that mean."""
    fold_a = ({"a1": [1.0] * 5, "a2": [1.2] * 5}, {"a1": [0.5] * 5, "a2": [0.7] * 5})
    fold_b = ({"b1": [2.0] * 5, "b2": [2.4] * 5}, {"b1": [2.0] * 5, "b2": [2.4] * 5})
    strata = [(_summed(_parts(b)), _summed(_parts(m))) for b, m in (fold_a, fold_b)]
    found = gain_interval(TOY, strata)
    assert found is not None
    assert found.gain == pytest.approx((0.5 + 0.0) / 2)
    assert found.low == pytest.approx(0.25) and found.high == pytest.approx(0.25)


def test_race_parts_sum_per_race_and_match_the_score() -> None:
    rows = pl.DataFrame({"race_id": ["a", "a", "b"], "track": ["x", "x", "y"],
                         "lap_time_s": [90.0, 92.0, 80.0]})
    predictions = pl.DataFrame({"lap_time_pred_s": [91.0, 91.0, 83.0]})
    parts = race_parts(TOY, rows, predictions)
    assert parts.to_dicts() == [{"race_id": "a", "num": 2.0, "den": 2.0},
                                {"race_id": "b", "num": 3.0, "den": 1.0}]
    assert parts["num"].sum() / parts["den"].sum() == pytest.approx(
        TOY.score(rows, predictions)["mae_s"])
