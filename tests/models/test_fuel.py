"""The fuel model: burn per lap from telemetry, fuel left at the flag, against its baseline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cognirace.domain.formats import FLAG_CAUTION, FLAG_FINISH, FLAG_GREEN
from cognirace.errors import DataError, SchemaError
from cognirace.features import CATALOGUE, feature_table
from cognirace.lake import open_lake
from cognirace.models.fuel import (
    TANK_L,
    TASK,
    FuelBurnModel,
    TrackMeanFuelBaseline,
    TrackOnlyFuelBaseline,
    fuel_left,
    fuel_rows,
)
from cognirace.models.fuel_forecast import (
    CAUTION,
    CAUTION_FIRST,
    PREDICTION,
    RACING,
    RESTART,
    end_forecast,
    phases_of,
)
from cognirace.registry.kinds import resolve_kind
from cognirace.training.truth import load_truth

SEASON_START = dt.date(2025, 3, 30)
TRUTH_COLUMNS = {"fuel_used_l", "fuel_left_l", "start_fuel_l"}


def small_season(out: Path, *, tracks: tuple[str, ...], races_per_track: int, n_cars: int,
                 telemetry_hz: float, seed: int, timed_features: bool = False
                 ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """Simulate short races (1500 s), ingest them, and return the feature table and the
    truth; ``timed_features`` builds the race clock features for that length instead of
    a full race's."""
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
    features = feature_table(lake, race_duration_s=1500.0) if timed_features \
        else feature_table(lake)
    return features, load_truth(lake)


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """Fuel rows of two races at each of three tracks, telemetry at 1 Hz."""
    features, truth = small_season(tmp_path_factory.mktemp("fuel_season"),
                                   tracks=("barber", "sonoma", "road_america"),
                                   races_per_track=2, n_cars=10, telemetry_hz=1.0, seed=11,
                                   timed_features=True)
    return fuel_rows(features, truth)


TRACK_BURN_L = {"barber": 2.4, "vir": 3.2, "cota": 3.5}
TRACK_REVS_KREV = {"barber": 11.0, "vir": 13.0, "cota": 15.0}


def fuel_frame(rng: np.random.Generator, n_rows: int = 300) -> pl.DataFrame:
    """Laps of three tracks: a racing burn per track that grows with throttle time, and
    slowed laps (first caution lap, caution, restart) that burn a share growing with
    their mean throttle; keys and truth as ``fuel_rows`` gives them."""
    track = rng.choice(list(TRACK_BURN_L), n_rows)
    flag = rng.choice([FLAG_GREEN, FLAG_CAUTION, FLAG_FINISH], n_rows, p=[0.7, 0.25, 0.05])
    prev_fcy = rng.random(n_rows) < np.where(flag == FLAG_CAUTION, 0.6, 0.1)
    slowed = (flag == FLAG_CAUTION) | prev_fcy
    slow = np.where(slowed, np.where((flag == FLAG_CAUTION) & prev_fcy, 1.0,
                                     rng.uniform(0.2, 0.8, n_rows)), 0.0)
    lap_time = 100.0 * (1.0 + 0.5 * slow) * rng.normal(1.0, 0.01, n_rows)
    frac = 0.75 * (1.0 - 0.6 * slow) * rng.normal(1.0, 0.02, n_rows)
    level = np.array([TRACK_BURN_L[t] for t in track]) * (1.0 + 0.5 * (frac / 0.75 - 1.0))
    burn = level * (1.0 - 0.5 * slow) * rng.normal(1.0, 0.01, n_rows)
    return pl.DataFrame({
        "race_id": rng.choice(["r1", "r2"], n_rows),
        "car_number": rng.integers(1, 30, n_rows).astype(str),
        "lap": rng.integers(1, 25, n_rows).astype(np.int32),
        "engine_krev": np.array([TRACK_REVS_KREV[t] for t in track]) * rng.normal(1, 0.01,
                                                                                  n_rows),
        "throttle_s": frac * lap_time, "lap_time_s": lap_time, "track": track,
        "flag": flag, "prev_fcy": prev_fcy, "fuel_used_l": burn,
    })


