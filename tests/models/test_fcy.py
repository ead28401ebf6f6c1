"""The caution hazard: labels from the leader's flag, chained hazards, against the base rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from cognirace.domain.formats import FLAG_CAUTION, FLAG_FINISH, FLAG_GREEN
from cognirace.models.fcy import (
    HORIZONS,
    TASK,
    ConstantHazardBaseline,
    FcyHazardModel,
    calibration_error,
    calibration_error_debiased,
    fcy_rows,
    horizon_labels,
    reliability_table,
    score_fcy,
)
from cognirace.registry.kinds import resolve_kind
from features import timing_cars
from models.conftest import SmallSeason

OUTPUT_COLUMNS = [f"p_fcy_start_{k}" for k in HORIZONS]


def fcy_frame(rng: np.random.Generator, n_rows: int = 300) -> pl.DataFrame:
    """Race states whose per-lap caution hazard rises with the number of cars off pace
    (logistic in it, from 2% a lap with none), for every lap ahead."""
    off_pace = np.minimum(rng.poisson(0.5, n_rows), 3).astype(np.int32)
    laps_to_start = rng.geometric(1.0 / (1.0 + np.exp(3.9 - 1.2 * off_pace)))
    close = rng.integers(0, 10, n_rows).astype(np.int32)
    return pl.DataFrame({
        "race_id": rng.choice(["r1", "r2", "r3"], n_rows),
        "lap": rng.integers(1, 25, n_rows).astype(np.int32),
        "race_time_left_s": rng.uniform(800.0, 2700.0, n_rows),
        "track": rng.choice(["barber", "vir", "sonoma"], n_rows),
        "leader_lap_s": rng.uniform(95.0, 130.0, n_rows),
        "n_cars": np.full(n_rows, 20, dtype=np.int32),
        "n_close_1s": (close // 2).astype(np.int32), "n_close_2s": close,
        "p_close_2s": close / 19.0,
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
    assert by_lap[3]["n_close_2s"] == 1 and by_lap[5]["n_close_2s"] == 0
    assert by_lap[3]["n_cars"] == 2


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


def test_the_baseline_is_the_base_rate(season_rows: pl.DataFrame) -> None:
    base = ConstantHazardBaseline().fit(season_rows)
    rate = float((season_rows["laps_to_fcy_start"] == 1).sum()) / season_rows.height
    assert base.hazard_ == pytest.approx(rate)
    p = base.predict(season_rows.head(1))
    assert p["p_fcy_start_6"].item() == pytest.approx(1.0 - (1.0 - rate) ** 6)


def test_no_hazard_once_the_race_is_over() -> None:
    frame = fcy_frame(np.random.default_rng(0))
    model = FcyHazardModel().fit(frame)
    last = frame.head(1).with_columns(race_time_left_s=pl.lit(50.0), leader_lap_s=pl.lit(100.0))
    p = model.predict(last).select(OUTPUT_COLUMNS).row(0)
    assert p[0] > 0.0 and all(v == pytest.approx(p[0]) for v in p[1:])


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
    assert resolve_kind("fcy_hazard") is FcyHazardModel
    assert resolve_kind("fcy_hazard_constant") is ConstantHazardBaseline


def test_the_debiased_calibration_error_removes_sampling_noise() -> None:
    rng = np.random.default_rng(5)
    p = rng.uniform(0.0, 0.3, 20_000)
    y = (rng.random(p.size) < p).astype(np.float64)
    assert calibration_error_debiased(p, y) < 0.005 < calibration_error(p, y[::-1] * 0 + 1)
    off = np.clip(p + 0.05, 0.0, 1.0)  # every forecast 5 points too high
    assert calibration_error_debiased(off, y) == pytest.approx(0.05, abs=0.006)
