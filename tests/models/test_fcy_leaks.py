"""The caution hazard reads nothing that happens after the leader crosses the line.

Checked by behaviour, not by column names: a season is simulated and ingested, the
lap feature table is rebuilt from lake laps that were cut or rewritten after a moment
in a race (later flags, the caution's start, later lap times, pit stops, positions),
and the predictions for the rows up to that moment must not move.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cognirace.domain.formats import FLAG_CAUTION, FLAG_GREEN
from cognirace.features import aggregate_telemetry, build_lap_features
from cognirace.lake import Lake, open_lake
from cognirace.models.base import Model
from cognirace.models.fcy import (
    TASK,
    ConstantHazardBaseline,
    FcyHazardModel,
    FcyHazardWithoutOffPace,
    TrackHazardBaseline,
    fcy_rows,
)
from cognirace.training.truth import load_truth


@dataclass(frozen=True)
class TimingSeason:
    """A small simulated season: its lake (timing only) and the truth."""

    lake: Lake
    truth: dict[str, pl.DataFrame]

    def features(self, laps: pl.DataFrame | None = None) -> pl.DataFrame:
        """The lap feature table built from ``laps`` (the lake's own by default)."""
        lake = self.lake
        telemetry = aggregate_telemetry(lake.scan_telemetry().clear())
        return build_lap_features(
            (lake.laps if laps is None else laps).lazy(), lake.races.lazy(),
            lake.weather.lazy(), telemetry).collect()


def timing_season(root: Path, *, tracks: list[str], seed: int) -> TimingSeason:
    """Simulate and ingest two timing-only races at each of ``tracks``."""
    from cognirace.ingest import ingest
    from cognirace.sim import simulate_season

    simulate_season(root / "races", tracks=tracks, races=2, cars=14, telemetry_hz=0,
                    seed=seed)
    ingest(root / "races", root / "lake")
    lake = open_lake(root / "lake")
    return TimingSeason(lake, load_truth(lake))


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> TimingSeason:
    """Tracks with many cautions, so races have starts to hide."""
    return timing_season(tmp_path_factory.mktemp("fcy_leaks"),
                         tracks=["cota", "indianapolis", "sonoma"], seed=21)


@pytest.fixture(scope="module")
def fitted(season: TimingSeason) -> dict[str, Model]:
    rows = fcy_rows(season.features())
    return {cls.__name__: cls().fit(rows) for cls in
            (FcyHazardModel, FcyHazardWithoutOffPace, TrackHazardBaseline,
             ConstantHazardBaseline)}


def _cut_points(features: pl.DataFrame) -> list[tuple[str, int, datetime]]:
    """For each race, a green leader lap some laps before its last caution starts (or
    mid-race without one): the race id, the lap and the moment the leader crossed it."""
    points = []
    for (race,), laps in features.filter(pl.col("position") == 1).sort("lap") \
            .group_by("race_id", maintain_order=True):
        flags = laps["flag"].to_list()
        starts = [i for i in range(1, len(flags))
                  if flags[i] == FLAG_CAUTION and flags[i - 1] != FLAG_CAUTION]
        index = max(starts[-1] - 3, 2) if starts else len(flags) // 2
        row = laps.row(index, named=True)
        points.append((str(race), int(row["lap"]), row["lap_end"]))
    return points


def _rewrite_after(laps: pl.DataFrame, race: str, moment: datetime,
                   rng: np.random.Generator) -> pl.DataFrame:
    """Every lap of ``race`` ending after ``moment`` rewritten: flags swapped (a caution
    starts on the very next lap, the real ones vanish), lap and pit times scrambled,
    cars sent into the pits, the finishing order shuffled."""
    later = (pl.col("race_id") == race) & (pl.col("lap_end") > moment)
    n = laps.height
    noise = pl.Series(rng.uniform(0.5, 3.0, n))
    pits = pl.Series(rng.random(n) < 0.2)
    return laps.with_columns(
        flag=pl.when(later).then(pl.when(pl.col("flag") == FLAG_CAUTION)
                                 .then(pl.lit(FLAG_GREEN)).otherwise(pl.lit(FLAG_CAUTION)))
        .otherwise(pl.col("flag")),
        lap_time_s=pl.when(later).then(pl.col("lap_time_s") * noise)
        .otherwise(pl.col("lap_time_s")),
        in_pit=pl.when(later).then(pits).otherwise(pl.col("in_pit")),
        pit_time_s=pl.when(later).then(noise * 40.0).otherwise(pl.col("pit_time_s")),
    )


def _predictions(model: Model, features: pl.DataFrame, race: str, lap: int) -> pl.DataFrame:
    rows = fcy_rows(features).filter((pl.col("race_id") == race) & (pl.col("lap") <= lap))
    assert rows.height >= 2, "the cut must leave rows before it"
    return model.predict(rows)


@pytest.mark.parametrize("name", ["FcyHazardModel", "FcyHazardWithoutOffPace",
                                  "TrackHazardBaseline", "ConstantHazardBaseline"])
def test_predictions_ignore_everything_after_the_leaders_line(
        season: TimingSeason, fitted: dict[str, Model], name: str) -> None:
    rng = np.random.default_rng(3)
    laps = season.lake.laps
    full = season.features()
    for race, lap, moment in _cut_points(full):
        before = _predictions(fitted[name], full, race, lap)
        cut = season.features(laps.filter((pl.col("race_id") != race)
                                          | (pl.col("lap_end") <= moment)))
        rewritten = season.features(_rewrite_after(laps, race, moment, rng))
        assert_frame_equal(_predictions(fitted[name], cut, race, lap), before)
        assert_frame_equal(_predictions(fitted[name], rewritten, race, lap), before)


def test_the_rewrite_changes_the_labels_it_must_not_be_read_for(season: TimingSeason) -> None:
    # Guard against a vacuous check: after the rewrite a caution starts on the lap after
    # each cut, so the labels of the rows before it do change.
    rng = np.random.default_rng(3)
    full = season.features()
    for race, lap, moment in _cut_points(full):
        rewritten = season.features(_rewrite_after(season.lake.laps, race, moment, rng))
        label = fcy_rows(rewritten).filter((pl.col("race_id") == race)
                                           & (pl.col("lap") == lap))["laps_to_fcy_start"]
        assert label.to_list() == [1]


def test_the_task_scores_rows_built_only_from_the_timing(season: TimingSeason) -> None:
    # fcy builds its rows without the simulator's truth: the same rows with or without it.
    features = season.features()
    assert not TASK.needs_truth and not TASK.reads_truth
    assert_frame_equal(TASK.rows(features, season.truth), TASK.rows(features, None))