def test_model_beats_the_fair_baseline_on_races_it_did_not_see(season: pl.DataFrame) -> None:
    train, test = season.filter(pl.col("race_id").str.ends_with("R1")), \
        season.filter(pl.col("race_id").str.ends_with("R2"))
    assert train.height > 300 and test.height > 300
    scores = {cls: TASK.score(test, cls().fit(train).predict(test))
              for cls in (FuelBurnModel, TrackMeanFuelBaseline, TrackOnlyFuelBaseline)}
    model, fair, old = (scores[c]["mae_l"] for c in (FuelBurnModel, TrackMeanFuelBaseline,
                                                      TrackOnlyFuelBaseline))
    assert fair < old, "the flag matters: a caution lap burns far less"
    assert model < fair
    assert model < 0.2  # litres per lap of a 2 to 4 l burn
    assert TASK.gain(model, fair) > 0


def test_inputs_come_from_the_feature_table_never_from_truth() -> None:
    catalogue = {c.name for c in CATALOGUE}
    for cls in (FuelBurnModel, TrackMeanFuelBaseline):
        names = {s.name for s in cls.inputs}
        assert names <= catalogue
        assert not names & (TRUTH_COLUMNS | {"caution"})
    assert [s.name for s in TrackMeanFuelBaseline.inputs] == ["track", "flag"]
    assert all(not s.nullable for s in FuelBurnModel.inputs)


def test_rows_need_the_simulator_truth(season: pl.DataFrame) -> None:
    with pytest.raises(DataError, match="truth"):
        fuel_rows(pl.DataFrame(), None)
    with pytest.raises(DataError, match="truth"):
        fuel_rows(pl.DataFrame(), {"laps": pl.DataFrame()})
    assert TASK.needs_truth and "truth" in TASK.target_source
    assert season["fuel_used_l"].null_count() == 0
    assert (season["engine_krev"] > 0).all() and (season["throttle_s"] > 0).all()


def test_a_missing_input_is_refused_not_filled(rng: np.random.Generator) -> None:
    frame = fuel_frame(rng)
    model = FuelBurnModel().fit(frame)
    for name in ("engine_krev", "throttle_s", "lap_time_s", "track", "flag", "prev_fcy"):
        lap = frame.head(2).with_columns(pl.lit(None).cast(frame.schema[name]).alias(name))
        with pytest.raises(SchemaError, match=name):
            model.predict(lap)
    nan = frame.head(1).with_columns(pl.lit(float("nan")).alias("throttle_s"))
    with pytest.raises(SchemaError, match="throttle_s"):
        model.predict(nan)


def test_an_unknown_track_is_answered_from_telemetry_and_says_so(
        rng: np.random.Generator) -> None:
    frame = fuel_frame(rng)
    for cls in (FuelBurnModel, TrackMeanFuelBaseline):
        predictor = cls().fit(frame)
        known = predictor.predict(frame.head(5))
        assert known["fallbacks"].to_list() == [[]] * 5
        unknown = predictor.predict(frame.head(5).with_columns(track=pl.lit("monza")))
        assert unknown["fallbacks"].to_list() == [["track"]] * 5
        assert unknown[PREDICTION].is_finite().all()
    # The model's level for an unknown track follows its revolutions and throttle time.
    model = FuelBurnModel().fit(frame)
    racing = frame.filter((pl.col("flag") == FLAG_GREEN) & ~pl.col("prev_fcy"))
    for track in TRACK_BURN_L:
        laps = racing.filter(pl.col("track") == track).with_columns(track=pl.lit("monza"))
        guess = model.predict(laps)[PREDICTION].mean()
        assert guess == pytest.approx(TRACK_BURN_L[track], rel=0.15)


