"""A tiny simulated season, ingested once: two tracks, two short races each.

Twelve cars over 30-minute races give about 600 green laps in four races, enough pit
stops for the pit-loss task in at least two races (seeds 3 and 4), and 2 Hz telemetry
in each track's Race 2 for the fuel task, with the real files' quirks switched on. A
second lake from another seed stands in for an unseen season.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cognirace.lake import Lake, open_lake
from cognirace.registry import Registry
from cognirace.training import open_registry
from training.toy import FITTED_RACES, SCORED_RACES, TOY

TRACKS = ("barber", "sonoma")


def tiny_lake(root: Path, seed: int, races_per_track: int = 2, year: int = 2025) -> Lake:
    """Simulate and ingest a small season of ``year`` under ``root``; return its lake.

    The simulator and the ingest are imported here, so tests that need neither collect
    and run on their own.
    """
    from cognirace.ingest import ingest
    from cognirace.sim import RaceConfig, season_roster, simulate_one

    roster = season_roster(seed)
    for event, track in enumerate(TRACKS):
        for race in range(1, races_per_track + 1):
            config = RaceConfig(
                track, session=f"R{race}", event_number=event + 1,
                event_date=dt.date(year, 4, 6) + dt.timedelta(days=14 * event),
                n_cars=12, duration_s=1800.0, telemetry_hz=2.0 if race == 2 else 0.0)
            simulate_one(root / "races", config, roster, seed)
    ingest(root / "races", root / "lake")
    return open_lake(root / "lake")


@pytest.fixture(scope="session")
def season(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The training season."""
    return tiny_lake(tmp_path_factory.mktemp("season"), seed=3)


@pytest.fixture(scope="session")
def heldout(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """An unseen season from another seed and year (so a history lake too)."""
    return tiny_lake(tmp_path_factory.mktemp("heldout"), seed=4, year=2024)


@pytest.fixture
def registry(memory_url: str) -> Registry:
    """A registry on memory:// allowed to hold the toy task."""
    return open_registry(memory_url, [TOY])


@pytest.fixture(autouse=True)
def _clear_spies() -> None:
    FITTED_RACES.clear()
    SCORED_RACES.clear()
