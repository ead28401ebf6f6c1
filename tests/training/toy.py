"""A toy task that keeps the task contract, for tests of training and evaluation.

Lap time as the track's mean green lap (the model) against the mean over every track
(the baseline). Both remember the races they were fitted on in ``FITTED_RACES`` and the
scorer the races it scored in ``SCORED_RACES``, so tests can check that evaluation
never scores a model on a race it learned from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import polars as pl

from cognirace.models import ColumnSpec, Model, ModelState
from cognirace.models.task import Task

FITTED_RACES: list[set[str]] = []
SCORED_RACES: list[set[str]] = []

_TRACK = ColumnSpec("track", "String", "track key")
_TARGET = ColumnSpec("lap_time_s", "Float64", "the lap's time", "s", 30.0, 600.0)
_OUTPUT = ColumnSpec("lap_time_pred_s", "Float64", "predicted lap time", "s", 30.0, 600.0)


class GlobalMeanBaseline(Model):
    """Every lap takes the mean lap time of the training rows."""

    kind = "toy_global_mean"
    inputs = (_TRACK,)
    targets = (_TARGET,)
    outputs = (_OUTPUT,)

    def _fit(self, frame: pl.DataFrame) -> None:
        FITTED_RACES.append(set(frame["race_id"].to_list()))
        self.mean_s_ = float(frame["lap_time_s"].mean())  # type: ignore[arg-type]

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        return pl.DataFrame({"lap_time_pred_s": np.full(frame.height, self.mean_s_)})

    def _get_state(self) -> ModelState:
        return ModelState(values={"mean_s": self.mean_s_})

    def _set_state(self, state: ModelState) -> None:
        self.mean_s_ = float(state.values["mean_s"])


class TrackMeanModel(GlobalMeanBaseline):
    """Each lap takes its track's mean lap time; an unseen track the overall mean."""

    kind = "toy_track_mean"
    keys: ClassVar[tuple[str, ...]] = ("race_id",)

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed

    def _fit(self, frame: pl.DataFrame) -> None:
        super()._fit(frame)
        means = frame.group_by("track").agg(pl.col("lap_time_s").mean()).sort("track")
        self.tracks_ = dict(zip(means["track"].to_list(), means["lap_time_s"].to_list(),
                                strict=True))

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        values = [self.tracks_.get(t, self.mean_s_) for t in frame["track"].to_list()]
        return pl.DataFrame({"lap_time_pred_s": pl.Series(values, dtype=pl.Float64)})

    def _get_state(self) -> ModelState:
        return ModelState(values={"mean_s": self.mean_s_, "tracks": self.tracks_})

    def _set_state(self, state: ModelState) -> None:
        super()._set_state(state)
        self.tracks_ = {str(k): float(v) for k, v in state.values["tracks"].items()}


def toy_rows(features: pl.DataFrame, truth: Mapping[str, pl.DataFrame] | None) -> pl.DataFrame:
    """Green laps with a time."""
    del truth
    return features.filter(pl.col("green_lap") & pl.col("lap_time_s").is_not_null()) \
        .select("race_id", "track", "car_number", "lap", "lap_time_s")


def score_toy(rows: pl.DataFrame, predictions: pl.DataFrame) -> dict[str, float]:
    """MAE and RMSE (s), and the share of laps within a second (no better direction)."""
    SCORED_RACES.append(set(rows["race_id"].to_list()))
    err = rows["lap_time_s"].to_numpy() - predictions["lap_time_pred_s"].to_numpy()
    return {"mae_s": float(np.mean(np.abs(err))), "rmse_s": float(np.sqrt(np.mean(err**2))),
            "share_within_1s": float(np.mean(np.abs(err) < 1.0))}


def toy_parts(rows: pl.DataFrame, predictions: pl.DataFrame) -> pl.DataFrame:
    """The MAE as (absolute error, 1) per lap."""
    err = (rows["lap_time_s"] - predictions["lap_time_pred_s"]).abs()
    return pl.DataFrame({"race_id": rows["race_id"], "num": err, "den": 1.0})


TOY = Task(
    name="toy", title="Lap time as the track's mean", model=TrackMeanModel,
    baseline=GlobalMeanBaseline, rows=toy_rows, score=score_toy, primary="mae_s",
    real_data_note="Works on timing files alone.", limits=("Ignores everything but the track.",),
    parts=toy_parts, ablations={"global mean": GlobalMeanBaseline},
)