def test_baseline_is_the_mean_per_track_and_flag(rng: np.random.Generator) -> None:
    frame = fuel_frame(rng)
    baseline = TrackMeanFuelBaseline().fit(frame)
    caution = pl.col("flag") == FLAG_CAUTION
    for track in TRACK_BURN_L:
        for is_caution in (False, True):
            laps = frame.filter((pl.col("track") == track) & (caution == is_caution))
            predicted = baseline.predict(laps)[PREDICTION].unique().to_list()
            assert predicted == pytest.approx([laps["fuel_used_l"].mean()])
    # A season without a caution cannot tell what a caution lap burns: it says so.
    for cls in (FuelBurnModel, TrackMeanFuelBaseline):
        dry = cls().fit(frame.filter(~caution & ~pl.col("prev_fcy")))
        out = dry.predict(frame.filter(caution).head(3))
        assert out["fallbacks"].to_list() == [["flag"]] * 3
        monza = dry.predict(frame.filter(caution).head(1).with_columns(track=pl.lit("monza")))
        assert monza["fallbacks"].to_list() == [["track", "flag"]]


def test_slowed_laps_burn_less_and_the_chequered_lap_like_green(
        rng: np.random.Generator) -> None:
    model = FuelBurnModel().fit(fuel_frame(rng))
    lap = fuel_frame(rng).head(1).with_columns(track=pl.lit("vir"), engine_krev=pl.lit(13.0),
                                               lap_time_s=pl.lit(100.0),
                                               throttle_s=pl.lit(75.0))

    def burn(**columns: object) -> float:
        return float(model.predict(lap.with_columns(
            **{k: pl.lit(v) for k, v in columns.items()}))[PREDICTION][0])

    green = burn(flag=FLAG_GREEN, prev_fcy=False)
    assert burn(flag=FLAG_FINISH, prev_fcy=False) == green
    assert green == pytest.approx(TRACK_BURN_L["vir"], rel=0.05)
    slow = {"lap_time_s": 150.0, "throttle_s": 0.3 * 150.0}
    caution = burn(flag=FLAG_CAUTION, prev_fcy=True, **slow)
    assert 0.0 < caution < 0.7 * green
    # A partly slowed lap burns between the two, and less the longer it was slow.
    for flag, prev in ((FLAG_CAUTION, False), (FLAG_GREEN, True)):
        partly = burn(flag=flag, prev_fcy=prev, lap_time_s=125.0, throttle_s=0.5 * 125.0)
        mostly = burn(flag=flag, prev_fcy=prev, lap_time_s=140.0, throttle_s=0.35 * 140.0)
        assert caution < mostly < partly < green


def test_lap_phases_follow_the_flag_and_the_lap_before() -> None:
    laps = pl.DataFrame({"flag": [FLAG_GREEN, FLAG_CAUTION, FLAG_CAUTION, FLAG_GREEN,
                                  FLAG_FINISH],
                         "prev_fcy": [False, False, True, True, False]})
    assert phases_of(laps).to_list() == [RACING, CAUTION_FIRST, CAUTION, RESTART, RACING]


def test_parts_add_up_to_the_primary_metric(season: pl.DataFrame) -> None:
    assert TASK.parts is not None
    for cls in (FuelBurnModel, TrackMeanFuelBaseline):
        predictions = cls().fit(season).predict(season)
        parts = TASK.parts(season, predictions)
        assert parts.columns == ["race_id", "num", "den"] and parts.height == season.height
        assert parts["num"].sum() / parts["den"].sum() == pytest.approx(
            TASK.score(season, predictions)[TASK.primary], rel=1e-12)


