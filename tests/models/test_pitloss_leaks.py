"""The pit-loss model reads nothing measured during or after the stop it predicts.

Checked by behaviour, not by column names: a season is simulated and ingested, then
the stop's own pit-lane time, its in-lap and out-lap, every later lap of the race and
the simulator's record of the stop's standing time are rewritten, the rows rebuilt
through the whole feature pipeline, and the prediction for the stop must not move.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cognirace.lake import open_lake
from cognirace.models.base import Model
from cognirace.models.pitloss import (
    TASK,
    PitLossModel,
    TrackKindMedianBaseline,
    TransitPitLossBaseline,
    pit_stop_rows,
)
from cognirace.training import task_examples
from models.test_fcy_leaks import TimingSeason, timing_season

KEYS = ["race_id", "car_number", "lap"]


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> TimingSeason:
    return timing_season(tmp_path_factory.mktemp("pit_leaks"),
                         tracks=["cota", "indianapolis", "sonoma", "vir"], seed=11)


@pytest.fixture(scope="module")
def stops(season: TimingSeason) -> pl.DataFrame:
    rows = pit_stop_rows(season.features(), season.truth)
    assert rows.height >= 6 and rows["tire_change"].n_unique() == 2, \
        "the seed must give drive-throughs and tire changes"
    return rows


@pytest.fixture(scope="module")
def fitted(stops: pl.DataFrame) -> list[Model]:
    return [cls().fit(stops) for cls in
            (PitLossModel, TrackKindMedianBaseline, TransitPitLossBaseline)]


def _stop(laps: pl.DataFrame, stop: dict[str, object]) -> pl.Expr:
    """The rows of ``laps`` of the stop's car from its in-lap on (the in-lap, the out-lap
    and every later lap)."""
    return ((pl.col("race_id") == stop["race_id"]) & (pl.col("car_number") == stop["car_number"])
            & (pl.col("lap") >= stop["lap"]))


def _rewritten(laps: pl.DataFrame, stop: dict[str, object], factor: float) -> pl.DataFrame:
    """The stop's pit-lane time, its in- and out-lap and the car's later laps scaled."""
    after = _stop(laps, stop)
    return laps.with_columns(
        pit_time_s=pl.when(after).then(pl.col("pit_time_s") * factor)
        .otherwise(pl.col("pit_time_s")),
        lap_time_s=pl.when(after).then(pl.col("lap_time_s") * (1.0 + 0.2 * factor))
        .otherwise(pl.col("lap_time_s")))


def _truth_rewritten(truth: dict[str, pl.DataFrame], factor: float) -> dict[str, pl.DataFrame]:
    """The simulator's record of every stop's standing and pit-lane times scaled."""
    stops = truth["pit_stops"].with_columns(pl.col("stationary_s", "pit_time_s") * factor)
    return {**truth, "pit_stops": stops}


def _prediction(model: Model, rows: pl.DataFrame, stop: dict[str, object]) -> pl.DataFrame:
    one = rows.filter((pl.col("race_id") == stop["race_id"])
                      & (pl.col("car_number") == stop["car_number"])
                      & (pl.col("lap") == stop["lap"]))
    assert one.height == 1
    return model.predict(one)


@pytest.mark.parametrize("factor", [0.3, 3.0])
def test_a_stop_is_predicted_without_its_own_times(
        season: TimingSeason, stops: pl.DataFrame, fitted: list[Model], factor: float) -> None:
    laps = season.lake.laps
    truth = _truth_rewritten(season.truth, factor)
    for stop in stops.iter_rows(named=True):
        features = season.features(_rewritten(laps, stop, factor))
        rows = pit_stop_rows(features, truth)
        for model in fitted:
            assert_frame_equal(_prediction(model, rows, stop), _prediction(model, stops, stop))


def test_the_rewrite_moves_the_label_and_the_old_pit_time_kind(
        season: TimingSeason, stops: pl.DataFrame) -> None:
    # Guard against a vacuous check: the rewrite changes what the model must not read.
    # The label moves, and so does the feature table's own ``tire_change`` (derived from
    # the pit time), the input the model used to read.
    laps = season.lake.laps
    flipped = 0
    for stop in stops.iter_rows(named=True):
        features = season.features(_rewritten(laps, stop, 0.3 if stop["tire_change"] else 3.0))
        rows = pit_stop_rows(features, season.truth)
        one = rows.filter(pl.col("race_id") == stop["race_id"],
                          pl.col("car_number") == stop["car_number"],
                          pl.col("lap") == stop["lap"])
        assert one["pit_loss_s"].item() != pytest.approx(stop["pit_loss_s"])
        old = features.filter(pl.col("race_id") == stop["race_id"],
                              pl.col("car_number") == stop["car_number"],
                              pl.col("lap") == stop["lap"])["tire_change"].item()
        flipped += old != stop["tire_change"]
    assert flipped >= stops.height // 2


def test_the_kind_is_the_planned_service_whatever_the_pit_time(
        season: TimingSeason, stops: pl.DataFrame) -> None:
    kinds = season.truth["pit_stops"].select(
        "race_id", "car_number", pl.col("lap").cast(pl.Int32), "new_tyres", "reason")
    joined = stops.join(kinds, on=KEYS, how="left")
    assert joined["tire_change"].to_list() == joined["new_tyres"].to_list()
    assert joined["repair"].to_list() == (joined["reason"] == "damage").to_list()
    assert joined["repair"].any() and (joined["tire_change"] & ~joined["repair"]).any(), \
        "the season must hold repairs and plain tire changes"
    unknown = TASK.rows(season.features(), None)
    assert unknown["tire_change"].null_count() == unknown["repair"].null_count() == stops.height
    rng = np.random.default_rng(0)
    shuffled = season.truth["pit_stops"].with_columns(
        pit_time_s=pl.Series(rng.permutation(season.truth["pit_stops"]["pit_time_s"])))
    again = pit_stop_rows(season.features(), {**season.truth, "pit_stops": shuffled})
    assert again.select("tire_change", "repair").rows() == \
        stops.select("tire_change", "repair").rows()


def test_training_reads_the_kind_where_the_lake_has_truth(season: TimingSeason) -> None:
    rows = task_examples(season.lake, [TASK])[TASK.name]
    assert rows.height > 0 and rows["tire_change"].null_count() == 0
    assert rows["repair"].null_count() == 0


def test_real_races_give_stops_of_unknown_kind_not_an_error(real_lake_dir: Path) -> None:
    # Real timing records no service: the rows say so, and the model says it answered
    # without the kind, rather than reading one from the pit time.
    rows = task_examples(open_lake(real_lake_dir), [TASK])[TASK.name]
    assert rows.height > 0 and rows["tire_change"].null_count() == rows.height
    predictions = PitLossModel().fit(rows).predict(rows)
    assert predictions["fallbacks"].to_list() == [["tire_change"]] * rows.height
