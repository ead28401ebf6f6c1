"""Telemetry anomaly detector: a score, a kind and the channels behind it, per window.

Rows are the telemetry windows of ``cognirace.features.windows`` (``WINDOW_S`` seconds
of one car). The label is the simulator's truth: a window overlapping a fault's
``start_s``..``end_s`` (seconds from the race start) carries that fault's kind, folded
into ``sensor`` (stuck, dropout, spike, drift), ``brake`` (brake fade), ``power``
(power loss) or ``gearbox``; other windows are ``none``. Real data has no such label.

``AnomalyDetector`` is a LightGBM classifier over the window features (per-channel
statistics and physics residuals); its score is ``1 - P(none)``, and a window is flagged
when the score passes a threshold chosen on out-of-fold training predictions (folds are
whole races) so that clean windows raise under ``max_false_alarms_per_hour`` alarms per
car-hour. The channels named for a flag are the kind's channels for mechanical faults,
and the two channels whose statistics lie furthest from clean training windows for a
sensor fault. ``ZScoreBaseline`` flags a window when a channel statistic lies over
``z_limit`` standard deviations from the training population and calls it a sensor
fault on that channel. Every window is scored alone, so both run on a live stream
(``window_row``) one window at a time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.errors import DataError
from cognirace.features.windows import (
    CHANNELS,
    STATS,
    THROTTLE,
    WINDOW_FEATURES,
    WINDOW_S,
    window_table,
)
from cognirace.models.anomaly_scoring import KINDS, TARGET, false_alarms_per_hour, score_anomaly
from cognirace.models.arrays import float_matrix
from cognirace.models.artifacts import ModelState, read_state, write_state
from cognirace.models.base import Model
from cognirace.models.lgbm import BASE_PARAMS, load_booster, save_booster
from cognirace.models.schema import ColumnSpec
from cognirace.models.task import Task, truth_by_car

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
KEYS: tuple[str, ...] = ("race_id", "vehicle_id", "window_id")

INPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("n_samples", "Int32", "Samples in the window", "", 1, 10_000),
    *(ColumnSpec(name, "Float64", f"Window statistic `{name}` (see features.windows)")
      for name in WINDOW_FEATURES[1:]),
)
TARGETS: tuple[ColumnSpec, ...] = (
    ColumnSpec(TARGET, "String", f"Truth fault class of the window, one of {', '.join(KINDS)}"),
)
OUTPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("p_anomaly", "Float64", "Anomaly score: 1 - P(clean window)", "", 0.0, 1.0),
    ColumnSpec("is_anomaly", "Boolean", "Whether the score passes the alarm threshold"),
    ColumnSpec("anomaly_kind", "String", f"Most likely class, one of {', '.join(KINDS)}; "
               "none when not flagged"),
    ColumnSpec("anomaly_channels", "String", "Channels behind a flag, comma-separated"),
)


def _matrix(frame: pl.DataFrame) -> FloatArray:
    """The window features as a float matrix, NaN for missing (columns are Float64)."""
    return float_matrix(frame, WINDOW_FEATURES)


def _labels(frame: pl.DataFrame) -> npt.NDArray[np.int64]:
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


def _robust_stats(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Median and a scale (std, floored) of each column over finite values.

    A column with no finite value (a relation no training window could measure) gets
    centre 0 and scale 1e-6, so it only counts once it is measured.
    """
    finite = np.where(np.isfinite(x), x, np.nan)
    finite[:, ~np.isfinite(x).any(axis=0)] = 0.0
    if finite.shape[0] == 0:
        return np.zeros(x.shape[1]), np.ones(x.shape[1])
    return np.nanmedian(finite, axis=0), np.maximum(np.nanstd(finite, axis=0), 1e-6)


def _top_channels(z: FloatArray, k: int) -> list[str]:
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


def alarm_threshold(score: FloatArray, clean: npt.NDArray[np.bool_], per_hour: float) -> float:
    """The lowest threshold (a window alarms above it) keeping clean windows to ``per_hour``."""
    hours = float(clean.sum()) * WINDOW_S / 3600.0
    allowed = int(np.floor(per_hour * hours))
    ranked = np.sort(score[clean])[::-1]
    if allowed >= ranked.size:
        return 0.5
    return float(np.clip(ranked[allowed], 0.0, 1.0))


