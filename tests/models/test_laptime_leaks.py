"""Leaks by behaviour: the lap-time forecast does not move when the future does.

A leak test that reads column names passes a model that reads the future through a
feature built from it. These tests change the lake instead: every lap that ends after a
cut time is dropped, or its values (lap and sector times, pit times, the weather and
the telemetry after the cut) are changed, and the feature table is rebuilt from the
changed lake. A row whose lap ended before the cut must keep every input and every
prediction, bit for bit, while its target (the next green lap) is free to move.

``lake_features`` and the ``leak_lake`` fixture are shared with the tire and fuel leak
tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl
import pytest

from cognirace.features import aggregate_telemetry, build_lap_features
from cognirace.lake import Lake, open_lake
from cognirace.models.laptime import (
    INPUTS,
    OUTPUT_NAMES,
    TASK,
    LapTimeModel,
    PaceMedianBaseline,
    laptime_rows,
)
from cognirace.training.truth import load_truth

Cuts = Mapping[str, dt.datetime]


@dataclass(frozen=True)
class LeakLake:
    """A small simulated season with telemetry, its truth, and a cut time per race."""

    lake: Lake
    truth: dict[str, pl.DataFrame]
    cuts: dict[str, dt.datetime]


@pytest.fixture(scope="session")
def leak_lake(tmp_path_factory: pytest.TempPathFactory) -> LeakLake:
    """Two tracks, two races each, 10 cars, telemetry at 1 Hz; cut at each race's
    median lap end."""
    from cognirace.ingest import ingest
    from cognirace.sim import simulate_season

    root = tmp_path_factory.mktemp("leak_lake")
    simulate_season(root / "races", tracks=["barber", "sonoma"], races=2, cars=10,
                    telemetry_hz=1.0, seed=3)
    ingest(root / "races", root / "lake")
    lake = open_lake(root / "lake")
    ends = lake.laps.group_by("race_id").agg(pl.col("lap_end").median())
    cuts = dict(ends.iter_rows())
    return LeakLake(lake, load_truth(lake), cuts)


def _after(cuts: Cuts, time: str) -> pl.Expr:
    """True where ``time`` is after its race's cut."""
    cut = pl.col("race_id").replace_strict(dict(cuts), return_dtype=pl.Datetime("us", "UTC"))
    return pl.col(time) > cut


def lake_features(lake: Lake, *, until: Cuts | None = None,
                  perturb_after: Cuts | None = None) -> pl.DataFrame:
    """The lap feature table of ``lake``, with the future dropped or changed.

    Args:
        until: Drop every lap ending after its race's cut, its telemetry samples, and
            weather rows after the cut: what a live feed had delivered by then.
        perturb_after: Keep every lap, but change what happens after the cut: lap and
            sector times of laps ending after it grow by a fifth and 3 s, their pit times
            by 45 s, weather after it warms by 8 degC, and their telemetry reads other
            revolutions and throttle. Flags, stops and line-crossing times stay, so stints
            and green laps keep their shape.
    """
    laps, weather = lake.laps, lake.weather
    telemetry = pl.concat([lake.scan_telemetry(rid) for rid in lake.race_ids])
    if until is not None:
        laps = laps.filter(~_after(until, "lap_end"))
        weather = weather.filter(~_after(until, "time"))
        telemetry = telemetry.join(laps.lazy().select("race_id", "vehicle_id", "lap"),
                                   on=["race_id", "vehicle_id", "lap"], how="semi")
    if perturb_after is not None:
        late = _after(perturb_after, "lap_end")
        laps = laps.with_columns(
            pl.when(late).then(pl.col(c) * 1.2 + 3.0).otherwise(pl.col(c)).alias(c)
            for c in ("lap_time_s", "s1_s", "s2_s", "s3_s")
        ).with_columns(pl.when(late).then(pl.col("pit_time_s") + 45.0)
                       .otherwise(pl.col("pit_time_s")).alias("pit_time_s"))
        weather = weather.with_columns(
            pl.when(_after(perturb_after, "time")).then(pl.col(c) + 8.0).otherwise(pl.col(c))
            .alias(c) for c in ("air_temp_c", "track_temp_c"))
        late_laps = laps.lazy().filter(late).select("race_id", "vehicle_id", "lap",
                                                    pl.lit(True).alias("_late"))
        telemetry = telemetry.join(late_laps, on=["race_id", "vehicle_id", "lap"],
                                   how="left").with_columns(
            pl.when(pl.col("_late")).then(pl.col(c) * 0.8).otherwise(pl.col(c)).alias(c)
            for c in ("rpm", "aps", "ath")).drop("_late")
    return build_lap_features(laps.lazy(), lake.races.lazy(), weather.lazy(),
                              aggregate_telemetry(telemetry)).collect()


