"""What the anomaly detector and its baselines read and write, and the helpers they share.

Column contracts (a window's statistics, the car's history, the truth class and the
outputs), the window matrix, |z| of each statistic against the clean training windows
(per channel, per relation, and channel-blind), the alarm threshold for a budget of false
alarms per car-hour, and naming the channels behind an alarm.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.features.windows import (
    CHANNELS,
    HISTORY_FEATURES,
    RELATIONS,
    STATS,
    THROTTLE,
    WINDOW_FEATURES,
    WINDOW_S,
)
from cognirace.models.anomaly_scoring import KINDS, TARGET
from cognirace.models.arrays import float_matrix
from cognirace.models.schema import ColumnSpec

FloatArray = npt.NDArray[np.float64]

FAULT_KIND: dict[str, str] = {
    "stuck": "sensor", "dropout": "sensor", "spike": "sensor", "drift": "sensor",
    "brake_fade": "brake", "power_loss": "power", "gearbox": "gearbox",
}
"""The simulator's fault kinds folded into the detector's classes."""
KIND_CHANNELS: dict[str, str] = {
    "brake": "pbrake_f,pbrake_r,accx_g", "power": f"{THROTTLE},accx_g,speed_kph",
    "gearbox": "gear,rpm",
}
"""Channels a mechanical fault shows in: their relation, not one value, is wrong. The
throttle is named by the channel the window read it from (``with_throttle_channel``)."""
RELATION_CHANNELS: dict[str, str] = {
    "brake_g_per_bar": "pbrake_f,accx_g", "full_throttle_accx_g": f"{THROTTLE},accx_g",
    "full_throttle_speed_kph": f"{THROTTLE},speed_kph", "rpm_per_kph": "rpm,speed_kph",
    "accx_resid_g": "accx_g,speed_kph", "rear_front_brake_ratio": "pbrake_r,pbrake_f",
    "steer_straight_deg": "steering_deg,accy_g", "accy_straight_g": "accy_g,steering_deg",
    "accy_per_steer_g_per_deg": "accy_g,steering_deg",
}
"""The channels each physics relation of ``features.windows`` ties together."""
KEYS: tuple[str, ...] = ("race_id", "vehicle_id", "window_id")

WINDOW_INPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("n_samples", "Int32", "Samples in the window", "", 1, 10_000,
               nullable=False),
    *(ColumnSpec(name, "Float64", f"Window statistic `{name}` (see features.windows); "
                 "null where the window lacks what it needs (a dropout, no braking)")
      for name in WINDOW_FEATURES[1:]),
)
"""The window's own statistics: what the z-score baselines read."""
HISTORY_INPUTS: tuple[ColumnSpec, ...] = tuple(
    ColumnSpec(name, "Float64", f"`{name.removesuffix('_vs_car')}` against the car's own "
               "earlier windows (see features.windows.with_car_history); null until the car "
               "has a record")
    for name in HISTORY_FEATURES)
"""The car's history: read only by the detector's variant with each car's record."""
TARGETS: tuple[ColumnSpec, ...] = (
    ColumnSpec(TARGET, "String", f"Truth fault class of the window, one of {', '.join(KINDS)}"),
)
OUTPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("p_anomaly", "Float64", "Anomaly score, higher is more anomalous: the "
               "detector's P(fault), a z-score rule's largest |z| over twice its limit",
               "", 0.0, 1.0),
    ColumnSpec("is_anomaly", "Boolean", "Whether the window alarms: the score past the "
               "alarm threshold, or (the detector) the largest |z| past its z-score rule's "
               "limit"),
    ColumnSpec("anomaly_kind", "String", f"Most likely class, one of {', '.join(KINDS)}; "
               "none when not flagged"),
    ColumnSpec("anomaly_channels", "String", "Channels behind a flag, comma-separated"),
)


def window_matrix(frame: pl.DataFrame) -> FloatArray:
    """The window features as a float matrix, NaN for missing (columns are Float64)."""
    return float_matrix(frame, WINDOW_FEATURES)


def labels(frame: pl.DataFrame) -> npt.NDArray[np.int64]:
    lookup = {k: i for i, k in enumerate(KINDS)}
    return np.array([lookup.get(str(k), 0) for k in frame[TARGET].to_list()], dtype=np.int64)


def _channel_columns() -> list[list[int]]:
    """Indexes of each channel's statistics in ``WINDOW_FEATURES``."""
    index = {name: i for i, name in enumerate(WINDOW_FEATURES)}
    return [[index[f"{c}_{s}"] for s in STATS] for c in CHANNELS]


