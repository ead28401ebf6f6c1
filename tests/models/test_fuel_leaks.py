"""Leaks by behaviour: a lap's burn reads that lap, the fuel-left forecast the laps before
its cut.

The lake is cut or changed after a time past half way of each race (see
``test_laptime_leaks``): every lap that ended by then keeps its inputs and its burn, and
every car whose forecast cut came by then keeps its forecast (fuel used so far, fuel
for the laps left), while the laps after the cut move.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from cognirace.lake import Lake
from cognirace.models.fuel import FuelBurnModel, TrackMeanFuelBaseline, fuel_rows
from cognirace.models.fuel_forecast import CAR, KEYS, PREDICTION, forecast_at_cut
from models.test_laptime_leaks import LeakLake, before_cut, lake_features, leak_lake

__all__ = ["leak_lake"]  # the shared fixture, imported so pytest finds it here

INPUT_NAMES = [spec.name for spec in FuelBurnModel.inputs]


def _late_cuts(lake: Lake) -> dict[str, dt.datetime]:
    """A cut per race three quarters through its laps: past every car's half-way lap."""
    ends = lake.laps.group_by("race_id").agg(pl.col("lap_end").quantile(0.75))
    return dict(ends.iter_rows())


@pytest.fixture(scope="module")
def fitted(leak_lake: LeakLake) -> tuple[pl.DataFrame, FuelBurnModel]:
    rows = fuel_rows(lake_features(leak_lake.lake), leak_lake.truth)
    return rows, FuelBurnModel().fit(rows)


def _forecasts_by(rows: pl.DataFrame, model: FuelBurnModel, lake: Lake,
                  cuts: dict[str, dt.datetime]) -> pl.DataFrame:
    """``forecast_at_cut`` of the cars whose cut lap ended by ``cuts``."""
    forecast = forecast_at_cut(rows, model.predict(rows)[PREDICTION])
    keyed = forecast.rename({"cut_lap": "lap"})
    return before_cut(keyed, lake, cuts).rename({"lap": "cut_lap"}).sort(CAR)


def test_what_was_known_by_the_cut_gives_the_same_burns_and_forecasts(
        leak_lake: LeakLake, fitted: tuple[pl.DataFrame, FuelBurnModel]) -> None:
    rows, model = fitted
    cuts = _late_cuts(leak_lake.lake)
    live = fuel_rows(lake_features(leak_lake.lake, until=cuts), leak_lake.truth)
    early = before_cut(rows, leak_lake.lake, cuts).sort(KEYS)
    assert live.sort(KEYS).select(KEYS).equals(early.select(KEYS))
    assert live.sort(KEYS).select(INPUT_NAMES).equals(early.select(INPUT_NAMES))
    assert model.predict(live.sort(KEYS))[PREDICTION].equals(model.predict(early)[PREDICTION])
    full = _forecasts_by(rows, model, leak_lake.lake, cuts)
    assert full.height >= 10
    assert _forecasts_by(live, model, leak_lake.lake, cuts).equals(full)


def test_changing_the_laps_after_the_cut_moves_their_burn_not_the_forecast(
        leak_lake: LeakLake, fitted: tuple[pl.DataFrame, FuelBurnModel]) -> None:
    rows, model = fitted
    cuts = _late_cuts(leak_lake.lake)
    changed = fuel_rows(lake_features(leak_lake.lake, perturb_after=cuts), leak_lake.truth)
    assert changed.select(KEYS).equals(rows.select(KEYS))
    late = ~rows.select(KEYS).join(before_cut(rows, leak_lake.lake, cuts).select(
        KEYS).with_columns(pl.lit(True).alias("_early")), on=KEYS, how="left")["_early"] \
        .fill_null(False)
    burn, moved = model.predict(rows)[PREDICTION], model.predict(changed)[PREDICTION]
    assert (burn.filter(late) != moved.filter(late)).mean() > 0.9  # type: ignore[operator]
    assert burn.filter(~late).equals(moved.filter(~late))
    assert _forecasts_by(changed, model, leak_lake.lake, cuts).equals(
        _forecasts_by(rows, model, leak_lake.lake, cuts))
    baseline = TrackMeanFuelBaseline().fit(rows)
    assert baseline.predict(changed).equals(baseline.predict(rows))
