"""A window against its car's own earlier windows (``features.windows.with_car_history``)."""

from __future__ import annotations

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from cognirace.features.windows import (
    HISTORY_COLUMNS,
    HISTORY_LAG,
    HISTORY_MIN,
    KEYS,
    with_car_history,
)

N = 80


def _car(vehicle: str, ratio: list[float], start: int = 0) -> pl.DataFrame:
    base = {c: [0.0] * len(ratio) for c in HISTORY_COLUMNS}
    base["rear_front_brake_ratio"] = ratio
    return pl.DataFrame({"race_id": "r1", "vehicle_id": vehicle,
                         "window_id": np.arange(start, start + len(ratio), dtype=np.int64),
                         **base})


def test_a_window_is_compared_with_its_own_cars_record() -> None:
    change = 40
    a = _car("a", [1.0] * change + [1.2] * (N - change))  # bias moves at window 40
    b = _car("b", [0.9] * N)  # another car's own bias
    out = with_car_history(pl.concat([b, a]).sample(fraction=1.0, shuffle=True, seed=1))
    first = HISTORY_MIN - 1 + HISTORY_LAG  # a record needs HISTORY_MIN windows, lagged
    for car, frame in out.group_by("vehicle_id"):
        vs = frame.sort("window_id")["rear_front_brake_ratio_vs_car"].to_list()
        assert all(v is None for v in vs[:first]) and vs[first] is not None, car
    vs_b = out.filter(pl.col("vehicle_id") == "b")["rear_front_brake_ratio_vs_car"]
    assert vs_b.drop_nulls().abs().max() < 1e-12  # its 0.9 is its normal, not a fault
    vs_a = out.filter(pl.col("vehicle_id") == "a").sort("window_id")[
        "rear_front_brake_ratio_vs_car"].to_list()
    assert max(abs(v) for v in vs_a[first:change]) < 1e-12
    assert all(abs(v - 0.2) < 1e-9 for v in vs_a[change:change + 2 * HISTORY_LAG])


def test_a_windows_row_never_depends_on_later_windows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    frames = []
    for car in ("a", "b"):
        frame = _car(car, list(rng.normal(1.0, 0.1, N)))
        frames.append(frame.with_columns(
            pl.Series(c, np.where(rng.random(N) < 0.2, np.nan, rng.normal(0, 1, N)))
            for c in HISTORY_COLUMNS[:5]))
    whole = with_car_history(pl.concat(frames)).sort(KEYS)
    for k in (1, 20, 33, N - 1):  # a live stream that has seen k windows of each car
        prefix = pl.concat([f.head(k) for f in frames])
        assert_frame_equal(with_car_history(prefix).sort(KEYS),
                           whole.filter(pl.col("window_id") < k))
    changed = pl.concat([frames[0].head(50), frames[0].tail(N - 50).with_columns(
        pl.col(HISTORY_COLUMNS[0]) * 10.0)])
    again = with_car_history(changed).sort(KEYS)
    before = whole.filter((pl.col("vehicle_id") == "a") & (pl.col("window_id") < 50))
    assert_frame_equal(again.filter(pl.col("window_id") < 50), before)
    assert not again.filter(pl.col("window_id") >= 50 + HISTORY_LAG).equals(
        whole.filter((pl.col("vehicle_id") == "a") & (pl.col("window_id") >= 50 + HISTORY_LAG)))
