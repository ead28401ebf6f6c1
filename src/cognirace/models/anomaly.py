"""Telemetry anomaly detector: a score, a kind and the channels behind it, per window.

Rows are the telemetry windows of ``cognirace.features.windows`` (``WINDOW_S`` seconds
of one car, with the car's own history). The label is the simulator's truth: a window
overlapping a fault's ``start_s``..``end_s`` (seconds from the race start) carries that
fault's kind, folded into ``sensor`` (stuck, dropout, spike, drift), ``brake`` (brake
fade), ``power`` (power loss) or ``gearbox``; other windows are ``none``. Real data has
no such label.

``AnomalyDetector`` is two LightGBM boosters over the window's statistics and physics
relations, their change against the car's own earlier windows, and channel-blind |z|
against the clean training windows (``anomaly_columns.pooled_z``: a season holds a few
dozen faults spread over eight channels, too few to learn each channel's on its own).
One scores P(fault); a window alarms when that passes a threshold chosen on
out-of-fold training scores (folds are whole races) so that clean windows raise at most
``max_false_alarms_per_hour`` alarms per car-hour. The other, trained on fault windows
alone, names the kind. The channels named for an alarm are the kind's channels for a
mechanical fault, and the two channels whose statistics lie furthest from clean
training windows for a sensor fault. No feature holds a constant of the simulator: the
relations are ratios and residuals of the channels as logged, each car's own is learned
from its record, and the fleet's from the training windows.

The baseline (``anomaly_baselines.TunedZScoreBaseline``) is the z-score rule tuned to
the same alarm budget. Every window is scored from itself and the car's earlier windows,
so both run on a live stream (``window_row``, then ``with_car_history``).
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
from cognirace.features.windows import HISTORY_FEATURES, WINDOW_S, window_table
from cognirace.models.anomaly_baselines import TunedZScoreBaseline, ZScoreBaseline
from cognirace.models.anomaly_columns import (
    FAULT_KIND,
    HISTORY_INPUTS,
    KEYS,
    KIND_CHANNELS,
    OUTPUTS,
    TARGETS,
    WINDOW_INPUTS,
    FloatArray,
    alarm_threshold,
    budget_threshold,
    channel_z,
    labels,
    pooled_z,
    robust_stats,
    top_channels,
    window_matrix,
    window_z,
    with_throttle_channel,
)
from cognirace.models.anomaly_scoring import (
    KINDS,
    TARGET,
    anomaly_parts,
    false_alarms_per_hour,
    score_anomaly,
)
from cognirace.models.arrays import float_matrix
from cognirace.models.artifacts import ModelState, read_state, write_state
from cognirace.models.base import Model
from cognirace.models.lgbm import BASE_PARAMS, load_booster, save_booster
from cognirace.models.schema import ColumnSpec
from cognirace.models.task import Task, truth_by_car

SMALL_BATCH = 2_000
"""Windows up to which the boosters predict on one thread: a live race scores a few
dozen windows at a time, where starting OpenMP's threads costs more than the trees."""


def _threads(x: FloatArray) -> int:
    """LightGBM threads for ``x``'s rows (0: OpenMP's default)."""
    return 1 if len(x) <= SMALL_BATCH else 0


