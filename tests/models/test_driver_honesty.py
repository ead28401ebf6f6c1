"""The driver embedding keeps issue 11's promises: its baseline keeps the model contract,
top-1 splits into per-query parts, identity never reaches a prediction, nothing missing
is filled silently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cognirace.errors import SchemaError
from cognirace.features.style import STYLE_FEATURES
from cognirace.models.driver import (
    TASK,
    DriverEmbeddingModel,
    StyleZScoreBaseline,
    driver_parts,
    score_driver,
)
from cognirace.models.driver_scoring import identification
from models.contract import check_model_contract
from models.test_driver import driver_frame

MODELS = (DriverEmbeddingModel, StyleZScoreBaseline)


def test_the_baseline_keeps_the_model_contract(tmp_path: Path, seed: int) -> None:
    check_model_contract(StyleZScoreBaseline, driver_frame(np.random.default_rng(seed)),
                         tmp_path)


@pytest.mark.parametrize("cls", MODELS)
@pytest.mark.parametrize("races", [("barber-R1", "sonoma-R2", "barber-R2"), ("barber-R1",)])
def test_top1_is_the_sum_of_its_parts(cls: type, races: tuple[str, ...], seed: int) -> None:
    frame = driver_frame(np.random.default_rng(seed), common_s=3.0)
    train = frame.filter(pl.col("race_id") == "sonoma-R1")
    test = frame.filter(pl.col("race_id").is_in(races))
    predictions = cls().fit(train).predict(test)
    parts = driver_parts(test, predictions)
    score = score_driver(test, predictions)
    assert parts.columns == ["race_id", "num", "den"]
    assert parts.height == score["n_queries"] > 0
    assert parts["num"].sum() / parts["den"].sum() == pytest.approx(score["top1"], abs=1e-12)
    assert 0.0 < score["top1"] < 1.0, "a score strictly between, so the identity is not trivial"
    assert set(parts["race_id"]) == set(races)
    assert TASK.parts is driver_parts


def test_parts_are_the_scorer_s_own_ranks() -> None:
    """Two drivers, two races: each lap is a hit exactly when its own driver's race
    mean in the other race lies nearest."""
    rows = pl.DataFrame({
        "race_id": ["a", "a", "a", "b", "b", "b"], "vehicle_id": ["v1", "v2", "v1"] * 2,
        "lap": [2, 2, 3, 2, 2, 3], "car_number": ["1", "2", "1"] * 2, "stint": [1] * 6,
        "driver_id": ["D1", "D2", "D1"] * 2})
    emb = pl.DataFrame({"emb_0": [0.0, 1.0, 0.9, 0.0, 1.0, 0.2]})
    # race b's gallery: D1 at 0.0, D2 at 1.0; race a's: D1 at 0.1, D2 at 1.0
    parts = driver_parts(rows, emb)
    assert parts["num"].to_list() == [1.0, 1.0, 0.0, 1.0, 1.0, 1.0]
    assert identification(rows, emb)["rank"].to_list() == [0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
    assert score_driver(rows, emb)["top1"] == pytest.approx(5 / 6)


def test_no_query_means_no_parts() -> None:
    rows = driver_frame(np.random.default_rng(0)).filter(pl.col("race_id") == "barber-R1")
    rows = rows.with_columns(driver_id=pl.col("car_number"), race_id=pl.col("car_number"))
    predictions = StyleZScoreBaseline().fit(rows).predict(rows)
    assert driver_parts(rows, predictions).is_empty()
    assert score_driver(rows, predictions)["top1"] == 0.0


@pytest.mark.parametrize("cls", MODELS)
def test_identity_never_reaches_a_prediction(cls: type, seed: int) -> None:
    """Driver labels, car numbers, vehicles and races of the query laps are changed,
    shuffled or dropped: not one embedding value moves."""
    rng = np.random.default_rng(seed)
    frame = driver_frame(rng)
    model = cls().fit(frame.filter(pl.col("race_id").str.ends_with("R1")))
    query = frame.filter(pl.col("race_id").str.ends_with("R2"))
    before = model.predict(query).drop("race_id", "vehicle_id", "lap")
    relabelled = query.with_columns(
        driver_id=pl.Series(rng.permutation(query["driver_id"].to_numpy())),
        car_number=pl.lit("99"), vehicle_id=pl.lit("GR86-999-99"), race_id=pl.lit("other"),
        stint=pl.lit(7, dtype=pl.Int32))
    assert model.predict(relabelled).drop("race_id", "vehicle_id", "lap").equals(before)
    bare = query.select("lap", "track", *STYLE_FEATURES)
    assert model.predict(bare).drop("lap").equals(before)


@pytest.mark.parametrize("cls", MODELS)
def test_a_lap_s_embedding_depends_on_that_lap_only(cls: type, seed: int) -> None:
    """At a training track, a lap read alone, or beside laps driven later, or beside
    other laps changed at will, gets the same embedding."""
    rng = np.random.default_rng(seed)
    frame = driver_frame(rng)
    model = cls().fit(frame)
    batch = model.predict(frame)
    early = frame.filter(pl.col("lap") <= 5)
    assert model.predict(early).equals(batch.filter(frame["lap"] <= 5))
    later = frame.with_columns(pl.when(pl.col("lap") > 5).then(pl.col(name) * 3.0)
                               .otherwise(pl.col(name)).alias(name) for name in STYLE_FEATURES)
    assert model.predict(later).filter(frame["lap"] <= 5).equals(batch.filter(frame["lap"] <= 5))
    picks = (0, 17, frame.height - 1)
    alone = pl.concat([model.predict(frame.slice(i, 1)) for i in picks])
    assert_frame_equal(alone, pl.concat([batch.slice(i, 1) for i in picks]),
                       check_exact=False, rel_tol=1e-12, abs_tol=1e-12)  # BLAS rounding


@pytest.mark.parametrize("cls", MODELS)
def test_a_lap_without_a_track_is_refused(cls: type, seed: int) -> None:
    frame = driver_frame(np.random.default_rng(seed))
    model = cls().fit(frame)
    with pytest.raises(SchemaError, match="track"):
        model.predict(frame.head(3).with_columns(
            track=pl.Series([None, "barber", "barber"], dtype=pl.String)))


@pytest.mark.parametrize("cls", MODELS)
def test_an_unmeasured_feature_is_named_in_fallbacks(cls: type, seed: int) -> None:
    frame = driver_frame(np.random.default_rng(seed))
    model = cls().fit(frame)
    laps = frame.head(3).with_columns(
        upshift_rpm=pl.Series([None, float("nan"), 6800.0], dtype=pl.Float64),
        brake_zone_m=pl.Series([float("nan"), 80.0, 80.0]))
    out = model.predict(laps)
    assert out["fallbacks"].to_list() == [["brake_zone_m", "upshift_rpm"], ["upshift_rpm"], []]
    assert np.isfinite(out.select(pl.selectors.starts_with("emb_")).to_numpy()).all()
    assert model.metadata().outputs[-1].name == "fallbacks"
    assert all(spec.nullable for spec in model.input_schema()[1:]), \
        "a style feature may be unmeasured; the track may not"
