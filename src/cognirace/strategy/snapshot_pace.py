"""A pace for a car the ``laptime`` model has none for yet: the field's, marked as such.

The ``laptime`` model reads a car's green pace, so it has no answer for a car before its
first green lap: on the first laps, through a caution from lap 1, or for a car that has
been in the pit lane since the start. ``snapshot_at`` refuses such a snapshot by
default: the Monte Carlo cannot race a car without a pace of its own.

With ``pace_fallback`` on, the car gets the field's pace instead: the median of each
quantile over the cars the model does answer for, or, when it answers for none, the
median lap the field has run so far (pit laps left out), with P10 = P50 = P90 since no
spread is known. The car is marked (``CarSnapshot.pace_fallback``) and the snapshot's
notes say which cars and what pace, so nothing downstream takes it for a forecast.

Why this is honest for the rejoin estimate, the one reader that asks for it: the
estimate reads a pace to carry the gaps at the line forward over the in-lap and the
out-lap. Cars given one common pace keep the gaps they have, which is what a pit wall
assumes before it has seen anyone's green lap. It is not a forecast of the car's own
pace: a Monte Carlo run on such a snapshot races the car at the field's pace without
its own spread, and its notes say so.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

import polars as pl

Quantiles = tuple[float, float, float]
"""P10, P50 and P90 of a car's next green lap, s."""


def field_pace(features: pl.DataFrame, quantiles: Mapping[str, Quantiles]
               ) -> tuple[Quantiles, str]:
    """The field's pace and where it comes from (for the note).

    Args:
        features: The lap features of the laps known at the snapshot.
        quantiles: The ``laptime`` model's answers by car number (may be empty).

    Returns:
        ``(p10, p50, p90)`` in s, and a short account of how they were taken.
    """
    if quantiles:
        p10, p50, p90 = (statistics.median(q[k] for q in quantiles.values()) for k in range(3))
        return (p10, p50, p90), f"the median of the {len(quantiles)} cars' quantiles"
    laps = features.filter(~pl.col("in_pit") & ~pl.col("out_lap"))["lap_time_s"].drop_nulls()
    if not len(laps):
        laps = features["lap_time_s"].drop_nulls()
    median = float(statistics.median(laps.to_list()))
    return (median, median, median), (f"the field's median lap so far ({len(laps)} laps, "
                                      "no spread known: P10 = P50 = P90)")


def with_field_pace(features: pl.DataFrame, quantiles: Mapping[str, Quantiles],
                    running: Sequence[str], notes: list[str]) -> dict[str, Quantiles]:
    """``quantiles`` with the field's pace given to each running car that lacks one.

    Args:
        features: The lap features of the laps known at the snapshot.
        quantiles: The ``laptime`` model's answers by car number.
        running: The running cars' numbers.
        notes: The snapshot's notes; the fallback is added to them.

    Returns:
        The answers, plus one entry per running car that had none (the cars given the
        fallback are those not in ``quantiles``).
    """
    lacking = [car for car in running if car not in quantiles]
    if not lacking:
        return dict(quantiles)
    pace, how = field_pace(features, quantiles)
    notes.append(f"laptime: no lap-time quantiles for car(s) {', '.join(lacking)} (no "
                 f"green lap yet): given the field's pace, P50 {pace[1]:.1f} s, {how} "
                 "(a fallback, not a forecast of their own pace)")
    return {**quantiles, **dict.fromkeys(lacking, pace)}


__all__ = ["Quantiles", "field_pace", "with_field_pace"]