def test_fuel_left_at_the_flag_is_forecast_from_the_first_half(season: pl.DataFrame) -> None:
    burn = FuelBurnModel().fit(season).predict(season)[PREDICTION]
    forecast = end_forecast(season, burn)
    assert forecast.height >= 20
    cut = season.join(forecast.select("race_id", "car_number", "cut_lap"),
                      on=["race_id", "car_number"])
    at_cut = cut.filter(pl.col("lap") == pl.col("cut_lap"))
    assert (at_cut["race_time_left_s"] <= at_cut["race_elapsed_s"]).all()
    before = cut.filter(pl.col("lap") == pl.col("cut_lap") - 1)
    assert (before["race_time_left_s"] > before["race_elapsed_s"]).all()
    # Fuel used by the cut is the predicted burn of the laps up to it, nothing after.
    upto = season.with_columns(burn).join(forecast.select("race_id", "car_number", "cut_lap"),
                                          on=["race_id", "car_number"]) \
        .filter(pl.col("lap") <= pl.col("cut_lap"))
    sums = upto.group_by("race_id", "car_number").agg(pl.col(PREDICTION).sum(), pl.len(),
                                                      pl.first("cut_lap"))
    complete = forecast.join(sums, on=["race_id", "car_number"]).filter(
        pl.col("len") == pl.col("cut_lap_right"))
    assert complete.height >= 10
    assert np.allclose(complete["used_pred_l"], complete[PREDICTION])
    metrics = TASK.score(season, pl.DataFrame(burn))
    assert 0.0 < metrics["fuel_left_end_forecast_known_start_mae_l"] < 5.0
    assert metrics["n_cars_forecast"] == forecast.height


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
         "n_samples": 100, "engine_krev": 11.0, "throttle_s": 75.0, "lap_time_s": 100.0,
         "track": "barber", "flag": FLAG_GREEN, "prev_fcy": False,
         "race_elapsed_s": 100.0 * lap, "race_time_left_s": 2700.0 - 100.0 * lap,
         "laps_left_est": 27 - lap}
        for i, n in enumerate(numbers) for lap in (1, 2)
    ]).with_columns(pl.col("lap", "n_samples", "laps_left_est").cast(pl.Int32))


def test_truth_labels_join_021_and_21_each_to_its_own_car() -> None:
    truth = pl.DataFrame({"race_id": ["r"] * 4, "car_number": ["021", "021", "21", "21"],
                          "lap": [1, 2, 1, 2], "fuel_used_l": [2.0, 2.1, 3.0, 3.1],
                          "fuel_left_l": [81.0, 78.9, 80.0, 76.9]})
    rows = fuel_rows(_laps_with_telemetry(["021", "21"]), {"laps": truth})
    assert rows.height == 4
    by_car = dict(rows.group_by("car_number").agg(pl.col("fuel_used_l").sum()).iter_rows())
    assert by_car == pytest.approx({"021": 4.1, "21": 6.1})
    assert rows.filter(pl.col("car_number") == "021")["start_fuel_l"].to_list() == [83.0, 83.0]


def test_a_lap_without_telemetry_has_no_fuel_row() -> None:
    truth = pl.DataFrame({"race_id": ["r"] * 2, "car_number": ["7", "7"], "lap": [1, 2],
                          "fuel_used_l": [2.0, 2.1], "fuel_left_l": [81.0, 78.9]})
    laps = _laps_with_telemetry(["7"]).with_columns(
        pl.when(pl.col("lap") == 2).then(None).otherwise(pl.col("throttle_s"))
        .alias("throttle_s"))
    assert fuel_rows(laps, {"laps": truth})["lap"].to_list() == [1]


def test_truth_with_numeric_car_numbers_is_refused() -> None:
    truth = pl.DataFrame({"race_id": ["r"], "car_number": [21], "lap": [1],
                          "fuel_used_l": [2.0], "fuel_left_l": [81.0]})
    with pytest.raises(DataError, match="car_number") as caught:
        fuel_rows(_laps_with_telemetry(["21"]), {"laps": truth})
    assert "load_truth" in str(caught.value)


@pytest.mark.parametrize("cls", [FuelBurnModel, TrackMeanFuelBaseline])
def test_registry_allows_the_fuel_kinds(cls: type[FuelBurnModel]) -> None:
    assert resolve_kind(cls.kind) is cls
