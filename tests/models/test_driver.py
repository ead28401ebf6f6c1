"""The driver-style embedding: LDA on per-track z-scores, its z-score baseline and scorer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cognirace.errors import DataError
from cognirace.features.style import STYLE_FEATURES, THROTTLE_FEATURES
from cognirace.models.driver import (
    TASK,
    DriverEmbeddingModel,
    RandomEmbeddingBaseline,
    StyleZScoreBaseline,
    driver_rows,
    field_stats,
    lda_projection,
    plot_embedding,
    score_driver,
)

TRACKS = ("barber", "sonoma")


def driver_frame(rng: np.random.Generator, n_drivers: int = 6, n_laps: int = 12,
                 common_s: float = 0.0) -> pl.DataFrame:
    """Style rows of drivers with their own habits, offset per track, over four races.

    Every feature has lap-to-lap noise; with ``common_s`` > 0 a lap also shifts every
    feature together (a gust, a slower car ahead: one factor of that standard deviation
    with random loadings), which says nothing about the driver.
    """
    style = rng.normal(0.0, 1.0, (n_drivers, len(STYLE_FEATURES)))
    track_offset = {t: rng.normal(0.0, 5.0, len(STYLE_FEATURES)) for t in TRACKS}
    loading = rng.normal(0.0, 1.0, len(STYLE_FEATURES))
    rows = []
    for t in TRACKS:
        for race in (1, 2):
            for d in range(n_drivers):
                for lap in range(2, 2 + n_laps):
                    x = (10.0 + track_offset[t] + style[d] + rng.normal(0.0, 0.8, style.shape[1])
                         + rng.normal(0.0, common_s) * loading)
                    rows.append({"race_id": f"{t}-R{race}", "track": t,
                                 "vehicle_id": f"GR86-{d:03d}", "car_number": str(d),
                                 "lap": lap, "stint": 1 + lap // 8, "driver_id": f"D{d:02d}",
                                 **dict(zip(STYLE_FEATURES, np.abs(x), strict=True))})
    return pl.DataFrame(rows).with_columns(pl.col("lap", "stint").cast(pl.Int32))


def _halves(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The R1 races to train on, the R2 races to score on."""
    return (frame.filter(pl.col("race_id").str.ends_with("R1")),
            frame.filter(pl.col("race_id").str.ends_with("R2")))


def test_the_embedding_identifies_drivers_across_tracks(seed: int) -> None:
    train, test = _halves(driver_frame(np.random.default_rng(seed)))
    model = DriverEmbeddingModel(n_dims=4).fit(train)
    scores = score_driver(test, model.predict(test))
    baseline = RandomEmbeddingBaseline(n_dims=4).fit(train)
    chance = score_driver(test, baseline.predict(test))
    assert scores["n_queries"] == test.height and scores["chance_top1"] == pytest.approx(1 / 6)
    assert scores["top1"] > 0.8 and scores["top1_stint"] > 0.8
    assert chance["top1"] < 0.45 and scores["top5"] >= scores["top1"]


@pytest.mark.parametrize("seed", range(3))
def test_the_embedding_beats_the_z_score_baseline_where_laps_vary_together(seed: int) -> None:
    """A lap-wide factor moves every feature at once: the baseline reads it as style,
    the discriminant learns from the training drivers to look past it."""
    train, test = _halves(driver_frame(np.random.default_rng(seed), common_s=3.0))
    model = score_driver(test, DriverEmbeddingModel().fit(train).predict(test))
    base = score_driver(test, StyleZScoreBaseline().fit(train).predict(test))
    assert model["top1"] > base["top1"] + 0.15, (model["top1"], base["top1"])
    assert base["top1"] > 1.5 / 6, "the baseline is a real rule, well above chance"


def test_the_baseline_is_the_per_track_z_scores_of_its_training_rows(seed: int) -> None:
    frame = driver_frame(np.random.default_rng(seed))
    train, test = _halves(frame)
    emb = StyleZScoreBaseline(clip_z=100.0).fit(train).predict(test)
    for track in TRACKS:
        field = train.filter(pl.col("track") == track).select(STYLE_FEATURES).to_numpy()
        x = test.filter(pl.col("track") == track).select(STYLE_FEATURES).to_numpy()
        mine = emb.filter(test["track"] == track).select(
            f"emb_{i}" for i in range(len(STYLE_FEATURES))).to_numpy()
        np.testing.assert_allclose(mine, (x - field.mean(axis=0)) / field.std(axis=0))
    refit = StyleZScoreBaseline(clip_z=100.0).fit(test).predict(test)
    assert not refit.equals(emb), "the statistics come from the rows it was fitted on"


def test_lda_finds_the_separating_direction(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.array(["a", "b"]), 50)
    x = rng.normal(0.0, 1.0, (100, 3))
    x[:, 1] += np.where(labels == "a", -3.0, 3.0)
    w = lda_projection(x, labels, n_dims=2, shrinkage=0.1)
    assert abs(w[1, 0]) > 5 * max(abs(w[0, 0]), abs(w[2, 0]))
    assert np.all(w[:, 1] == 0.0), "two classes give one direction; the rest is zero"


def test_a_single_race_is_scored_on_its_halves(seed: int) -> None:
    frame = driver_frame(np.random.default_rng(seed)).filter(pl.col("race_id") == "barber-R1")
    model = DriverEmbeddingModel().fit(frame)
    scores = score_driver(frame, model.predict(frame))
    assert scores["n_queries"] == frame.height and scores["top1"] > 0.8