class AnomalyDetector(Model):
    """LightGBM window classifier with an alarm threshold set for false alarms per hour.

    Hyperparameters:
        n_estimators: Boosting rounds.
        learning_rate: LightGBM shrinkage.
        num_leaves: Leaves per tree.
        min_data_in_leaf: Fewest windows per leaf; large, as a fault spans many windows.
        clean_fraction: Share of clean windows each booster trains on (weighted back
            up); clean windows are over 90 % of the rows and much alike.
        n_folds: Race folds for the out-of-fold scores the threshold is chosen on.
        max_false_alarms_per_hour: Alarm budget on clean training windows, per car-hour
            (under the 1 per car-hour target, leaving room for unseen races).
        seed: LightGBM seed.
    """

    kind = "anomaly"
    kind_version = "2"  # window features: one throttle channel, readings of slow channels
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    boosters_: list[lgb.Booster]
    threshold_: float
    centre_: FloatArray
    scale_: FloatArray

    def __init__(self, *, n_estimators: int = 40, learning_rate: float = 0.1,
                 num_leaves: int = 15, min_data_in_leaf: int = 20,
                 clean_fraction: float = 0.25, n_folds: int = 3,
                 max_false_alarms_per_hour: float = 0.25, seed: int = 0) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_data_in_leaf = min_data_in_leaf
        self.clean_fraction = clean_fraction
        self.n_folds = n_folds
        self.max_false_alarms_per_hour = max_false_alarms_per_hour
        self.seed = seed

    def _train(self, x: FloatArray, y: npt.NDArray[np.int64]) -> lgb.Booster:
        """A booster on every fault window and a ``clean_fraction`` sample of clean ones,
        weighted back up, so P(none) keeps its scale at a fraction of the cost."""
        rng = np.random.default_rng(self.seed)
        keep = (y != 0) | (rng.random(len(y)) < self.clean_fraction)
        weight = np.where(y[keep] == 0, 1.0 / self.clean_fraction, 1.0)
        params = {**BASE_PARAMS, "objective": "multiclass", "num_class": len(KINDS),
                  "seed": self.seed, "learning_rate": self.learning_rate,
                  "num_leaves": self.num_leaves, "min_data_in_leaf": self.min_data_in_leaf,
                  "lambda_l2": 1.0, "feature_fraction": 0.8, "num_threads": 1}
        data = lgb.Dataset(x[keep], label=y[keep].astype(np.float64), weight=weight,
                           params={"verbosity": -1}, free_raw_data=True)
        return lgb.train(params, data, num_boost_round=self.n_estimators)

    def _folds(self, frame: pl.DataFrame) -> npt.NDArray[np.int64]:
        """Fold of each window: whole races when there are several, else row blocks."""
        n_folds = max(2, self.n_folds)
        if "race_id" in frame.columns and frame["race_id"].n_unique() >= 2:
            races = frame["race_id"].cast(pl.String).to_list()
            fold = {r: i % n_folds for i, r in enumerate(sorted(set(races)))}
            return np.array([fold[r] for r in races], dtype=np.int64)
        return np.arange(frame.height, dtype=np.int64) * n_folds // max(frame.height, 1)

    def _fit(self, frame: pl.DataFrame) -> None:
        """The threshold comes from each window's score by a booster that did not see
        its race (one per race fold); the prediction from a booster on every window."""
        x, y = _matrix(frame), _labels(frame)
        self.centre_, self.scale_ = _robust_stats(x[y == 0] if (y == 0).any() else x)
        folds = self._folds(frame)
        score = np.zeros(len(y))
        for k in np.unique(folds):
            test = folds == k
            booster = self._train(x[~test], y[~test])
            score[test] = 1.0 - self._proba([booster], x[test])[:, 0]
        self.threshold_ = alarm_threshold(score, y == 0, self.max_false_alarms_per_hour)
        self.boosters_ = [self._train(x, y)]

    @staticmethod
    def _proba(boosters: list[lgb.Booster], x: FloatArray) -> FloatArray:
        """Class probabilities averaged over ``boosters``, one row per window."""
        total = np.zeros((len(x), len(KINDS)))
        for booster in boosters:
            total += np.asarray(booster.predict(x), dtype=np.float64).reshape(len(x), -1)
        return total / len(boosters)

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        x = _matrix(frame)
        proba = self._proba(self.boosters_, x)
        score = np.clip(1.0 - proba[:, 0], 0.0, 1.0)
        flag = score > self.threshold_
        best = 1 + np.argmax(proba[:, 1:], axis=1)
        sensor = _top_channels(channel_z(x, self.centre_, self.scale_), 2)
        kinds = [KINDS[b] if f else "none" for b, f in zip(best, flag, strict=True)]
        channels = with_throttle_channel(
            [KIND_CHANNELS.get(k, s) if k != "none" else ""
             for k, s in zip(kinds, sensor, strict=True)], frame)
        return pl.DataFrame({"p_anomaly": score, "is_anomaly": flag, "anomaly_kind": kinds,
                             "anomaly_channels": channels},
                            schema={"p_anomaly": pl.Float64, "is_anomaly": pl.Boolean,
                                    "anomaly_kind": pl.String, "anomaly_channels": pl.String})

    def _save_state(self, directory: Path) -> list[Path]:
        return [*(save_booster(directory / f"booster_{i}.txt", b)
                  for i, b in enumerate(self.boosters_)),
                *write_state(directory, ModelState(
                    values={"threshold": self.threshold_, "n_boosters": len(self.boosters_)},
                    arrays={"centre": self.centre_, "scale": self.scale_}))]

    def _load_state(self, directory: Path) -> None:
        state = read_state(directory)
        self.boosters_ = [load_booster(directory / f"booster_{i}.txt")
                          for i in range(int(state.values["n_boosters"]))]
        self.threshold_ = float(state.values["threshold"])
        self.centre_ = np.asarray(state.arrays["centre"], dtype=np.float64)
        self.scale_ = np.asarray(state.arrays["scale"], dtype=np.float64)


