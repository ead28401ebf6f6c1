"""The pit-loss model: labels from timing, a small robust fit, against the transit baseline."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from cognirace.domain.formats import FLAG_CAUTION, FLAG_GREEN
from cognirace.domain.tracks import TRACKS
from cognirace.features import CATALOGUE
from cognirace.models.pitloss import (
    PREDICTION,
    TASK,
    PitLossModel,
    TransitPitLossBaseline,
    pit_stop_rows,
    score_pit_loss,
)
from cognirace.registry.kinds import resolve_kind
from features import timing_cars
from models.test_fuel import small_season


@pytest.fixture(scope="module")
def stops(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """Pit stops of four short races at each of three tracks (timing only)."""
    features, _ = small_season(tmp_path_factory.mktemp("pit_season"),
                               tracks=("barber", "indianapolis", "vir"), races_per_track=4,
                               n_cars=16, telemetry_hz=0.0, seed=5)
    return pit_stop_rows(features)


def stop_frame(rng: np.random.Generator, n_rows: int = 80) -> pl.DataFrame:
    """Stops whose loss is the track's transit - 15 s, +28 s for tires, +3 s under yellow."""
    track = rng.choice(["barber", "vir", "indianapolis"], n_rows)
    tires = rng.random(n_rows) < 0.4
    caution = rng.random(n_rows) < 0.4
    transit = np.array([TRACKS[t].pit_transit_s for t in track])
    loss = transit - 15.0 + 28.0 * tires + 3.0 * caution + rng.normal(0.0, 1.0, n_rows)
    return pl.DataFrame({
        "race_id": rng.choice(["r1", "r2", "r3"], n_rows),
        "car_number": rng.integers(1, 30, n_rows).astype(str),
        "lap": rng.integers(2, 25, n_rows).astype(np.int32),
        "track": track, "caution": caution, "tire_change": tires, "pit_loss_s": loss,
    })


def _car_laps(car: str, times: list[float], *, pit_lap: int | None = None,
              flags: list[str] | None = None) -> pl.DataFrame:
    n = len(times)
    flags = flags or [FLAG_GREEN] * n
    return pl.DataFrame({
        "race_id": ["r"] * n, "vehicle_id": [car] * n,
        "car_number": [car[-1]] * n, "lap": list(range(1, n + 1)),
        "track": ["vir"] * n, "lap_time_s": times, "flag": flags,
        "in_pit": [lap == pit_lap for lap in range(1, n + 1)],
        "out_lap": [pit_lap is not None and lap == pit_lap + 1 for lap in range(1, n + 1)],
        "pit_time_s": [25.0 if lap == pit_lap else None for lap in range(1, n + 1)],
        "tire_change": [False] * n,
        "green_lap": [f == FLAG_GREEN and lap > 1 for lap, f in zip(range(1, n + 1), flags,
                                                               strict=True)],
        "pace_median3_s": [None, 130.0, 130.0, 130.0, 130.0][:n],
    }, schema_overrides={"pace_median3_s": pl.Float64, "pit_time_s": pl.Float64})


def test_green_loss_is_in_and_out_lap_against_green_pace() -> None:
    features = pl.concat([_car_laps("c1", [135.0, 130.0, 130.0, 143.0, 144.0], pit_lap=4),
                          _car_laps("c2", [136.0, 131.0, 131.0, 131.0, 131.0])])
    rows = pit_stop_rows(features)
    assert rows.height == 1 and rows["lap"][0] == 4 and not rows["caution"][0]
    assert rows["pit_loss_s"][0] == pytest.approx(143.0 + 144.0 - 2 * 130.0)


