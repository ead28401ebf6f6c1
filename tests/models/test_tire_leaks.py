"""Leaks by behaviour: a stint's forecast depends on its laps seen, never on the laps ahead.

The lake is changed after a cut time (see ``test_laptime_leaks``): every stint whose last
seen lap ended by the cut must keep its inputs and its forecast, while its label (the
laps ahead, timed after the cut) moves. The inputs must also be buildable from the laps
delivered by the cut alone.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cognirace.domain.formats import FLAG_CAUTION
from cognirace.models.tire import (
    TASK,
    RawTrendBaseline,
    TireDegradationModel,
    TrackMeanSlopeBaseline,
    tire_rows,
)
from cognirace.models.tire_forecast import STINT_KEYS
from cognirace.models.tire_stats import FCY_FUEL_SHARE
from models.test_laptime_leaks import LeakLake, lake_features, leak_lake

__all__ = ["leak_lake"]  # the shared fixture, imported so pytest finds it here

INPUT_NAMES = [spec.name for spec in TireDegradationModel.inputs]
OUTPUT_NAMES = [spec.name for spec in TireDegradationModel.outputs]


def _seen_by_cut(rows: pl.DataFrame, leak: LeakLake) -> pl.DataFrame:
    """Rows whose last seen lap ended by its race's cut."""
    ends = leak.lake.laps.select("race_id", "car_number", pl.col("lap").alias("_last"),
                                 "lap_end")
    cut = pl.col("race_id").replace_strict(leak.cuts, return_dtype=pl.Datetime("us", "UTC"))
    return (rows.with_columns(pl.col("seen_lap").list.last().alias("_last"))
            .join(ends, on=["race_id", "car_number", "_last"])
            .filter(pl.col("lap_end") <= cut).drop("_last", "lap_end").sort(STINT_KEYS))


@pytest.fixture(scope="module")
def fitted(leak_lake: LeakLake) -> tuple[pl.DataFrame, TireDegradationModel]:
    rows = tire_rows(lake_features(leak_lake.lake))
    return rows, TireDegradationModel(calibration_repeats=1).fit(rows)


def test_changing_the_laps_ahead_moves_the_label_not_the_forecast(
        leak_lake: LeakLake, fitted: tuple[pl.DataFrame, TireDegradationModel]) -> None:
    rows, model = fitted
    early = _seen_by_cut(rows, leak_lake)
    assert early.height >= 10
    changed = _seen_by_cut(tire_rows(lake_features(leak_lake.lake,
                                                   perturb_after=leak_lake.cuts)), leak_lake)
    assert changed.select(STINT_KEYS).equals(early.select(STINT_KEYS))
    assert changed.select(INPUT_NAMES).equals(early.select(INPUT_NAMES))
    ahead_moved = (changed["ahead_lap_times_s"] != early["ahead_lap_times_s"]).sum()
    assert ahead_moved >= early.height // 2
    for predictor in (model, TrackMeanSlopeBaseline().fit(rows)):
        assert predictor.predict(changed).select(OUTPUT_NAMES).equals(
            predictor.predict(early).select(OUTPUT_NAMES))


def test_inputs_come_from_the_laps_delivered_by_the_cut(
        leak_lake: LeakLake, fitted: tuple[pl.DataFrame, TireDegradationModel]) -> None:
    rows, model = fitted
    early = _seen_by_cut(rows, leak_lake)
    live = lake_features(leak_lake.lake, until=leak_lake.cuts).sort("race_id", "car_number",
                                                                     "lap")
    laps = live.with_columns(
        pl.when(pl.col("flag") == FLAG_CAUTION).then(FCY_FUEL_SHARE).otherwise(1.0)
        .cum_sum().over("race_id", "car_number").alias("fuel_laps"))
    seen = early.select(*STINT_KEYS, "track", "horizon_age_laps",
                        pl.col("seen_lap").alias("lap")).explode("lap")
    rebuilt = (seen.join(laps.select("race_id", "car_number", "lap", "lap_time_s",
                                     "tire_age_laps", "fuel_laps", "green_lap"),
                         on=["race_id", "car_number", "lap"], how="left")
               .group_by(STINT_KEYS, maintain_order=True).agg(
                   pl.first("track"), pl.first("horizon_age_laps"),
                   pl.col("green_lap").all(),
                   pl.col("lap_time_s").alias("lap_times_s"),
                   pl.col("tire_age_laps").cast(pl.Float64).alias("tire_ages_laps"),
                   pl.col("fuel_laps"))
               .sort(STINT_KEYS))
    assert rebuilt["green_lap"].all()
    assert rebuilt.select(INPUT_NAMES).equals(early.select(INPUT_NAMES))
    assert model.predict(rebuilt).select(OUTPUT_NAMES).equals(
        model.predict(early).select(OUTPUT_NAMES))


def test_parts_add_up_to_the_primary_metric(
        fitted: tuple[pl.DataFrame, TireDegradationModel]) -> None:
    rows, model = fitted
    assert TASK.parts is not None
    for predictor in (model, TrackMeanSlopeBaseline().fit(rows), RawTrendBaseline().fit(rows)):
        predictions = predictor.predict(rows)
        parts = TASK.parts(rows, predictions)
        assert parts.columns == ["race_id", "num", "den"] and parts.height == rows.height
        assert np.allclose(parts["den"], rows["ahead_lap_times_s"].list.len())
        assert parts["num"].sum() / parts["den"].sum() == pytest.approx(
            TASK.score(rows, predictions)[TASK.primary], rel=1e-12)
