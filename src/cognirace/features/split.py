"""Train/test splits for evaluation: whole races go to one side, never single rows.

Laps of one race share weather, cautions and the field's pace; splitting rows would
let a model see the race it is tested on. Both splitters yield ``Split`` objects, so
evaluation code loops over either the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import polars as pl

from cognirace.errors import DataError


class Split(NamedTuple):
    """One train/test split.

    Attributes:
        name: What is held out (``races`` or ``track=<key>``).
        train: Rows of the training races.
        test: Rows of the held-out races.
    """

    name: str
    train: pl.DataFrame
    test: pl.DataFrame


def _race_ids(table: pl.DataFrame) -> list[str]:
    ids = sorted(table["race_id"].unique().to_list())
    if len(ids) < 2:
        raise DataError("a split by race needs at least two races", value=len(ids),
                        hint="build the feature table over more races")
    return ids


def split_by_race(table: pl.DataFrame, test_fraction: float = 0.2, seed: int = 0
                  ) -> Iterator[Split]:
    """Yield one split holding out a random share of the races.

    Args:
        table: Rows with a ``race_id`` column (e.g. the lap feature table).
        test_fraction: Share of races held out, in (0, 1); at least one race goes to
            each side.
        seed: Seed of the draw; the same table and seed give the same split.

    Raises:
        DataError: for fewer than two races or a fraction outside (0, 1).
    """
    if not 0.0 < test_fraction < 1.0:
        raise DataError("test_fraction must be within (0, 1)", value=test_fraction)
    ids = _race_ids(table)
    n_test = min(max(round(len(ids) * test_fraction), 1), len(ids) - 1)
    rng = np.random.default_rng(seed)
    test_ids = {ids[i] for i in rng.choice(len(ids), size=n_test, replace=False)}
    is_test = pl.col("race_id").is_in(sorted(test_ids))
    yield Split("races", table.filter(~is_test), table.filter(is_test))


def leave_one_track_out(table: pl.DataFrame) -> Iterator[Split]:
    """Yield one split per track: that track's races held out, the others trained on.

    Args:
        table: Rows with ``race_id`` and ``track`` columns.

    Raises:
        DataError: when the table holds fewer than two tracks.
    """
    tracks = sorted(table["track"].unique().to_list())
    if len(tracks) < 2:
        raise DataError("leave-one-track-out needs at least two tracks", value=tracks)
    for track in tracks:
        held = pl.col("track") == track
        yield Split(f"track={track}", table.filter(~held), table.filter(held))


__all__ = ["Split", "leave_one_track_out", "split_by_race"]
