"""The fuel model: burn per lap from telemetry, fuel left through a race, against its baseline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cognirace.domain.formats import FLAG_CAUTION, FLAG_FINISH, FLAG_GREEN
from cognirace.errors import DataError
from cognirace.features import CATALOGUE, feature_table
from cognirace.lake import open_lake
from cognirace.models.fuel import (
    PREDICTION,
    TANK_L,
    TASK,
    FuelBurnModel,
    TrackMeanFuelBaseline,
    fuel_left,
    fuel_rows,
)
from cognirace.registry.kinds import resolve_kind
from cognirace.training.truth import load_truth

SEASON_START = dt.date(2025, 3, 30)


def small_season(out: Path, *, tracks: tuple[str, ...], races_per_track: int, n_cars: int,
                 telemetry_hz: float, seed: int) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """Simulate short races, ingest them, and return the feature table and the truth."""
    from cognirace.ingest import ingest
    from cognirace.sim.config import RaceConfig
    from cognirace.sim.season import season_roster, simulate_one

    roster = season_roster(seed)
    for t, track in enumerate(tracks):
        for r in range(races_per_track):
            event = t * races_per_track + r // 2
            config = RaceConfig(
                track=track, session=f"R{r % 2 + 1}", event_number=event + 1,
                event_date=SEASON_START + dt.timedelta(days=14 * event), n_cars=n_cars,
                duration_s=1500.0, telemetry_hz=telemetry_hz)
            simulate_one(out / "races", config, roster, seed)
    ingest(out / "races", out / "lake")
    lake = open_lake(out / "lake")
    return feature_table(lake), load_truth(lake)


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """Fuel rows of two races at each of three tracks, telemetry at 1 Hz."""
    features, truth = small_season(tmp_path_factory.mktemp("fuel_season"),
                                   tracks=("barber", "sonoma", "road_america"),
                                   races_per_track=2, n_cars=10, telemetry_hz=1.0, seed=11)
    return fuel_rows(features, truth)


def fuel_frame(rng: np.random.Generator, n_rows: int = 240) -> pl.DataFrame:
    """Laps with a burn that follows the fuel proxy, halved under a yellow, and keys."""
    fcy = rng.random(n_rows) < 0.2
    proxy = rng.uniform(7.0, 15.0, n_rows) * np.where(fcy, 0.7, 1.0)
    burn = np.clip((0.3 * proxy + rng.normal(0.0, 0.05, n_rows)) * np.where(fcy, 0.5, 1.0),
                   0.1, None)
    return pl.DataFrame({
        "race_id": rng.choice(["r1", "r2"], n_rows),
        "car_number": rng.integers(1, 30, n_rows).astype(str),
        "lap": rng.integers(1, 25, n_rows).astype(np.int32),
        "fuel_proxy_krev": proxy,
        "lap_time_s": rng.uniform(95.0, 160.0, n_rows) * np.where(fcy, 1.4, 1.0),
        "track": rng.choice(["barber", "vir", "cota"], n_rows),
        "flag": np.where(fcy, FLAG_CAUTION, FLAG_GREEN),
        "in_pit": rng.random(n_rows) < 0.03,
        "out_lap": rng.random(n_rows) < 0.03,
        "fuel_used_l": burn,
    })


def test_model_beats_the_track_mean_on_races_it_did_not_see(season: pl.DataFrame) -> None:
    train, test = season.filter(pl.col("race_id").str.ends_with("R1")), \
        season.filter(pl.col("race_id").str.ends_with("R2"))
    assert train.height > 300 and test.height > 300
    scores = {cls: TASK.score(test, cls().fit(train).predict(test))
              for cls in (FuelBurnModel, TrackMeanFuelBaseline)}
    model, baseline = scores[FuelBurnModel], scores[TrackMeanFuelBaseline]
    assert model["mae_l"] < 0.6 * baseline["mae_l"]
    assert model["mae_l"] < 0.2  # litres per lap of a 2 to 4 l burn
    assert model["fuel_left_end_known_start_mae_l"] < baseline["fuel_left_end_known_start_mae_l"]
    assert TASK.gain(model["mae_l"], baseline["mae_l"]) > 0


def test_inputs_come_from_the_feature_table_never_from_truth() -> None:
    catalogue = {c.name for c in CATALOGUE}
    names = {s.name for s in FuelBurnModel.inputs}
    assert names <= catalogue
    assert not names & {"fuel_used_l", "fuel_left_l", "start_fuel_l", "caution"}
    assert [s.name for s in TrackMeanFuelBaseline.inputs] == [s.name for s in FuelBurnModel.inputs]


def test_rows_need_the_simulator_truth(season: pl.DataFrame) -> None:
    with pytest.raises(DataError, match="truth"):
        fuel_rows(pl.DataFrame(), None)
    with pytest.raises(DataError, match="truth"):
        fuel_rows(pl.DataFrame(), {"laps": pl.DataFrame()})
    assert TASK.needs_truth and "truth" in TASK.target_source
    assert season["fuel_used_l"].null_count() == 0 and (season["fuel_proxy_krev"] > 0).all()


def test_fuel_left_counts_down_from_the_start_fuel() -> None:
    preds = pl.DataFrame({
        "race_id": ["a"] * 3 + ["b"] * 2, "car_number": ["1", "1", "1", "2", "2"],
        "lap": [1, 2, 4, 1, 2], PREDICTION: [3.0, 3.0, 5.0, 50.0, 50.0],
    })
    start = pl.DataFrame({"race_id": ["b"], "car_number": ["2"], "start_fuel_l": [60.0]})
    left = fuel_left(preds, start_fuel=start)
    car_a = left.filter(pl.col("race_id") == "a")
    assert car_a["lap"].to_list() == [1, 2, 3, 4]
    assert car_a["filled"].to_list() == [False, False, True, False]
    assert car_a["fuel_left_pred_l"].to_list() == pytest.approx(
        [TANK_L - 3, TANK_L - 6, TANK_L - 6 - 11 / 3, TANK_L - 11 - 11 / 3])
    assert left.filter(pl.col("race_id") == "b")["fuel_left_pred_l"].to_list() == [10.0, 0.0]


def test_a_lap_without_telemetry_falls_back_to_the_track_and_flag_mean(
    rng: np.random.Generator,
) -> None:
    frame = fuel_frame(rng)
    model = FuelBurnModel().fit(frame)
    lap = frame.head(1).with_columns(pl.lit(None, dtype=pl.Float64).alias("fuel_proxy_krev"))
    expected = frame.filter((pl.col("track") == lap["track"][0])
                            & (pl.col("flag") == lap["flag"][0]))["fuel_used_l"].mean()
    assert model.predict(lap)[PREDICTION][0] == pytest.approx(expected)


def test_a_yellow_lap_burns_less_than_a_green_one(rng: np.random.Generator) -> None:
    model = FuelBurnModel().fit(fuel_frame(rng))
    lap = fuel_frame(rng).head(1).with_columns(fuel_proxy_krev=pl.lit(9.0),
                                               lap_time_s=pl.lit(120.0))
    green = model.predict(lap.with_columns(flag=pl.lit(FLAG_GREEN)))[PREDICTION][0]
    yellow = model.predict(lap.with_columns(flag=pl.lit(FLAG_CAUTION)))[PREDICTION][0]
    chequered = model.predict(lap.with_columns(flag=pl.lit(FLAG_FINISH)))[PREDICTION][0]
    assert 0.0 < yellow < green
    assert chequered == green  # the last lap is raced like a green one


def test_fuel_left_counts_021_and_21_as_two_cars() -> None:
    preds = pl.DataFrame({"race_id": ["r"] * 4, "car_number": ["021", "21", "021", "21"],
                          "lap": [1, 1, 2, 2], PREDICTION: [2.0, 4.0, 2.0, 4.0]})
    start = pl.DataFrame({"race_id": ["r"], "car_number": ["021"], "start_fuel_l": [50.0]})
    left = fuel_left(preds, start_fuel=start)
    assert left["car_number"].to_list() == ["021", "021", "21", "21"]
    assert left["fuel_left_pred_l"].to_list() == [48.0, 46.0, TANK_L - 4, TANK_L - 8]


def _laps_with_telemetry(numbers: list[str]) -> pl.DataFrame:
    """Two green laps with telemetry for each car number, as the feature table gives them."""
    return pl.DataFrame([
        {"race_id": "r", "vehicle_id": f"GR86-00{i}-{n}", "car_number": n, "lap": lap,
         "n_samples": 100, "fuel_proxy_krev": 9.0, "lap_time_s": 100.0, "track": "barber",
         "flag": FLAG_GREEN, "in_pit": False, "out_lap": False}
        for i, n in enumerate(numbers) for lap in (1, 2)
    ]).with_columns(pl.col("lap", "n_samples").cast(pl.Int32))


def test_truth_labels_join_021_and_21_each_to_its_own_car() -> None:
    truth = pl.DataFrame({"race_id": ["r"] * 4, "car_number": ["021", "021", "21", "21"],
                          "lap": [1, 2, 1, 2], "fuel_used_l": [2.0, 2.1, 3.0, 3.1],
                          "fuel_left_l": [81.0, 78.9, 80.0, 76.9]})
    rows = fuel_rows(_laps_with_telemetry(["021", "21"]), {"laps": truth})
    assert rows.height == 4
    by_car = dict(rows.group_by("car_number").agg(pl.col("fuel_used_l").sum()).iter_rows())
    assert by_car == pytest.approx({"021": 4.1, "21": 6.1})
    assert rows.filter(pl.col("car_number") == "021")["start_fuel_l"].to_list() == [83.0, 83.0]


def test_truth_with_numeric_car_numbers_is_refused() -> None:
    truth = pl.DataFrame({"race_id": ["r"], "car_number": [21], "lap": [1],
                          "fuel_used_l": [2.0], "fuel_left_l": [81.0]})
    with pytest.raises(DataError, match="car_number") as caught:
        fuel_rows(_laps_with_telemetry(["21"]), {"laps": truth})
    assert "load_truth" in str(caught.value)


@pytest.mark.parametrize("cls", [FuelBurnModel, TrackMeanFuelBaseline])
def test_registry_allows_the_fuel_kinds(cls: type[FuelBurnModel]) -> None:
    assert resolve_kind(cls.kind) is cls
