"""The pit-loss model: labels from timing, the stop kind from an independent record, a
small robust fit, against the engineer's median by track and kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cognirace.domain.formats import FLAG_CAUTION, FLAG_GREEN
from cognirace.domain.tracks import TRACKS
from cognirace.errors import DataError, SchemaError
from cognirace.models.pitloss import (
    PREDICTION,
    TASK,
    PitLossModel,
    TrackKindMedianBaseline,
    TransitPitLossBaseline,
    pit_loss_parts,
    pit_stop_rows,
    score_pit_loss,
)
from cognirace.models.schema import FALLBACKS
from cognirace.registry.kinds import resolve_kind
from features import timing_cars
from models.contract import check_model_contract
from models.test_fuel import small_season


@pytest.fixture(scope="module")
def stops(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """Pit stops of four short races at each of three tracks (timing, and the truth's
    record of each stop's service)."""
    features, truth = small_season(tmp_path_factory.mktemp("pit_season"),
                                   tracks=("barber", "indianapolis", "vir"),
                                   races_per_track=4, n_cars=16, telemetry_hz=0.0, seed=5)
    return pit_stop_rows(features, truth)


def stop_frame(rng: np.random.Generator, n_rows: int = 80, *,
               repair_s: float = 0.0) -> pl.DataFrame:
    """Stops whose loss is the track's transit - 15 s, +28 s for tires, +3 s under yellow,
    and ``repair_s`` more for a repair (half the tire stops)."""
    track = rng.choice(["barber", "vir", "indianapolis"], n_rows)
    tires = rng.random(n_rows) < 0.4
    repair = tires & (rng.random(n_rows) < 0.5)
    caution = rng.random(n_rows) < 0.4
    transit = np.array([TRACKS[t].pit_transit_s for t in track])
    loss = (transit - 15.0 + 28.0 * tires + repair_s * repair + 3.0 * caution
            + rng.normal(0.0, 1.0, n_rows))
    return pl.DataFrame({
        "race_id": rng.choice(["r1", "r2", "r3"], n_rows),
        "car_number": rng.integers(1, 30, n_rows).astype(str),
        "lap": rng.integers(2, 25, n_rows).astype(np.int32),
        "track": track, "caution": caution, "tire_change": tires, "repair": repair,
        "pit_loss_s": loss,
    })


def _car_laps(car: str, times: list[float], *, pit_lap: int | None = None,
              flags: list[str] | None = None) -> pl.DataFrame:
    n = len(times)
    flags = flags or [FLAG_GREEN] * n
    prev_fcy = [False] + [f == FLAG_CAUTION for f in flags[:-1]]
    return pl.DataFrame({
        "race_id": ["r"] * n, "vehicle_id": [car] * n,
        "car_number": [car[-1]] * n, "lap": list(range(1, n + 1)),
        "track": ["vir"] * n, "lap_time_s": times, "flag": flags,
        "in_pit": [lap == pit_lap for lap in range(1, n + 1)],
        "out_lap": [pit_lap is not None and lap == pit_lap + 1 for lap in range(1, n + 1)],
        "pit_time_s": [25.0 if lap == pit_lap else None for lap in range(1, n + 1)],
        "tire_change": [False] * n, "prev_fcy": prev_fcy,
        "green_lap": [f == FLAG_GREEN and lap > 1 and not p
                      for lap, f, p in zip(range(1, n + 1), flags, prev_fcy, strict=True)],
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
    # no truth (real timing): the kind of each stop is unknown, whatever its pit time
    assert rows.select("car_number", "lap", "tire_change").rows() == [
        ("021", 5, None), ("3#2", 12, None)]
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


def test_a_restart_out_lap_is_against_the_field_too() -> None:
    # In under the last yellow lap, out on the restart lap: flagged green, but the whole
    # field ran it at caution pace, which staying out costs as much.
    flags = [FLAG_GREEN, FLAG_GREEN, FLAG_GREEN, FLAG_CAUTION, FLAG_GREEN]
    features = pl.concat([
        _car_laps("c1", [135.0, 130.0, 130.0, 200.0, 190.0], pit_lap=4, flags=flags),
        _car_laps("c2", [136.0, 131.0, 131.0, 182.0, 160.0], flags=flags),
        _car_laps("c3", [137.0, 132.0, 132.0, 184.0, 162.0], flags=flags),
    ])
    (row,) = pit_stop_rows(features).iter_rows(named=True)
    assert row["ref_out_s"] == pytest.approx(161.0)
    assert row["pit_loss_s"] == pytest.approx(200.0 + 190.0 - 183.0 - 161.0)


def test_the_stop_kind_comes_from_the_truth_not_the_pit_time() -> None:
    features = pl.concat([_car_laps("c1", [135.0, 130.0, 130.0, 143.0, 144.0], pit_lap=4),
                          _car_laps("c2", [136.0, 131.0, 131.0, 131.0, 131.0])])
    features = features.with_columns(tire_change=pl.col("in_pit"))  # pit time said "long"
    truth = {"pit_stops": pl.DataFrame({"race_id": ["r"], "car_number": ["1"], "lap": [4],
                                        "new_tyres": [False], "reason": ["drive_through"]})}
    assert pit_stop_rows(features, truth).select("tire_change", "repair").rows() == [
        (False, False)]
    assert pit_stop_rows(features, None).select("tire_change", "repair").rows() == [
        (None, None)]
    repair = truth["pit_stops"].with_columns(new_tyres=pl.lit(True), reason=pl.lit("damage"))
    assert pit_stop_rows(features, {"pit_stops": repair}).select(
        "tire_change", "repair").rows() == [(True, True)]


def test_the_stop_own_pit_time_is_not_an_input() -> None:
    names = [s.name for s in PitLossModel.inputs]
    assert names == ["track", "caution", "tire_change", "repair"]
    assert [s.name for s in TrackKindMedianBaseline.inputs] == ["track", "tire_change",
                                                                "repair"]
    assert [s.name for s in TransitPitLossBaseline.inputs] == ["track"]


def test_fit_recovers_the_add_ons_despite_a_long_repair(rng: np.random.Generator) -> None:
    frame = stop_frame(rng, 160)
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.col("pit_loss_s") + 60.0)
        .otherwise(pl.col("pit_loss_s")).alias("pit_loss_s"))
    add_ons = PitLossModel().fit(frame).add_ons_s
    assert add_ons["tire_change"] == pytest.approx(28.0, abs=1.5)
    assert add_ons["caution"] == pytest.approx(3.0, abs=1.5)
    assert add_ons["tire_change_caution"] == pytest.approx(0.0, abs=2.0)
    assert add_ons["repair"] == pytest.approx(0.0, abs=1.5)


def test_a_repair_is_priced_apart_from_a_tire_change(rng: np.random.Generator) -> None:
    frame = stop_frame(rng, 300, repair_s=20.0)
    model = PitLossModel().fit(frame)
    assert model.add_ons_s["tire_change"] == pytest.approx(28.0, abs=1.5)
    assert model.add_ons_s["repair"] == pytest.approx(20.0, abs=1.5)
    probe = pl.DataFrame({"track": ["vir"] * 4, "caution": [False] * 4,
                          "tire_change": [True, True, True, False],
                          "repair": pl.Series([False, True, None, None], dtype=pl.Boolean)})
    out = model.predict(probe)
    tires, repair, either, drive = out[PREDICTION].to_list()
    assert repair - tires == pytest.approx(20.0, abs=1.5)
    assert drive < tires < either < repair  # unknown purpose: the training mix
    assert out[FALLBACKS].to_list() == [[], [], ["repair"], []]
    base = TrackKindMedianBaseline().fit(frame).predict(probe)
    assert base[FALLBACKS].to_list() == [[], [], ["repair"], []]
    b_tires, b_repair, b_either, _ = base[PREDICTION].to_list()
    assert b_tires < b_either < b_repair


def test_a_repair_without_new_tires_is_refused(rng: np.random.Generator) -> None:
    frame = stop_frame(rng)
    probe = pl.DataFrame({"track": ["vir"], "caution": [False], "tire_change": [False],
                          "repair": [True]})
    for model in (PitLossModel().fit(frame), TrackKindMedianBaseline().fit(frame)):
        with pytest.raises(DataError, match="a repair fits new tires"):
            model.predict(probe)


def test_without_a_training_repair_a_repair_is_answered_as_a_tire_stop_and_said(
        rng: np.random.Generator) -> None:
    frame = stop_frame(rng, 160).with_columns(repair=pl.lit(False))
    probe = pl.DataFrame({"track": ["vir"], "caution": [False], "tire_change": [True],
                          "repair": [True]})
    for model in (PitLossModel().fit(frame), TrackKindMedianBaseline().fit(frame)):
        assert model.predict(probe)[FALLBACKS].to_list() == [["repair"]]


def test_model_and_baseline_learn_from_races_they_did_not_see(stops: pl.DataFrame) -> None:
    train = stops.filter(pl.col("race_id").str.ends_with("R1"))
    test = stops.filter(pl.col("race_id").str.ends_with("R2"))
    assert train.height >= 8 and test.height >= 5, "the seed must give stops on both sides"
    assert stops["tire_change"].null_count() == 0
    transit = TASK.score(test, TransitPitLossBaseline().fit(train).predict(test))
    for cls in (PitLossModel, TrackKindMedianBaseline):
        scores = TASK.score(test, cls().fit(train).predict(test))
        assert scores["mae_s"] < 0.7 * transit["mae_s"]


def test_parts_add_up_to_the_mae(stops: pl.DataFrame) -> None:
    train = stops.filter(pl.col("race_id").str.ends_with("R1"))
    test = stops.filter(pl.col("race_id").str.ends_with("R2"))
    assert TASK.parts is pit_loss_parts
    for cls in (TASK.baseline, TASK.model):
        predictions = cls().fit(train).predict(test)
        parts = TASK.parts(test, predictions)
        assert parts.columns == ["race_id", "num", "den"] and parts.height == test.height
        assert parts["num"].sum() / parts["den"].sum() == pytest.approx(
            TASK.score(test, predictions)["mae_s"], rel=1e-12)


def test_the_baseline_is_the_median_by_track_and_kind(rng: np.random.Generator) -> None:
    frame = stop_frame(rng, 200)
    base = TrackKindMedianBaseline().fit(frame)
    probe = pl.DataFrame({"track": ["vir", "vir", "daytona", "vir", "daytona"],
                          "tire_change": [True, False, True, None, None],
                          "repair": pl.Series([False, None, True, None, None],
                                              dtype=pl.Boolean)})
    out = base.predict(probe)
    vir = frame.filter(pl.col("track") == "vir")
    assert out[PREDICTION].to_list() == pytest.approx([
        vir.filter(pl.col("tire_change") & ~pl.col("repair"))["pit_loss_s"].median(),
        vir.filter(~pl.col("tire_change"))["pit_loss_s"].median(),
        frame.filter(pl.col("repair"))["pit_loss_s"].median(),
        vir["pit_loss_s"].median(),
        frame["pit_loss_s"].median()])
    assert out[FALLBACKS].to_list() == [[], [], ["track"], ["tire_change"],
                                        ["tire_change", "track"]]


def test_an_unknown_kind_is_answered_without_it_and_said(rng: np.random.Generator) -> None:
    frame = stop_frame(rng, 160)
    model = PitLossModel().fit(frame)
    probe = frame.head(4).with_columns(
        tire_change=pl.Series([True, False, None, None], dtype=pl.Boolean),
        repair=pl.lit(False))
    out = model.predict(probe)
    assert out[FALLBACKS].to_list() == [[], [], ["tire_change"], ["tire_change"]]
    unknown = model.predict(probe.with_columns(tire_change=pl.lit(None, pl.Boolean)))
    tires = model.predict(probe.with_columns(tire_change=pl.lit(True)))
    drive = model.predict(probe.with_columns(tire_change=pl.lit(False)))
    between = (unknown[PREDICTION] - drive[PREDICTION]) * (tires[PREDICTION] - unknown[PREDICTION])
    assert (between >= 0).all()  # the loss of a stop of unknown kind lies between the two


def test_a_model_trained_without_kinds_answers_every_stop_without_one(
        rng: np.random.Generator) -> None:
    frame = stop_frame(rng).with_columns(tire_change=pl.lit(None, pl.Boolean),
                                         repair=pl.lit(None, pl.Boolean))
    model = PitLossModel().fit(frame)
    out = model.predict(frame.head(2).with_columns(tire_change=pl.lit(True),
                                                   repair=pl.lit(False)))
    assert out[FALLBACKS].to_list() == [["tire_change"], ["tire_change"]]
    assert np.isnan(model.add_ons_s["tire_change"]) and np.isnan(model.add_ons_s["repair"])


@pytest.mark.parametrize("name", ["track", "caution"])
def test_the_track_and_the_flag_are_required(rng: np.random.Generator, name: str) -> None:
    frame = stop_frame(rng)
    model = PitLossModel().fit(frame)
    with pytest.raises(SchemaError, match=name):
        model.predict(frame.head(2).with_columns(pl.lit(None).cast(frame.schema[name])
                                                 .alias(name)))


def test_the_baseline_keeps_the_contract(tmp_path: Path, seed: int) -> None:
    check_model_contract(TrackKindMedianBaseline, stop_frame(np.random.default_rng(seed)),
                         tmp_path)


def test_scores_leave_out_groups_without_stops() -> None:
    rows = pl.DataFrame({"caution": [False, False, False, False],
                         "tire_change": [False, True, None, True],
                         "repair": [False, True, None, None],
                         "pit_loss_s": [20.0, 50.0, 30.0, 40.0]})
    scores = score_pit_loss(rows, pl.DataFrame({PREDICTION: [22.0, 46.0, 36.0, 40.0]}))
    assert scores == {"n_stops": 4.0, "mae_s": 3.0, "mae_green_s": 3.0,
                      "mae_drive_through_s": 2.0, "mae_tire_change_s": 2.0,
                      "mae_repair_s": 4.0}


def test_baseline_is_the_transit_time(rng: np.random.Generator) -> None:
    frame = stop_frame(rng)
    preds = TransitPitLossBaseline().fit(frame).predict(frame)
    expected = [TRACKS[t].pit_transit_s for t in frame["track"]]
    assert preds[PREDICTION].to_list() == expected


@pytest.mark.parametrize("cls", [PitLossModel, TrackKindMedianBaseline,
                                 TransitPitLossBaseline])
def test_registry_allows_the_pit_loss_kinds(cls: type[PitLossModel]) -> None:
    assert resolve_kind(cls.kind) is cls


def test_the_task_uses_the_engineers_baseline_and_reads_truth_where_it_exists() -> None:
    assert TASK.baseline is TrackKindMedianBaseline
    assert TASK.reads_truth and not TASK.needs_truth
