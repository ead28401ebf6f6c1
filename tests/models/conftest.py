"""Fixtures shared by the model tests: a small simulated season, built once per session."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pytest

from cognirace.features import feature_table
from cognirace.lake import open_lake
from cognirace.training.truth import load_truth


@dataclass(frozen=True)
class SmallSeason:
    """A small simulated season: its lap feature table and the simulator's truth."""

    features: pl.DataFrame
    truth: dict[str, pl.DataFrame]


@pytest.fixture(scope="session")
def pace_lake(tmp_path_factory: pytest.TempPathFactory) -> SmallSeason:
    """Three tracks of different lengths, four races each, 14 cars, no telemetry.

    Generic on purpose: any model test may read it (it is never modified). The
    simulator and the ingest are imported here, so tests with frames built in code
    never depend on them.
    """
    from cognirace.ingest import ingest
    from cognirace.sim import simulate_season

    root = tmp_path_factory.mktemp("pace_season")
    simulate_season(root / "races", tracks=["barber", "road_america", "sonoma"], races=4,
                    cars=14, telemetry_hz=0, seed=11)
    ingest(root / "races", root / "lake")
    lake = open_lake(root / "lake")
    return SmallSeason(feature_table(lake), load_truth(lake))