def test_the_former_random_baseline_is_seeded_per_row(seed: int) -> None:
    frame = driver_frame(np.random.default_rng(seed))
    model = RandomEmbeddingBaseline(seed=seed).fit(frame)
    whole = model.predict(frame)
    emb = whole.select(pl.selectors.starts_with("emb_")).to_numpy()
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0)
    assert whole.tail(5).equals(model.predict(frame.tail(5)))


def test_rows_take_the_driver_from_truth_and_need_it() -> None:
    styles = driver_frame(np.random.default_rng(0)).drop("driver_id")
    cars = pl.DataFrame({"race_id": ["barber-R1"], "car_number": ["3"], "driver_id": ["D42"]})
    rows = driver_rows(styles, {"cars": cars})
    assert set(rows["driver_id"]) == {"D42"} and set(rows["race_id"]) == {"barber-R1"}
    with pytest.raises(DataError, match="truth"):
        driver_rows(styles, None)
    with pytest.raises(DataError, match="car_number"):
        driver_rows(styles, {"cars": cars.with_columns(pl.col("car_number").cast(pl.Int64))})
    assert TASK.needs_truth and TASK.source is not None and TASK.higher_is_better
    assert TASK.baseline is StyleZScoreBaseline


def test_021_and_21_take_their_own_drivers() -> None:
    styles = driver_frame(np.random.default_rng(0), n_drivers=2).drop("driver_id").with_columns(
        car_number=pl.col("car_number").replace_strict({"0": "021", "1": "21"}))
    cars = pl.DataFrame({"race_id": ["barber-R1", "barber-R1"], "car_number": ["21", "021"],
                         "driver_id": ["D-twenty-one", "D-oh-twenty-one"]})
    rows = driver_rows(styles, {"cars": cars})
    pairs = rows.select("car_number", "driver_id").unique().sort("car_number")
    assert pairs.rows() == [("021", "D-oh-twenty-one"), ("21", "D-twenty-one")]


def _emb(predictions: pl.DataFrame) -> np.ndarray:
    return predictions.select(pl.selectors.starts_with("emb_")).to_numpy()


def test_an_unseen_track_is_read_against_its_own_field(seed: int) -> None:
    frame = driver_frame(np.random.default_rng(seed))
    model = DriverEmbeddingModel(min_field_laps=50).fit(frame.filter(pl.col("track") == "barber"))
    other = frame.filter(pl.col("track") == "sonoma").with_columns(track=pl.lit("cota"))
    predictions = model.predict(other)
    scores = score_driver(other, predictions)
    assert scores["top1"] > 0.8, "a new race's laps give the new track's field"
    few = model.predict(other.head(3))
    assert np.isfinite(_emb(few)).all(), "too few laps fall back to the pooled training field"
    assert all(lst == ["track"] for lst in [*few["fallbacks"].to_list(),
                                            *predictions["fallbacks"].to_list()])
    known = model.predict(frame.filter(pl.col("track") == "barber").head(3))
    assert known["fallbacks"].to_list() == [[], [], []]


def test_throttle_features_absent_at_a_track_count_as_the_field_average(seed: int) -> None:
    """A blade-only track has no pedal-based throttle features: the embedding neither
    warns about an empty mean nor lets the missing features move a lap."""
    frame = driver_frame(np.random.default_rng(seed))
    absent = pl.col("track") == "sonoma"
    blade = frame.with_columns(pl.when(absent).then(float("nan")).otherwise(pl.col(name))
                               .alias(name) for name in THROTTLE_FEATURES)
    model = DriverEmbeddingModel(min_field_laps=50).fit(blade)
    sonoma = blade.filter(absent)
    as_null = sonoma.with_columns(pl.lit(None, dtype=pl.Float64).alias(name)
                                  for name in THROTTLE_FEATURES)
    predictions = model.predict(sonoma)
    assert predictions.equals(model.predict(as_null)), "null and NaN both mean unmeasured"
    assert set(map(tuple, predictions["fallbacks"].to_list())) == {THROTTLE_FEATURES}
    scores = score_driver(sonoma, predictions)
    assert scores["top1"] > 0.8, "braking, corners, steering and gears still tell drivers apart"
    unseen = model.predict(sonoma.with_columns(track=pl.lit("vir")))
    assert np.isfinite(_emb(unseen)).all(), "an unseen track's field without throttle features"
    assert set(map(tuple, unseen["fallbacks"].to_list())) == {(*THROTTLE_FEATURES, "track")}


def test_field_stats_fall_back_for_a_feature_nobody_measured() -> None:
    x = np.array([[1.0, np.nan], [3.0, np.nan]])
    mean, scale = field_stats(x, (np.array([0.0, 7.0]), np.array([1.0, 2.0])))
    assert mean.tolist() == [2.0, 7.0] and scale.tolist() == [1.0, 2.0]
    mean, scale = field_stats(x)
    assert mean.tolist() == [2.0, 0.0] and scale.tolist() == [1.0, 1.0]


def test_the_map_is_a_png(tmp_path: Path) -> None:
    frame = driver_frame(np.random.default_rng(1), n_drivers=3, n_laps=4)
    model = DriverEmbeddingModel().fit(frame)
    path = plot_embedding(frame, model.predict(frame), tmp_path / "maps" / "driver.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