def before_cut(frame: pl.DataFrame, lake: Lake, cuts: Cuts) -> pl.DataFrame:
    """Rows of ``frame`` (keyed by race, car and lap) whose lap ended by the cut."""
    ends = lake.laps.select("race_id", "car_number", "lap", "lap_end")
    return frame.join(ends, on=["race_id", "car_number", "lap"]) \
        .filter(~_after(cuts, "lap_end")).drop("lap_end")


KEYS = ["race_id", "car_number", "lap"]
INPUT_NAMES = [spec.name for spec in INPUTS]


@pytest.fixture(scope="module")
def fitted(leak_lake: LeakLake) -> tuple[pl.DataFrame, LapTimeModel]:
    rows = laptime_rows(lake_features(leak_lake.lake))
    return rows, LapTimeModel(n_estimators=40).fit(rows)


def test_dropping_everything_after_the_cut_changes_no_input_or_forecast(
        leak_lake: LeakLake, fitted: tuple[pl.DataFrame, LapTimeModel]) -> None:
    rows, model = fitted
    early = before_cut(rows, leak_lake.lake, leak_lake.cuts).sort(KEYS)
    assert early.height > 100
    live = lake_features(leak_lake.lake, until=leak_lake.cuts)
    seen = early.select(KEYS).join(live, on=KEYS, how="left").sort(KEYS)
    # Every input of a row is in the table built from what was known at the cut, and
    # equal; the forecasts from either are the same bits.
    assert seen.select(INPUT_NAMES).equals(early.select(INPUT_NAMES))
    assert model.predict(seen).select(OUTPUT_NAMES).equals(
        model.predict(early).select(OUTPUT_NAMES))
    # The last row of each car before the cut has its target (the next green lap)
    # after the cut: the live table cannot build it, and no input needed it.
    assert laptime_rows(live).height < rows.height


def test_changing_the_future_moves_targets_but_no_forecast(
        leak_lake: LeakLake, fitted: tuple[pl.DataFrame, LapTimeModel]) -> None:
    rows, model = fitted
    changed = laptime_rows(lake_features(leak_lake.lake, perturb_after=leak_lake.cuts))
    early = before_cut(rows, leak_lake.lake, leak_lake.cuts).sort(KEYS)
    moved = before_cut(changed, leak_lake.lake, leak_lake.cuts).sort(KEYS)
    assert moved.select(KEYS).equals(early.select(KEYS))
    assert moved.select(INPUT_NAMES).equals(early.select(INPUT_NAMES))
    # The perturbation reached the labels: rows whose next green lap ends after the cut.
    target_moved = (moved["next_lap_time_s"] != early["next_lap_time_s"]).sum()
    assert target_moved >= 10
    for predictor in (model, PaceMedianBaseline().fit(rows)):
        names = [spec.name for spec in predictor.outputs]
        assert predictor.predict(moved).select(names).equals(
            predictor.predict(early).select(names))


def test_parts_add_up_to_the_primary_metric(
        fitted: tuple[pl.DataFrame, LapTimeModel]) -> None:
    rows, model = fitted
    assert TASK.parts is not None
    for predictor in (model, PaceMedianBaseline().fit(rows)):
        predictions = predictor.predict(rows)
        parts = TASK.parts(rows, predictions)
        assert parts.columns == ["race_id", "num", "den"]
        assert parts.height == rows.height
        assert parts["num"].sum() / parts["den"].sum() == pytest.approx(
            TASK.score(rows, predictions)[TASK.primary], rel=1e-12)
        assert set(parts["race_id"]) == set(rows["race_id"])


def test_required_inputs_are_refused_when_missing(
        fitted: tuple[pl.DataFrame, LapTimeModel]) -> None:
    from cognirace.errors import SchemaError

    rows, model = fitted
    required = [spec.name for spec in INPUTS if not spec.nullable]
    assert set(INPUT_NAMES) - set(required) == {"gap_ahead_s"}  # none for the leader
    for name in required:
        broken = rows.head(3).with_columns(pl.lit(None).cast(rows.schema[name]).alias(name))
        with pytest.raises(SchemaError, match=name):
            model.predict(broken)
    leader = rows.filter(pl.col("position") == 1).head(2)
    assert leader["gap_ahead_s"].null_count() == leader.height
    assert model.predict(leader).height == leader.height