def test_stops_of_timing_cars_without_a_logger_are_their_own() -> None:
    rows = pit_stop_rows(timing_cars.feature_rows())
    assert rows.select("car_number", "lap", "tire_change").rows() == [
        ("021", 5, True), ("3#2", 12, False)]
    assert rows["vehicle_id"].null_count() == 2
    features = timing_cars.feature_rows()
    for stop in rows.iter_rows(named=True):
        times = timing_cars.lap_times(stop["car_number"])
        pace = features.filter((pl.col("car_number") == stop["car_number"])
                               & (pl.col("lap") == stop["lap"]))["pace_median3_s"].item()
        assert stop["ref_in_s"] == stop["ref_out_s"] == pace
        assert stop["pit_loss_s"] == pytest.approx(
            times[stop["lap"] - 1] + times[stop["lap"]] - 2 * pace)


def test_yellow_loss_is_against_the_field_on_the_same_laps() -> None:
    flags = [FLAG_GREEN, FLAG_GREEN, FLAG_GREEN, FLAG_CAUTION, FLAG_CAUTION]
    features = pl.concat([
        _car_laps("c1", [135.0, 130.0, 130.0, 200.0, 210.0], pit_lap=4, flags=flags),
        _car_laps("c2", [136.0, 131.0, 131.0, 182.0, 183.0], flags=flags),
        _car_laps("c3", [137.0, 132.0, 132.0, 184.0, 185.0], flags=flags),
    ])
    rows = pit_stop_rows(features)
    assert rows["caution"].to_list() == [True]
    assert rows["pit_loss_s"][0] == pytest.approx(200.0 + 210.0 - 183.0 - 184.0)


def test_the_stop_own_pit_time_is_not_an_input() -> None:
    names = [s.name for s in PitLossModel.inputs]
    assert "pit_time_s" not in names and "pit_loss_s" not in names
    assert set(names) - {"caution"} <= {c.name for c in CATALOGUE}
    assert [s.name for s in TransitPitLossBaseline.inputs] == names


def test_fit_recovers_the_add_ons_despite_a_long_repair(rng: np.random.Generator) -> None:
    frame = stop_frame(rng)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.col("pit_loss_s") + 60.0)
        .otherwise(pl.col("pit_loss_s")).alias("pit_loss_s"))
    model = PitLossModel().fit(frame)
    assert model.tire_change_s_ == pytest.approx(28.0, abs=1.0)
    assert model.caution_s_ == pytest.approx(3.0, abs=1.0)


def test_model_beats_the_transit_time_on_races_it_did_not_see(stops: pl.DataFrame) -> None:
    train = stops.filter(pl.col("race_id").str.ends_with("R1"))
    test = stops.filter(pl.col("race_id").str.ends_with("R2"))
    assert train.height >= 8 and test.height >= 5, "the seed must give stops on both sides"
    model = TASK.score(test, PitLossModel().fit(train).predict(test))
    baseline = TASK.score(test, TransitPitLossBaseline().fit(train).predict(test))
    assert model["mae_s"] < 0.7 * baseline["mae_s"]


def test_scores_leave_out_groups_without_stops() -> None:
    rows = pl.DataFrame({"caution": [False, False], "tire_change": [False, True],
                         "pit_loss_s": [20.0, 50.0]})
    scores = score_pit_loss(rows, pl.DataFrame({PREDICTION: [22.0, 46.0]}))
    assert scores == {"n_stops": 2.0, "mae_s": 3.0, "mae_green_s": 3.0,
                      "mae_drive_through_s": 2.0, "mae_tire_change_s": 4.0}


def test_baseline_is_the_transit_time(rng: np.random.Generator) -> None:
    frame = stop_frame(rng)
    preds = TransitPitLossBaseline().fit(frame).predict(frame)
    expected = [TRACKS[t].pit_transit_s for t in frame["track"]]
    assert preds[PREDICTION].to_list() == expected


@pytest.mark.parametrize("cls", [PitLossModel, TransitPitLossBaseline])
def test_registry_allows_the_pit_loss_kinds(cls: type[PitLossModel]) -> None:
    assert resolve_kind(cls.kind) is cls
