"""Per-row values looked up by track key: learned offsets, means, and the tracks' facts.

Several models keep a value per track and must answer for a track they never saw; one
lookup with an explicit default keeps that rule the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from cognirace.domain.tracks import TRACKS
from cognirace.models.lgbm import FloatArray

TRACK_LENGTH_KM: dict[str, float] = {key: t.length_km for key, t in TRACKS.items()}
"""Lap length of each known track, km."""

MEAN_TRACK_LENGTH_KM = float(np.mean(list(TRACK_LENGTH_KM.values())))
"""The stand-in length for a track CogniRace does not know, km."""


def per_track(values: Mapping[str, float], tracks: Iterable[object], default: float
              ) -> FloatArray:
    """``values[track]`` for each row's track, ``default`` where the track has no value."""
    return np.array([values.get(str(t), default) for t in tracks], dtype=np.float64)


__all__ = ["MEAN_TRACK_LENGTH_KM", "TRACK_LENGTH_KM", "per_track"]