class AnomalyDetector(Model):
    """A LightGBM fault detector beside the z-score rule, sharing one alarm budget.

    Hyperparameters:
        n_estimators: Boosting rounds.
        learning_rate: LightGBM shrinkage.
        num_leaves: Leaves per tree.
        min_data_in_leaf: Fewest windows per leaf; large, as a fault spans many windows.
        clean_fraction: Share of clean windows the detector trains on (weighted back
            up); clean windows are over 90 % of the rows and much alike.
        n_folds: Race folds for the out-of-fold scores the threshold is chosen on.
        max_false_alarms_per_hour: Alarm budget on clean training windows, per car-hour
            (under the 1 per car-hour target, leaving room for unseen races).
        z_share: Share of the budget spent by the z-score rule on the window's largest
            |z| (``TunedZScoreBaseline``'s statistic); the booster spends the rest on the
            windows the rule leaves alone. A season holds too few sensor faults for the
            booster to match the rule on them; 0 leaves the booster alone.
        car_history: Whether the booster also reads the window against the car's own
            record (``features.windows.with_car_history``).
        seed: LightGBM seed.
    """

    kind = "anomaly"
    kind_version = "3"  # binary detector beside the z-score rule, channel-blind |z|
    inputs = WINDOW_INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    booster_: lgb.Booster
    kind_booster_: lgb.Booster | None
    only_kind_: int
    threshold_: float
    z_limit_: float
    centre_: FloatArray
    scale_: FloatArray

    def __init__(self, *, n_estimators: int = 40, learning_rate: float = 0.1,
                 num_leaves: int = 15, min_data_in_leaf: int = 20,
                 clean_fraction: float = 0.25, n_folds: int = 3,
                 max_false_alarms_per_hour: float = 0.25, z_share: float = 0.5,
                 car_history: bool = False, seed: int = 0) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_data_in_leaf = min_data_in_leaf
        self.clean_fraction = clean_fraction
        self.n_folds = n_folds
        self.max_false_alarms_per_hour = max_false_alarms_per_hour
        self.z_share = z_share
        self.car_history = car_history
        self.seed = seed

    def input_schema(self) -> tuple[ColumnSpec, ...]:
        """The window's statistics, and the car's record when ``car_history``."""
        return (*WINDOW_INPUTS, *HISTORY_INPUTS) if self.car_history else WINDOW_INPUTS

    def _params(self, **extra: object) -> dict[str, object]:
        return {**BASE_PARAMS, "seed": self.seed, "learning_rate": self.learning_rate,
                "num_leaves": self.num_leaves, "min_data_in_leaf": self.min_data_in_leaf,
                "lambda_l2": 1.0, "feature_fraction": 0.8, "num_threads": 1, **extra}

    def _train(self, x: FloatArray, y: npt.NDArray[np.int64]) -> lgb.Booster:
        """The detector: fault or clean, on every fault window and a ``clean_fraction``
        sample of clean ones, weighted back up, so its probability keeps its scale at a
        fraction of the cost."""
        rng = np.random.default_rng(self.seed)
        keep = (y != 0) | (rng.random(len(y)) < self.clean_fraction)
        weight = np.where(y[keep] == 0, 1.0 / self.clean_fraction, 1.0)
        data = lgb.Dataset(x[keep], label=(y[keep] != 0).astype(np.float64), weight=weight,
                           params={"verbosity": -1}, free_raw_data=True)
        return lgb.train(self._params(objective="binary"), data,
                         num_boost_round=self.n_estimators)

    def _train_kinds(self, x: FloatArray, y: npt.NDArray[np.int64]) -> lgb.Booster | None:
        """Which fault, given one: a classifier over the fault windows alone."""
        fault = y != 0
        if len(np.unique(y[fault])) < 2:
            return None
        data = lgb.Dataset(x[fault], label=(y[fault] - 1).astype(np.float64),
                           params={"verbosity": -1}, free_raw_data=True)
        params = self._params(objective="multiclass", num_class=len(KINDS) - 1)
        return lgb.train(params, data, num_boost_round=self.n_estimators)

    def _folds(self, frame: pl.DataFrame) -> npt.NDArray[np.int64]:
        """Fold of each window: whole races when there are several, else row blocks."""
        n_folds = max(2, self.n_folds)
        if "race_id" in frame.columns and frame["race_id"].n_unique() >= 2:
            races = frame["race_id"].cast(pl.String).to_list()
            fold = {r: i % n_folds for i, r in enumerate(sorted(set(races)))}
            return np.array([fold[r] for r in races], dtype=np.int64)
        return np.arange(frame.height, dtype=np.int64) * n_folds // max(frame.height, 1)

    def _features(self, frame: pl.DataFrame, x: FloatArray | None = None) -> FloatArray:
        """The booster's matrix: the window's statistics (``x``, ``window_matrix`` of
        the frame when not given), their channel-blind |z| against the clean training
        windows and, if asked, the window against the car's record."""
        x = window_matrix(frame) if x is None else x
        parts = [x, pooled_z(x, self.centre_, self.scale_)]
        if self.car_history:
            parts.append(float_matrix(frame, HISTORY_FEATURES))
        return np.column_stack(parts)

    def _fit(self, frame: pl.DataFrame) -> None:
        """The threshold comes from each window's score by a booster that did not see
        its race (one per race fold); the prediction from a booster on every window."""
        x, y = window_matrix(frame), labels(frame)
        self.centre_, self.scale_ = robust_stats(x[y == 0] if (y == 0).any() else x)
        x = self._features(frame)
        folds = self._folds(frame)
        score = np.zeros(len(y))
        for k in np.unique(folds):
            test = folds == k
            score[test] = self._score(self._train(x[~test], y[~test]), x[test])
        self._set_thresholds(score, window_matrix(frame), y == 0)
        self.booster_ = self._train(x, y)
        self.kind_booster_ = self._train_kinds(x, y)
        present = np.unique(y[y != 0])
        self.only_kind_ = int(present[0]) if len(present) else 1

    def _set_thresholds(self, score: FloatArray, x: FloatArray,
                        clean: npt.NDArray[np.bool_]) -> None:
        """Split the alarm budget: ``z_share`` of it to the z-score rule on the window's
        largest |z|, the rest to the booster's out-of-fold score on the clean windows
        the rule left alone."""
        top = window_z(x, self.centre_, self.scale_).max(axis=1)
        limit = (budget_threshold(top, clean, self.max_false_alarms_per_hour * self.z_share)
                 if self.z_share > 0 else None)
        self.z_limit_ = float("inf") if limit is None and self.z_share <= 0 else \
            float(top.max(initial=0.0)) if limit is None else limit
        by_z = top > self.z_limit_
        hours = float(clean.sum()) * WINDOW_S / 3600.0
        spare = int(np.floor(self.max_false_alarms_per_hour * hours)) - int((clean & by_z).sum())
        left = np.sort(score[clean & ~by_z])[::-1]
        self.threshold_ = 1.0 if spare <= 0 else \
            0.5 if spare >= left.size else float(np.clip(left[spare], 0.0, 1.0))

    @staticmethod
    def _score(booster: lgb.Booster, x: FloatArray) -> FloatArray:
        """P(fault) of each window."""
        return np.clip(np.asarray(booster.predict(x, num_threads=_threads(x)),
                                  dtype=np.float64).reshape(-1), 0.0, 1.0)

    def _kinds(self, x: FloatArray) -> npt.NDArray[np.int64]:
        """The most likely fault class of each window (index into ``KINDS``, never 0)."""
        if self.kind_booster_ is None:
            return np.full(len(x), self.only_kind_, dtype=np.int64)
        proba = np.asarray(self.kind_booster_.predict(x, num_threads=_threads(x)),
                           dtype=np.float64).reshape(len(x), -1)
        return np.asarray(1 + np.argmax(proba, axis=1), dtype=np.int64)

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        windows = window_matrix(frame)  # once: a live race asks every 5 s
        x = self._features(frame, windows)
        score = self._score(self.booster_, x)
        top = window_z(windows, self.centre_, self.scale_).max(axis=1)
        flag = (score > self.threshold_) | (top > self.z_limit_)
        best = self._kinds(x)
        sensor = top_channels(channel_z(windows, self.centre_, self.scale_), 2)
        kinds = [KINDS[b] if f else "none" for b, f in zip(best, flag, strict=True)]
        channels = with_throttle_channel(
            [KIND_CHANNELS.get(k, s) if k != "none" else ""
             for k, s in zip(kinds, sensor, strict=True)], frame)
        return pl.DataFrame({"p_anomaly": score, "is_anomaly": flag, "anomaly_kind": kinds,
                             "anomaly_channels": channels},
                            schema={"p_anomaly": pl.Float64, "is_anomaly": pl.Boolean,
                                    "anomaly_kind": pl.String, "anomaly_channels": pl.String})

    def _save_state(self, directory: Path) -> list[Path]:
        files = [save_booster(directory / "booster.txt", self.booster_)]
        if self.kind_booster_ is not None:
            files.append(save_booster(directory / "kind_booster.txt", self.kind_booster_))
        return [*files, *write_state(directory, ModelState(
            values={"threshold": self.threshold_, "only_kind": self.only_kind_,
                    "z_limit": self.z_limit_ if np.isfinite(self.z_limit_) else None,
                    "has_kind_booster": self.kind_booster_ is not None},
            arrays={"centre": self.centre_, "scale": self.scale_}))]

    def _load_state(self, directory: Path) -> None:
        state = read_state(directory)
        self.booster_ = load_booster(directory / "booster.txt")
        self.kind_booster_ = (load_booster(directory / "kind_booster.txt")
                              if state.values["has_kind_booster"] else None)
        self.only_kind_ = int(state.values["only_kind"])
        self.threshold_ = float(state.values["threshold"])
        limit = state.values["z_limit"]
        self.z_limit_ = float("inf") if limit is None else float(limit)
        self.centre_ = np.asarray(state.arrays["centre"], dtype=np.float64)
        self.scale_ = np.asarray(state.arrays["scale"], dtype=np.float64)