class ZScoreBaseline(Model):
    """Baseline: a sensor fault where a channel statistic is over ``z_limit`` std out.

    Centre (median) and scale (std) of each statistic come from every training window,
    faulty or not, as a rule set without labels would have them.

    Hyperparameters:
        z_limit: |z| from which a window is flagged.
    """

    kind = "anomaly_zscore"
    kind_version = "2"  # the window features of AnomalyDetector 2
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    centre_: FloatArray
    scale_: FloatArray

    def __init__(self, *, z_limit: float = 4.0) -> None:
        self.z_limit = z_limit

    def _fit(self, frame: pl.DataFrame) -> None:
        self.centre_, self.scale_ = _robust_stats(_matrix(frame))

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        z = channel_z(_matrix(frame), self.centre_, self.scale_)
        top = z.max(axis=1) if z.size else np.zeros(frame.height)
        flag = top > self.z_limit
        channels = with_throttle_channel(_top_channels(z, 1), frame)
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


def _fault_spans(truth: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Faults seen in telemetry, as UTC spans with the detector's class."""
    starts = truth["race"].select("race_id", "start_utc")
    faults = truth_by_car(truth, "faults").filter(pl.col("in_telemetry")).join(
        starts, on="race_id")
    offset = pl.duration(milliseconds=(pl.col("start_s") * 1000).round().cast(pl.Int64))
    end = pl.duration(milliseconds=(pl.col("end_s") * 1000).round().cast(pl.Int64))
    return faults.select(
        "race_id", "car_number",
        (pl.col("start_utc") + offset).alias("fault_start"),
        (pl.col("start_utc") + end).alias("fault_end"),
        pl.col("kind").replace_strict(FAULT_KIND, default="sensor").alias("fault_class"),
    )


def anomaly_rows(windows: pl.DataFrame,
                 truth: Mapping[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """Window rows with their truth class (see the module doc); needs the truth tables."""
    if truth is None:
        raise DataError("anomaly rows need the simulator's truth tables", column=TARGET,
                        hint="train on simulated races with their truth/ folders")
    spans = _fault_spans(truth)
    window_end = pl.col("window_start") + pl.duration(milliseconds=int(WINDOW_S * 1000))
    hits = (windows.select(*KEYS, "car_number", "window_start")
            .join(spans, on=["race_id", "car_number"])
            .filter((pl.col("fault_start") < window_end)
                    & (pl.col("fault_end") > pl.col("window_start")))
            .sort("fault_class", descending=True)  # several faults: one class, stably
            .group_by(*KEYS).agg(pl.col("fault_class").first()))
    rows = windows.join(hits, on=list(KEYS), how="left")
    return rows.with_columns(pl.col("fault_class").fill_null("none").alias(TARGET)).drop(
        "fault_class").sort(KEYS)


def lap_scores(rows: pl.DataFrame, predictions: pl.DataFrame) -> pl.DataFrame:
    """Per race, car and lap: the largest and the mean window score, and any flag."""
    frame = pl.concat([rows.select("race_id", "vehicle_id", "lap"),
                       predictions.select("p_anomaly", "is_anomaly")], how="horizontal")
    return frame.group_by("race_id", "vehicle_id", "lap").agg(
        p_anomaly_max=pl.col("p_anomaly").max(), p_anomaly_mean=pl.col("p_anomaly").mean(),
        is_anomaly=pl.col("is_anomaly").any()).sort("race_id", "vehicle_id", "lap")


TASK = Task(
    name="anomaly",
    title="Telemetry anomaly score, kind and channels per 5 s window",
    model=AnomalyDetector,
    baseline=ZScoreBaseline,
    rows=anomaly_rows,
    score=score_anomaly,
    primary="f1",
    higher_is_better=True,
    target_source="simulator truth: the faults it injected into telemetry (kind, start and "
                  "end time, channels)",
    real_data_note="Real telemetry has no fault labels: the detector trained on simulated "
                   "faults scores real windows, but its precision and recall there are "
                   "unmeasured; the z-score baseline needs no labels.",
    limits=(
        "Trained on a few dozen simulated faults; real faults may look different.",
        "A window is labelled faulty for the whole fault span, even where the fault cannot "
        "show (brake fade on a straight, a spike between hits), which caps recall.",
        "A slow drift is invisible in its first minutes: each window is judged alone.",
        "The alarm threshold is set on training races for under 0.25 false alarms per "
        "car-hour; unseen tracks may raise more.",
    ),
    needs_truth=True,
    source=window_table,
)


__all__ = [
    "FAULT_KIND",
    "KINDS",
    "KIND_CHANNELS",
    "TASK",
    "AnomalyDetector",
    "ZScoreBaseline",
    "alarm_threshold",
    "anomaly_rows",
    "channel_z",
    "false_alarms_per_hour",
    "lap_scores",
    "with_throttle_channel",
]
