"""Baselines of the anomaly detector: the z-score rules a race engineer would set.

``TunedZScoreBaseline`` is the fair one: every window statistic (and relation) scored by
its |z| against the training windows, the limit chosen so that clean training windows
raise the same false alarms per car-hour as the detector's threshold allows.
``ZScoreBaseline`` is the former rule, a fixed ``|z| > 4``, kept so the evaluation can
show once how much the tuning changes (it raised tens of alarms per car-hour).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import polars as pl

from cognirace.features.windows import CHANNELS, RELATIONS
from cognirace.models.anomaly_columns import (
    KEYS,
    OUTPUTS,
    RELATION_CHANNELS,
    TARGETS,
    WINDOW_INPUTS,
    FloatArray,
    budget_threshold,
    channel_z,
    labels,
    robust_stats,
    top_channels,
    window_matrix,
    window_z,
    with_throttle_channel,
)
from cognirace.models.artifacts import ModelState
from cognirace.models.base import Model


class ZScoreBaseline(Model):
    """Baseline: a sensor fault where a channel statistic is over ``z_limit`` std out.

    Centre (median) and scale (std) of each statistic come from every training window,
    faulty or not, as a rule set without labels would have them.

    Hyperparameters:
        z_limit: |z| from which a window is flagged.
    """

    kind = "anomaly_zscore"
    kind_version = "2"  # the window features of AnomalyDetector 2
    inputs = WINDOW_INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    centre_: FloatArray
    scale_: FloatArray

    def __init__(self, *, z_limit: float = 4.0) -> None:
        self.z_limit = z_limit

    def _fit(self, frame: pl.DataFrame) -> None:
        self.centre_, self.scale_ = robust_stats(window_matrix(frame))

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        z = channel_z(window_matrix(frame), self.centre_, self.scale_)
        top = z.max(axis=1) if z.size else np.zeros(frame.height)
        flag = top > self.z_limit
        channels = with_throttle_channel(top_channels(z, 1), frame)
        return pl.DataFrame({
            "p_anomaly": np.clip(top / (2.0 * self.z_limit), 0.0, 1.0), "is_anomaly": flag,
            "anomaly_kind": ["sensor" if f else "none" for f in flag],
            "anomaly_channels": [c if f else "" for c, f in zip(channels, flag, strict=True)],
        }, schema={"p_anomaly": pl.Float64, "is_anomaly": pl.Boolean,
                   "anomaly_kind": pl.String, "anomaly_channels": pl.String})

    def _get_state(self) -> ModelState:
        return ModelState(arrays={"centre": self.centre_, "scale": self.scale_})

    def _set_state(self, state: ModelState) -> None:
        self.centre_ = np.asarray(state.arrays["centre"], dtype=np.float64)
        self.scale_ = np.asarray(state.arrays["scale"], dtype=np.float64)


class TunedZScoreBaseline(Model):
    """Baseline: the z-score rule a race engineer would set, tuned to the detector's
    alarm budget.

    Each window statistic is scored by how many standard deviations it lies from the
    clean training windows' median, and a window alarms as a sensor fault on the channel
    with the largest |z| when that passes the limit. The limit is not a fixed 4: it is chosen
    on the training races so that their clean windows raise at most
    ``max_false_alarms_per_hour`` alarms per car-hour, the budget the detector's
    threshold is set to, so both are compared at the same false-alarm rate.

    Hyperparameters:
        max_false_alarms_per_hour: Alarm budget on clean training windows, per car-hour
            (``AnomalyDetector``'s default).
        relations: Whether the physics relations count too, each as a channel of its own.
    """

    kind = "anomaly_zscore_tuned"
    kind_version = "1"
    inputs = WINDOW_INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    centre_: FloatArray
    scale_: FloatArray
    z_limit_: float

    def __init__(self, *, max_false_alarms_per_hour: float = 0.25,
                 relations: bool = True) -> None:
        self.max_false_alarms_per_hour = max_false_alarms_per_hour
        self.relations = relations

    def _z(self, frame: pl.DataFrame) -> FloatArray:
        x = window_matrix(frame)
        if self.relations:
            return window_z(x, self.centre_, self.scale_)
        return channel_z(x, self.centre_, self.scale_)

    def _fit(self, frame: pl.DataFrame) -> None:
        x, clean = window_matrix(frame), labels(frame) == 0
        self.centre_, self.scale_ = robust_stats(x[clean] if clean.any() else x)
        top = self._z(frame).max(axis=1) if frame.height else np.zeros(0)
        limit = budget_threshold(top, clean, self.max_false_alarms_per_hour)
        self.z_limit_ = float(top.max(initial=0.0)) if limit is None else limit

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        z = self._z(frame)
        top = z.max(axis=1) if z.size else np.zeros(frame.height)
        flag = top > self.z_limit_
        names = (*CHANNELS, *RELATIONS) if self.relations else CHANNELS
        best = [names[j] for j in np.argmax(z, axis=1)] if z.size else []
        channels = with_throttle_channel(
            [RELATION_CHANNELS.get(b, b) for b in best], frame)
        return pl.DataFrame({
            "p_anomaly": np.clip(top / (2.0 * max(self.z_limit_, 1e-9)), 0.0, 1.0),
            "is_anomaly": flag,
            "anomaly_kind": ["sensor" if f else "none" for f in flag],
            "anomaly_channels": [c if f else "" for c, f in zip(channels, flag, strict=True)],
        }, schema={"p_anomaly": pl.Float64, "is_anomaly": pl.Boolean,
                   "anomaly_kind": pl.String, "anomaly_channels": pl.String})

    def _get_state(self) -> ModelState:
        return ModelState(values={"z_limit": self.z_limit_},
                          arrays={"centre": self.centre_, "scale": self.scale_})

    def _set_state(self, state: ModelState) -> None:
        self.z_limit_ = float(state.values["z_limit"])
        self.centre_ = np.asarray(state.arrays["centre"], dtype=np.float64)
        self.scale_ = np.asarray(state.arrays["scale"], dtype=np.float64)


__all__ = ["TunedZScoreBaseline", "ZScoreBaseline"]