class AnomalyDetectorWithoutZRule(AnomalyDetector):
    """Ablation: the booster alone spends the whole alarm budget (``z_share`` 0)."""

    def __init__(self, *, n_estimators: int = 40, learning_rate: float = 0.1,
                 num_leaves: int = 15, min_data_in_leaf: int = 20,
                 clean_fraction: float = 0.25, n_folds: int = 3,
                 max_false_alarms_per_hour: float = 0.25, z_share: float = 0.0,
                 car_history: bool = False, seed: int = 0) -> None:
        super().__init__(n_estimators=n_estimators, learning_rate=learning_rate,
                         num_leaves=num_leaves, min_data_in_leaf=min_data_in_leaf,
                         clean_fraction=clean_fraction, n_folds=n_folds,
                         max_false_alarms_per_hour=max_false_alarms_per_hour,
                         z_share=z_share, car_history=car_history, seed=seed)


class AnomalyDetectorWithCarHistory(AnomalyDetector):
    """Ablation: the booster also reads each window against the car's own record."""

    def __init__(self, *, n_estimators: int = 40, learning_rate: float = 0.1,
                 num_leaves: int = 15, min_data_in_leaf: int = 20,
                 clean_fraction: float = 0.25, n_folds: int = 3,
                 max_false_alarms_per_hour: float = 0.25, z_share: float = 0.5,
                 car_history: bool = True, seed: int = 0) -> None:
        super().__init__(n_estimators=n_estimators, learning_rate=learning_rate,
                         num_leaves=num_leaves, min_data_in_leaf=min_data_in_leaf,
                         clean_fraction=clean_fraction, n_folds=n_folds,
                         max_false_alarms_per_hour=max_false_alarms_per_hour,
                         z_share=z_share, car_history=car_history, seed=seed)


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
    baseline=TunedZScoreBaseline,
    rows=anomaly_rows,
    score=score_anomaly,
    parts=anomaly_parts,
    primary="f1",
    higher_is_better=True,
    target_source="simulator truth: the faults it injected into telemetry (kind, start and "
                  "end time, channels)",
    real_data_note="Real telemetry has no fault labels: the detector trained on simulated "
                   "faults scores real windows, but its precision and recall there are "
                   "unmeasured. The z-score rule needs no fault labels to score, but its "
                   "limit is tuned on labelled clean windows.",
    limits=(
        "Trained on a few dozen simulated faults; real faults may look different.",
        "A window is labelled faulty for the whole fault span, even where the fault cannot "
        "show (brake fade on a straight, a spike between hits), which caps recall.",
        "A slow drift is invisible in its first minutes: each window is judged alone "
        "(reading the car's own record instead, an ablation, did not help).",
        "A power loss is not found (F1 near 0): at 6 to 15 % less power its windows look "
        "like a slower lap's.",
        "The alarm budget is set on training races at 0.25 false alarms per car-hour, "
        "half of it spent by the z-score rule the baseline uses: the detector's gain is "
        "what it finds beyond that rule at the same rate; unseen tracks may raise more.",
        "The simulated sensors' noise, quantisation and calibration are matched to one "
        "real car's 42 s behind the pace car (bench/calibrate.py); racing-speed noise is "
        "extrapolated.",
    ),
    needs_truth=True,
    source=window_table,
    ablations={"without the z-score rule's share": AnomalyDetectorWithoutZRule,
               "with each car's own record": AnomalyDetectorWithCarHistory},
)


__all__ = [
    "FAULT_KIND",
    "KINDS",
    "KIND_CHANNELS",
    "TASK",
    "AnomalyDetector",
    "AnomalyDetectorWithCarHistory",
    "AnomalyDetectorWithoutZRule",
    "TunedZScoreBaseline",
    "ZScoreBaseline",
    "alarm_threshold",
    "anomaly_parts",
    "anomaly_rows",
    "budget_threshold",
    "channel_z",
    "false_alarms_per_hour",
    "lap_scores",
    "pooled_z",
    "window_z",
    "with_throttle_channel",
]
