"""One race of a season, written so that a piece of work run twice writes it once.

``simulate_one`` writes straight into the event's folder, which both races of a
weekend share. On a cluster a piece can be killed half-way and run again, so here the
race is written first under ``OUT/.staging/<race>-<random>/`` (the same file system),
then each file is moved into the event's folder by an atomic rename. A file of the
season is therefore always whole; a race killed before its moves leaves only its
staging folder (which nothing reads: the ingest skips folders starting with ``.``),
and the retry writes the same bytes, since every race draws from its own seed
sequence. The staging folder is removed either way.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import uuid
from dataclasses import replace
from pathlib import Path

from cognirace.sim.drivers import Driver
from cognirace.sim.season import RaceSummary, SeasonRace, race_folder, season_roster, simulate_one

STAGING = ".staging"
"""Folder under the season's folder where races are written before they move in."""


@functools.lru_cache(maxsize=4)
def _roster(seed: int) -> list[Driver]:
    """The season's roster, drawn once per process and seed."""
    return season_roster(seed)


def write_season_race(out: Path, race: SeasonRace) -> RaceSummary:
    """Simulate one race of a season and move its files under ``out`` (see the docstring).

    Args:
        out: The season's folder (absolute when pieces run elsewhere).
        race: The race (``season_races``).

    Returns:
        What ``simulate_one`` returns for the same race, its paths under ``out``.
    """
    config = race.config
    stage = out / STAGING / f"{config.meta_event}_{config.track}_{config.session}-" \
        f"{uuid.uuid4().hex[:8]}"
    try:
        written = simulate_one(stage, config, _roster(race.seed), race.seed,
                               first_sebring_r1=race.first_sebring_r1)
        final = race_folder(out, config)
        moved = []
        for path in written.files:
            target = final / path.relative_to(written.folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            path.replace(target)
            moved.append(target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    _remove_if_empty(out / STAGING)
    return replace(written, folder=final, files=tuple(moved))


def _remove_if_empty(folder: Path) -> None:
    """Remove the staging root once no race is being written in it."""
    # another race may still be being written there, or the folder is gone already
    with contextlib.suppress(OSError):
        folder.rmdir()


__all__ = ["STAGING", "write_season_race"]
