"""The caution hazard: labels from the leader's flag, chained hazards, the engineer's
baselines, required inputs, the ablation, and the Brier score's parts by race."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cognirace.domain.formats import FLAG_CAUTION, FLAG_FINISH, FLAG_GREEN
from cognirace.errors import SchemaError
from cognirace.models.fcy import (
    HORIZONS,
    TASK,
    ConstantHazardBaseline,
    FcyHazardModel,
    FcyHazardWithoutOffPace,
    TrackHazardBaseline,
    brier_parts,
    calibration_error,
    calibration_error_debiased,
    fcy_rows,
    horizon_labels,
    open_laps,
    reliability_table,
    score_fcy,
)
from cognirace.models.schema import FALLBACKS
from cognirace.registry.kinds import resolve_kind
from features import timing_cars
from models.conftest import SmallSeason
from models.contract import check_model_contract

OUTPUT_COLUMNS = [f"p_fcy_start_{k}" for k in HORIZONS]


def fcy_frame(rng: np.random.Generator, n_rows: int = 300) -> pl.DataFrame:
    """Race states whose per-lap caution hazard rises with the number of cars off pace
    (logistic in it, from 2% a lap with none), for every lap ahead; every race has at
    least six laps left, so every lap ahead can hold a start."""
    off_pace = np.minimum(rng.poisson(0.5, n_rows), 3).astype(np.int32)
    laps_to_start = rng.geometric(1.0 / (1.0 + np.exp(3.9 - 1.2 * off_pace)))
    close = rng.integers(0, 10, n_rows).astype(np.int32)
    return pl.DataFrame({
        "race_id": rng.choice(["r1", "r2", "r3"], n_rows),
        "lap": rng.integers(1, 25, n_rows).astype(np.int32),
        "race_time_left_s": rng.uniform(800.0, 2700.0, n_rows),
        "track": rng.choice(["barber", "vir", "sonoma"], n_rows),
        "leader_pace_s": rng.uniform(95.0, 130.0, n_rows),
        "n_close_1s": (close // 2).astype(np.int32), "p_close_2s": close / 19.0,
        "laps_since_fcy": rng.integers(1, 20, n_rows).astype(np.int32),
        "n_fcy_starts": rng.integers(0, 3, n_rows).astype(np.int32),
        "n_off_pace": off_pace,
        "laps_to_fcy_start": pl.Series(laps_to_start, dtype=pl.Int32),
    })


def _race(flags: list[str], slow: dict[int, float] | None = None) -> pl.DataFrame:
    """Two cars, one race; car A leads every lap of 100 s, car B runs 1.5 s behind."""
    t0 = datetime(2025, 5, 1, 14, 0, tzinfo=UTC)
    n, slow = len(flags), slow or {}
    rows = []
    for car, offset, pos in (("GR86-1-1", 0.0, 1), ("GR86-2-2", 1.5, 2)):
        for lap in range(1, n + 1):
            extra = slow.get(lap, 0.0) if pos == 2 else 0.0
            rows.append({
                "race_id": "r", "vehicle_id": car, "car_number": car.rsplit("-", 1)[1],
                "lap": lap, "track": "vir",
                "position": pos, "flag": flags[lap - 1],
                "prev_fcy": lap > 1 and flags[lap - 2] == FLAG_CAUTION,
                "in_pit": False, "out_lap": False,
                "lap_end": t0 + timedelta(seconds=100.0 * lap + offset + extra),
                "lap_time_s": 100.0 + extra, "pace_median3_s": 100.0 if lap > 1 else None,
                "gap_ahead_s": None if pos == 1 else offset + extra,
                "race_time_left_s": max(100.0 * (n - 1 - lap) + 50.0, 0.0),
            })
    return pl.DataFrame(rows).with_columns(pl.col("lap").cast(pl.Int32),
                                           pl.col("position").cast(pl.Int32))


def test_labels_come_from_the_leaders_flag() -> None:
    flags = [{"G": FLAG_GREEN, "F": FLAG_CAUTION}[c] for c in "GGFFGGGFGG"]
    rows = fcy_rows(_race(flags))
    # caution laps are left out, and so is the last lap (nothing follows it)
    assert rows["lap"].to_list() == [1, 2, 5, 6, 7, 9]
    assert rows["laps_to_fcy_start"].to_list() == [2, 1, 3, 2, 1, None]
    assert rows["n_fcy_starts"].to_list() == [0, 0, 1, 1, 1, 2]
    assert rows["laps_since_fcy"].to_list() == [1, 2, 1, 2, 3, 1]
    labels = horizon_labels(rows)
    assert labels[:, 0].tolist() == [0, 1, 0, 0, 1, 0]
    assert labels[:, 2].tolist() == [1, 1, 1, 1, 1, 0]


def test_the_leaders_chequered_lap_has_no_row_even_with_time_left() -> None:
    # A race cut short: the leader takes the chequered flag on lap 4 with clock to spare.
    race = _race([FLAG_GREEN] * 6).filter(pl.col("lap") <= 4).with_columns(
        flag=pl.when(pl.col("lap") == 4).then(pl.lit(FLAG_FINISH)).otherwise(pl.col("flag")))
    assert race.filter(pl.col("lap") == 4)["race_time_left_s"].to_list() == [150.0, 150.0]
    rows = fcy_rows(race)
    assert rows["lap"].to_list() == [1, 2, 3]
    assert rows["laps_to_fcy_start"].null_count() == 3


def test_field_features_read_only_laps_done_at_the_leaders_crossing() -> None:
    flags = [FLAG_GREEN] * 8
    rows = fcy_rows(_race(flags, slow={4: 6.0}))
    by_lap = {r["lap"]: r for r in rows.iter_rows(named=True)}
    # when the leader crosses, car B is still on the lap before: its last line is lap L-1
    assert by_lap[4]["n_off_pace"] == 0
    assert by_lap[5]["n_off_pace"] == 1
    assert by_lap[3]["p_close_2s"] == 1.0 and by_lap[5]["p_close_2s"] == 0.0
    assert by_lap[3]["n_cars"] == 2


def test_the_leaders_pace_is_its_green_pace_not_a_slow_restart_lap() -> None:
    flags = [{"G": FLAG_GREEN, "F": FLAG_CAUTION}[c] for c in "GGGFFGGGGG"]
    leader = pl.col("position") == 1  # a 108 s standing start, a 140 s restart lap (6)
    race = _race(flags).with_columns(
        lap_time_s=pl.when(leader & (pl.col("lap") == 6)).then(140.0)
        .when(leader & (pl.col("lap") == 1)).then(108.0).otherwise(pl.col("lap_time_s")))
    by_lap = {r["lap"]: r for r in fcy_rows(race).iter_rows(named=True)}
    assert by_lap[6]["leader_pace_s"] == 100.0  # pace_median3_s, not the 140 s lap
    assert by_lap[1]["leader_pace_s"] == 108.0  # no green lap yet: the lap itself


def test_the_field_counts_every_timing_car_logged_or_not() -> None:
    # Two of the three timing cars have no logger (vehicle_id null): all three race.
    rows = fcy_rows(timing_cars.feature_rows())
    laps_ahead = rows.filter(pl.col("lap") >= 2)
    assert laps_ahead.height > 0 and (laps_ahead["n_cars"] == 3).all()


def test_rows_do_not_change_when_later_laps_are_cut(pace_lake: SmallSeason) -> None:
    features = pace_lake.features
    race = features["race_id"].unique().sort()[0]
    one = features.filter(pl.col("race_id") == race)
    cut = one.filter(pl.col("lap_end") <= one.filter(pl.col("position") == 1, pl.col("lap") == 8)
                     ["lap_end"].item())
    inputs = [c for c in fcy_rows(one).columns if c != "laps_to_fcy_start"]
    full = fcy_rows(one).filter(pl.col("lap") < 8).select(inputs)
    part = fcy_rows(cut).filter(pl.col("lap") < 8).select(inputs)
    assert full.equals(part)


@pytest.fixture(scope="module")
def season_rows(pace_lake: SmallSeason) -> pl.DataFrame:
    return fcy_rows(pace_lake.features)


def test_probabilities_are_in_range_and_rise_with_the_horizon(season_rows: pl.DataFrame) -> None:
    for cls in (FcyHazardModel, ConstantHazardBaseline):
        p = cls().fit(season_rows).predict(season_rows).select(OUTPUT_COLUMNS).to_numpy()
        assert np.all((p >= 0.0) & (p <= 1.0))
        assert np.all(np.diff(p, axis=1) >= -1e-12)


def test_the_baselines_are_the_base_rates_of_the_open_laps(season_rows: pl.DataFrame) -> None:
    at_risk = season_rows.filter(pl.col("race_time_left_s") > pl.col("leader_pace_s"))
    assert 0 < at_risk.height < season_rows.height  # the last lap of each race is not open
    starts = at_risk["laps_to_fcy_start"] == 1
    rate = float(starts.sum()) / at_risk.height
    pooled = ConstantHazardBaseline().fit(season_rows)
    assert pooled.hazard_ == pytest.approx(rate)
    early = season_rows.filter(pl.col("race_time_left_s") > 7 * pl.col("leader_pace_s"))
    p = pooled.predict(early.head(1))
    assert p["p_fcy_start_6"].item() == pytest.approx(1.0 - (1.0 - rate) ** 6)
    by_track = TrackHazardBaseline(prior_laps=0.0).fit(season_rows)
    for track, rows in at_risk.group_by("track"):
        expected = float((rows["laps_to_fcy_start"] == 1).sum()) / rows.height
        assert by_track.track_hazard_[str(track[0])] == pytest.approx(expected)


@pytest.mark.parametrize("cls", [FcyHazardModel, TrackHazardBaseline, ConstantHazardBaseline])
def test_no_caution_starts_once_the_race_is_over(cls: type[FcyHazardModel]) -> None:
    # 250 s left at a 100 s pace: laps 1 and 2 ahead can start a caution; lap 3 is the
    # chequered lap and nothing follows it.
    frame = fcy_frame(np.random.default_rng(0))
    model = cls().fit(frame)
    last = frame.head(1).with_columns(race_time_left_s=pl.lit(250.0),
                                      leader_pace_s=pl.lit(100.0))
    assert open_laps(last).tolist() == [[1.0, 1.0, 0.0, 0.0, 0.0, 0.0]]
    p = model.predict(last).select(OUTPUT_COLUMNS).row(0)
    assert 0.0 < p[0] < p[1]
    assert all(v == pytest.approx(p[1]) for v in p[2:])


def test_no_training_row_starts_a_caution_on_a_lap_the_mask_closes(
        season_rows: pl.DataFrame) -> None:
    # The mask must never hide a start that happened (that would cost a Brier of 1).
    starts = season_rows.filter(pl.col("laps_to_fcy_start") <= HORIZONS[-1])
    k = starts["laps_to_fcy_start"].to_numpy()
    assert open_laps(starts)[np.arange(starts.height), k - 1].all()


@pytest.mark.parametrize("seed", range(3))
def test_the_model_learns_a_hazard_that_is_there(seed: int) -> None:
    rng = np.random.default_rng(seed)
    train, test = fcy_frame(rng, 1500), fcy_frame(rng, 1500)
    model, base = FcyHazardModel(l2=1.0).fit(train), ConstantHazardBaseline().fit(train)
    ours = score_fcy(test, model.predict(test))
    theirs = score_fcy(test, base.predict(test))
    assert ours["brier"] < theirs["brier"]
    assert ours["calibration_error"] <= theirs["calibration_error"] + 0.02


def test_it_matches_the_baseline_on_a_small_season(season_rows: pl.DataFrame) -> None:
    races = season_rows["race_id"].unique().sort().to_list()
    test_races = races[::4]
    train = season_rows.filter(~pl.col("race_id").is_in(test_races))
    test = season_rows.filter(pl.col("race_id").is_in(test_races))
    ours = score_fcy(test, FcyHazardModel().fit(train).predict(test))
    theirs = score_fcy(test, ConstantHazardBaseline().fit(train).predict(test))
    assert ours["brier"] <= theirs["brier"] + 0.01
    assert ours["calibration_error"] <= theirs["calibration_error"] + 0.05


def test_calibration_error_and_reliability_table() -> None:
    p = np.array([0.05, 0.05, 0.95, 0.95])
    assert calibration_error(p, np.array([0.0, 0.0, 1.0, 1.0])) == pytest.approx(0.05)
    assert calibration_error(p, np.array([1.0, 1.0, 0.0, 0.0])) == pytest.approx(0.95)
    table = reliability_table(np.array([0.0, 0.5, 1.0]), np.array([0.0, 1.0, 1.0]))
    assert table["bin"].to_list() == [0, 5, 9]
    assert table["n"].sum() == 3


def test_the_task_is_registered() -> None:
    assert TASK.name == "fcy" and TASK.primary == "brier" and not TASK.higher_is_better
    assert TASK.baseline is TrackHazardBaseline
    assert resolve_kind("fcy_hazard") is FcyHazardModel
    assert resolve_kind("fcy_hazard_track_rate") is TrackHazardBaseline
    assert resolve_kind("fcy_hazard_constant") is ConstantHazardBaseline


def test_the_debiased_calibration_error_removes_sampling_noise() -> None:
    rng = np.random.default_rng(5)
    p = rng.uniform(0.0, 0.3, 20_000)
    y = (rng.random(p.size) < p).astype(np.float64)
    assert calibration_error_debiased(p, y) < 0.005 < calibration_error(p, y[::-1] * 0 + 1)
    off = np.clip(p + 0.05, 0.0, 1.0)  # every forecast 5 points too high
    assert calibration_error_debiased(off, y) == pytest.approx(0.05, abs=0.006)


@pytest.mark.parametrize("cls", [TrackHazardBaseline, FcyHazardWithoutOffPace])
def test_the_new_classes_keep_the_contract(cls: type[FcyHazardModel], tmp_path: Path,
                                           seed: int) -> None:
    check_model_contract(cls, fcy_frame(np.random.default_rng(seed)), tmp_path)


def test_brier_parts_add_up_to_the_brier_score(season_rows: pl.DataFrame) -> None:
    races = season_rows["race_id"].unique().sort().to_list()
    train = season_rows.filter(~pl.col("race_id").is_in(races[::4]))
    test = season_rows.filter(pl.col("race_id").is_in(races[::4]))
    assert TASK.parts is brier_parts
    for cls in (TASK.baseline, TASK.model):
        predictions = cls().fit(train).predict(test)
        parts = TASK.parts(test, predictions)
        assert parts.columns == ["race_id", "num", "den"] and parts.height == test.height
        assert parts["num"].sum() / parts["den"].sum() == pytest.approx(
            TASK.score(test, predictions)["brier"], rel=1e-12)
        assert set(parts["race_id"]) == set(test["race_id"])


def test_a_missing_race_time_left_is_refused_not_read_as_zero() -> None:
    frame = fcy_frame(np.random.default_rng(1))
    blank = frame.head(3).with_columns(
        race_time_left_s=pl.Series([1500.0, None, 900.0], dtype=pl.Float64))
    for cls in (FcyHazardModel, TrackHazardBaseline, ConstantHazardBaseline):
        model = cls().fit(frame)
        with pytest.raises(SchemaError, match="race_time_left_s"):
            model.predict(blank)


def test_every_input_is_required_and_used() -> None:
    frame = fcy_frame(np.random.default_rng(2))
    model = FcyHazardModel().fit(frame)
    names = [s.name for s in model.inputs]
    assert not {"n_cars", "n_close_2s", "leader_lap_s"} & set(names)
    assert all(not s.nullable for s in model.inputs)
    base = model.predict(frame).select(OUTPUT_COLUMNS)
    for name in names:
        if name == "track":
            changed = frame.with_columns(track=pl.lit("vir"))
        elif frame.schema[name] == pl.Float64:
            changed = frame.with_columns(pl.col(name) * 1.7 + 1.0)
        else:
            changed = frame.with_columns((pl.col(name) + 2).cast(frame.schema[name]))
        moved = model.predict(changed).select(OUTPUT_COLUMNS)
        assert not moved.equals(base), f"{name} is an input the model does not read"


def test_an_unseen_track_is_answered_without_its_offset_and_named() -> None:
    frame = fcy_frame(np.random.default_rng(3))
    model = FcyHazardModel().fit(frame)
    out = model.predict(frame.head(2).with_columns(track=pl.Series(["vir", "daytona"])))
    assert out[FALLBACKS].to_list() == [[], ["track"]]
    base = TrackHazardBaseline().fit(frame)
    p = base.predict(frame.head(1).with_columns(track=pl.lit("daytona")))
    assert p[FALLBACKS].to_list() == [["track"]]
    assert p["p_fcy_start_1"].item() == pytest.approx(base.hazard_)


def test_the_ablation_leaves_out_the_off_pace_signal() -> None:
    (variant,) = TASK.ablations.values()
    assert variant is FcyHazardWithoutOffPace
    frame = fcy_frame(np.random.default_rng(4))
    model = variant().fit(frame)
    assert "n_off_pace" not in {s.name for s in model.inputs}
    p = model.predict(frame.drop("n_off_pace"))
    assert p.height == frame.height
    full = FcyHazardModel().fit(frame)
    ours = score_fcy(frame, full.predict(frame))["brier"]
    assert score_fcy(frame, p)["brier"] > ours  # the planted signal is worth something


def test_real_races_give_rows_with_every_required_input(real_lake_dir: Path) -> None:
    from cognirace.lake import open_lake
    from cognirace.training import task_examples

    rows = task_examples(open_lake(real_lake_dir), [TASK])[TASK.name]
    required = [s.name for s in FcyHazardModel.inputs if not s.nullable]
    assert rows.height > 0 and rows.select(required).null_count().sum_horizontal().item() == 0
    p = FcyHazardModel().fit(rows).predict(rows).select(OUTPUT_COLUMNS).to_numpy()
    assert np.all((p >= 0.0) & (p <= 1.0))
