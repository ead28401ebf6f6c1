"""The field a lap's driving style is read against: per-track means and scales.

Style features differ by track (a hairpin lowers everyone's corner speeds), so both the
driver embedding and its nearest-neighbour baseline read a lap as z-scores against the
training field at the lap's track: what is left is how the driver differs from the
field there. ``StyleField`` holds those statistics (row 0 the pooled field, then one
row per training track) and says, per lap, which inputs it could not use:

- a feature the lap could not measure (null or NaN: the pedal-based throttle features
  at the tracks that log only the throttle blade, a lap without an upshift) has z-score
  0, the field's average, so it neither pulls the lap toward a driver nor away; the lap's
  ``fallbacks`` name it;
- a track the training data lacks is read against the laps of that track in the frame
  being predicted when there are at least ``min_field_laps`` of them (a batch of a new
  race), else against the pooled training field, which leaves the track's offset in the
  z-scores; either way the lap's ``fallbacks`` name ``track``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.errors import ModelError
from cognirace.features.style import STYLE_FEATURES
from cognirace.models.arrays import float_matrix
from cognirace.models.artifacts import ModelState
from cognirace.models.schema import FALLBACKS, fallbacks_spec

FloatArray = npt.NDArray[np.float64]

FALLBACKS_SPEC = fallbacks_spec(
    "a style feature the lap could not measure counts as the field's average (z-score 0); "
    "`track` when the training data lacked the lap's track and its field came from the "
    "frame's own laps there or the pooled training field")
"""The ``fallbacks`` output of the driver embedding and its baseline."""


def style_matrix(frame: pl.DataFrame) -> FloatArray:
    """The style features of ``frame`` as a matrix (NaN for null)."""
    return float_matrix(frame, STYLE_FEATURES)


def field_stats(x: FloatArray, fallback: tuple[FloatArray, FloatArray] | None = None
                ) -> tuple[FloatArray, FloatArray]:
    """Mean and scale (std, 1 where it is 0) of each column over its finite values.

    A column without a finite value (a feature no lap of this field could measure, such
    as a corner speed of a track with fewer corners) takes ``fallback``'s mean and scale
    (the pooled field's), else 0 and 1; it is never averaged over nothing.
    """
    finite = np.isfinite(x)
    has = finite.any(axis=0)
    mean, std = np.zeros(x.shape[1]), np.zeros(x.shape[1])
    if has.any():
        clean = np.where(finite, x, np.nan)[:, has]
        mean[has] = np.nanmean(clean, axis=0)
        std[has] = np.nanstd(clean, axis=0)
    scale = np.where(std > 1e-9, std, 1.0)
    if fallback is not None:
        mean = np.where(has, mean, fallback[0])
        scale = np.where(has, scale, fallback[1])
    return mean, scale


@dataclass(frozen=True)
class StyleField:
    """Per-track style statistics of a training field (see the module doc).

    Attributes:
        tracks: Training tracks, sorted; row ``i + 1`` of ``mean`` and ``scale`` is
            ``tracks[i]``'s field, row 0 the pooled field.
        mean: Mean of each style feature, ``(1 + len(tracks), len(STYLE_FEATURES))``.
        scale: Standard deviation (1 where it is 0), same shape.
    """

    tracks: tuple[str, ...]
    mean: FloatArray
    scale: FloatArray

    @classmethod
    def fit(cls, frame: pl.DataFrame) -> StyleField:
        """The field of ``frame``'s laps (``track`` and the style features)."""
        x = style_matrix(frame)
        tracks = tuple(sorted(set(frame["track"].to_list())))
        pooled = field_stats(x)
        stats = [pooled] + [field_stats(x[(frame["track"] == t).to_numpy()], pooled)
                            for t in tracks]
        return cls(tracks, np.vstack([m for m, _ in stats]), np.vstack([s for _, s in stats]))

    def zscore(self, frame: pl.DataFrame, *, clip_z: float, min_field_laps: int
               ) -> tuple[FloatArray, pl.Series]:
        """Each lap's features as z-scores against its track's field, and its fallbacks.

        Returns:
            The z-scores, clipped to ``±clip_z`` (so one bad sample cannot throw a lap
            far away), 0 where the lap has no finite value; and the ``fallbacks``
            column (``List(String)``) naming, per lap, what was replaced.
        """
        x = style_matrix(frame)
        tracks = frame["track"].to_numpy().astype(str)
        index = {t: i + 1 for i, t in enumerate(self.tracks)}
        rows = np.array([index.get(t, 0) for t in tracks], dtype=np.int64)
        mean, scale = self.mean[rows], self.scale[rows]
        pooled = (self.mean[0], self.scale[0])
        for track in sorted(set(tracks) - set(self.tracks)):
            mask = tracks == track
            if mask.sum() >= min_field_laps:
                mean[mask], scale[mask] = field_stats(x[mask], pooled)
        missing = ~np.isfinite(x)
        z = np.where(missing, 0.0, (np.where(missing, 0.0, x) - mean) / scale)
        return np.clip(z, -clip_z, clip_z), _fallbacks(missing, rows == 0)

    def to_state(self) -> ModelState:
        """The statistics as JSON values and arrays, for a model's ``_get_state``."""
        return ModelState(values={"tracks": list(self.tracks)},
                          arrays={"track_mean": self.mean, "track_scale": self.scale})

    @classmethod
    def from_state(cls, state: ModelState) -> StyleField:
        """The inverse of ``to_state``.

        Raises:
            ModelError: The arrays do not have one row per track plus the pooled row.
        """
        tracks = tuple(str(t) for t in state.values["tracks"])
        mean = np.asarray(state.arrays["track_mean"], dtype=np.float64)
        scale = np.asarray(state.arrays["track_scale"], dtype=np.float64)
        if mean.shape != (len(tracks) + 1, len(STYLE_FEATURES)) or scale.shape != mean.shape:
            raise ModelError("a stored style field does not match its tracks",
                             value=(mean.shape, scale.shape, len(tracks)),
                             hint="retrain the model with this version of cognirace")
        return cls(tracks, mean, scale)


def _fallbacks(missing: npt.NDArray[np.bool_], unknown_track: npt.NDArray[np.bool_]
               ) -> pl.Series:
    """Per lap, the names of the features it lacked, then ``track`` when it was unknown."""
    names: Sequence[str] = STYLE_FEATURES
    lists = [[names[int(j)] for j in np.flatnonzero(row)] + (["track"] if unknown else [])
             for row, unknown in zip(missing, unknown_track, strict=True)]
    return pl.Series(FALLBACKS, lists, dtype=pl.List(pl.String))


__all__ = ["FALLBACKS_SPEC", "StyleField", "field_stats", "style_matrix"]