def channel_z(x: FloatArray, centre: FloatArray, scale: FloatArray) -> FloatArray:
    """Per window and channel, the largest |z| of the channel's statistics (0 if missing)."""
    z = np.abs((x - centre) / scale)
    z = np.where(np.isfinite(z), z, 0.0)
    return np.column_stack([z[:, cols].max(axis=1) for cols in _channel_columns()])


def window_z(x: FloatArray, centre: FloatArray, scale: FloatArray) -> FloatArray:
    """``channel_z``, then each relation's |z| (0 if missing): one column per name of
    ``(*CHANNELS, *RELATIONS)``."""
    index = {name: i for i, name in enumerate(WINDOW_FEATURES)}
    cols = [index[r] for r in RELATIONS]
    rz = np.abs((x[:, cols] - centre[cols]) / scale[cols])
    return np.column_stack([channel_z(x, centre, scale), np.where(np.isfinite(rz), rz, 0.0)])


def pooled_z(x: FloatArray, centre: FloatArray, scale: FloatArray) -> FloatArray:
    """Channel-blind |z| columns: for each statistic of ``STATS`` the largest |z| over the
    channels, the largest relation |z|, and the largest of all (0 if missing).

    A stuck steering and a stuck brake look alike here (a repeat share far out), so a
    detector learns "a channel is stuck" from the few stuck channels a season holds."""
    index = {name: i for i, name in enumerate(WINDOW_FEATURES)}
    z = np.abs((x - centre) / scale)
    z = np.where(np.isfinite(z), z, 0.0)
    per_stat = [z[:, [index[f"{c}_{st}"] for c in CHANNELS]].max(axis=1) for st in STATS]
    relations = z[:, [index[r] for r in RELATIONS]].max(axis=1)
    return np.column_stack([*per_stat, relations, np.maximum(np.max(per_stat, axis=0),
                                                             relations)])


def robust_stats(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Median and a scale (std, floored) of each column over finite values.

    A column with no finite value (a relation no training window could measure) gets
    centre 0 and scale 1e-6, so it only counts once it is measured.
    """
    finite = np.where(np.isfinite(x), x, np.nan)
    finite[:, ~np.isfinite(x).any(axis=0)] = 0.0
    if finite.shape[0] == 0:
        return np.zeros(x.shape[1]), np.ones(x.shape[1])
    return np.nanmedian(finite, axis=0), np.maximum(np.nanstd(finite, axis=0), 1e-6)


def top_channels(z: FloatArray, k: int) -> list[str]:
    """The ``k`` channels with the largest z of each row, comma-joined."""
    order = np.argsort(-z, axis=1)[:, :k]
    return [",".join(CHANNELS[j] for j in row) for row in order]


def with_throttle_channel(channels: list[str], frame: pl.DataFrame) -> list[str]:
    """Name the throttle in each row's channel list by the lake channel it came from:
    ``aps`` (pedal) or ``ath`` (blade), from the window's ``throttle_is_ath``."""
    names = ["ath" if v == 1.0 else "aps" if v == 0.0 else THROTTLE
             for v in frame["throttle_is_ath"].to_list()]
    return [",".join(name if c == THROTTLE else c for c in text.split(",")) if text else text
            for text, name in zip(channels, names, strict=True)]


def budget_threshold(score: FloatArray, clean: npt.NDArray[np.bool_], per_hour: float
                     ) -> float | None:
    """The lowest threshold (a window alarms above it) that keeps the clean windows to
    ``per_hour`` alarms per car-hour; None when the budget allows every clean window."""
    hours = float(clean.sum()) * WINDOW_S / 3600.0
    allowed = int(np.floor(per_hour * hours))
    ranked = np.sort(score[clean])[::-1]
    if allowed >= ranked.size:
        return None
    return float(ranked[allowed])


def alarm_threshold(score: FloatArray, clean: npt.NDArray[np.bool_], per_hour: float) -> float:
    """``budget_threshold`` of a probability score (0.5 when the budget allows all)."""
    threshold = budget_threshold(score, clean, per_hour)
    return 0.5 if threshold is None else float(np.clip(threshold, 0.0, 1.0))


__all__ = [
    "FAULT_KIND",
    "HISTORY_INPUTS",
    "KEYS",
    "KIND_CHANNELS",
    "OUTPUTS",
    "RELATION_CHANNELS",
    "TARGETS",
    "WINDOW_INPUTS",
    "alarm_threshold",
    "budget_threshold",
    "channel_z",
    "labels",
    "pooled_z",
    "robust_stats",
    "top_channels",
    "window_matrix",
    "window_z",
    "with_throttle_channel",
]
