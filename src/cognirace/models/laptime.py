"""Next green lap time of a car, with P10/P50/P90, and its baseline.

A car's next lap is mostly its recent pace; what moves it is tire wear, fuel burn,
traffic and the race situation. The model therefore predicts the *difference* between
the next green lap and the median of the car's last 3 green laps (``pace_median3_s``),
from features also expressed relative to that pace, so one model serves every track
(whose lap times differ by a minute). Three LightGBM quantile boosters give P10/P50/P90;
conformalised quantile regression (CQR) on a slice of training races, held out by race,
widens or narrows the P10-P90 interval so it covers 80% of laps of races it never saw.

The baseline is the median of the last 3 green laps itself, with the interval from the
quantiles of its training residuals.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl

from cognirace.domain.tracks import TRACKS
from cognirace.errors import DataError
from cognirace.models.artifacts import ModelState, read_state, write_state
from cognirace.models.base import Model
from cognirace.models.lgbm import (
    FloatArray,
    category_codes,
    load_booster,
    save_booster,
    train_booster,
)
from cognirace.models.schema import ColumnSpec
from cognirace.models.task import Task

QUANTILES: tuple[float, float, float] = (0.1, 0.5, 0.9)
"""The predicted quantiles; P10-P90 is the 80% interval."""

TARGET = "next_lap_time_s"
OUTPUT_NAMES = ("lap_time_p10_s", "lap_time_p50_s", "lap_time_p90_s")
TRACK_KEYS: tuple[str, ...] = tuple(sorted(TRACKS))
"""Known tracks, in code order for the categorical feature (an unknown track is missing)."""

_LAP = (30.0, 600.0)


def _s(name: str, description: str, low: float | None = _LAP[0],
       high: float | None = _LAP[1], unit: str = "s", dtype: str = "Float64",
       nullable: bool = False) -> ColumnSpec:
    return ColumnSpec(name, dtype, description, unit, low, high, nullable)


INPUTS: tuple[ColumnSpec, ...] = (
    _s("pace_median3_s", "median of the car's last 3 green laps, this one included"),
    _s("lap_time_s", "this lap's time (a green lap)"),
    _s("best_green_s", "the car's best green lap so far in the race"),
    _s("field_median_green_s", "median green lap of the cars through this lap number so far, "
       "this car included"),
    ColumnSpec("track", "String", "track key (`barber`); an unknown track is allowed (the "
               "boosters' branch for a track they do not know)", nullable=False),
    _s("tire_age_laps", "laps completed on the tire set before this lap", 0, 200, "laps",
       "Int32"),
    _s("lap", "lap number, 1-based", 1, 200, "", "Int32"),
    _s("race_time_left_s", "race time left at the end of this lap", 0.0, 7200.0),
    _s("laps_left_est", "estimated laps the car still runs", 0, 200, "laps", "Int32"),
    _s("position", "position at the line", 1, 80, "", "Int32"),
    _s("gap_ahead_s", "gap to the car ahead at the line; null for the leader, who has none",
       0.0, 3600.0, nullable=True),
)
"""Columns of the lap feature table the lap-time models read (see ``features.CATALOGUE``),
all known when the lap ends, before the lap predicted starts. Weather and telemetry are
left out: on the training lake's race and track splits the model was as good or better
without them."""

TARGETS = (_s(TARGET, "time of the car's next green lap in the same stint (timing)"),)
OUTPUTS = tuple(_s(name, f"P{round(100 * q)} of the next green lap's time")
                for name, q in zip(OUTPUT_NAMES, QUANTILES, strict=True))
KEYS: tuple[str, ...] = ("race_id", "vehicle_id", "car_number", "lap")


_RAW_COLUMNS = ("pace_median3_s", "lap_time_s", "best_green_s", "field_median_green_s",
                "tire_age_laps", "lap", "race_time_left_s", "laps_left_est", "position",
                "gap_ahead_s")


def relative_features(frame: pl.DataFrame) -> FloatArray:
    """The feature matrix: times relative to the car's recent pace, other inputs as given.

    Columns: track code, lap minus pace, best minus pace, field median minus pace, pace
    over the field median (how fast the car runs), tire age, lap, time left, laps left,
    position, gap ahead (NaN for the leader). Built with one conversion to numpy (nulls
    become NaN), so a single row is cheap.
    """
    raw = frame.select(_RAW_COLUMNS).to_numpy().astype(np.float64, copy=False)
    pace, lap, best, field = raw[:, 0], raw[:, 1], raw[:, 2], raw[:, 3]
    codes = category_codes(frame.get_column("track"), TRACK_KEYS)
    return np.column_stack([codes, lap - pace, best - pace, field - pace, pace / field,
                            raw[:, 4:]])


def _calibration_races(race_ids: pl.Series, fraction: float, seed: int) -> set[str]:
    """A random share of the races (at least one, never all) for conformal calibration."""
    ids = sorted(race_ids.unique().to_list())
    if len(ids) < 2:
        raise DataError("the lap-time model needs rows of at least two races", value=len(ids),
                        hint="conformal calibration holds out whole races")
    n_cal = min(max(round(len(ids) * fraction), 1), len(ids) - 1)
    rng = np.random.default_rng(seed)
    return {ids[i] for i in rng.choice(len(ids), size=n_cal, replace=False)}


def _finite_quantile(scores: FloatArray, level: float) -> float:
    """The split-conformal quantile: level (1 + 1/n) of the calibration scores."""
    n = scores.size
    return float(np.quantile(scores, min(1.0, level * (n + 1) / n), method="higher"))


class LapTimeModel(Model):
    """LightGBM quantile regression of the next green lap on recent pace, conformalised.

    Args:
        n_estimators: Boosting rounds per quantile.
        learning_rate: Boosting step.
        num_leaves: Leaves per tree.
        min_child_samples: Fewest rows in a leaf; large, as lap times are noisy.
        calibration_fraction: Share of training races held out to calibrate the interval.
        seed: Seed of the calibration draw and of LightGBM.
        num_threads: LightGBM threads.
    """

    kind = "laptime"
    kind_version = "3"  # no weather or telemetry inputs
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    def __init__(self, *, n_estimators: int = 200, learning_rate: float = 0.05,
                 num_leaves: int = 15, min_child_samples: int = 40,
                 calibration_fraction: float = 0.25, seed: int = 0, num_threads: int = 1) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.calibration_fraction = calibration_fraction
        self.seed = seed
        self.num_threads = num_threads

    def _params(self, alpha: float) -> dict[str, float | int | str]:
        return {"objective": "quantile", "alpha": alpha, "learning_rate": self.learning_rate,
                "num_leaves": self.num_leaves, "min_data_in_leaf": self.min_child_samples,
                "seed": self.seed, "num_threads": self.num_threads}

    def _fit(self, frame: pl.DataFrame) -> None:
        if "race_id" not in frame.columns:
            raise DataError("lap-time training rows need a race_id column", column="race_id",
                            hint="build them with laptime_rows(features)")
        cal = frame.get_column("race_id").is_in(
            sorted(_calibration_races(frame.get_column("race_id"), self.calibration_fraction,
                                      self.seed)))
        train, calib = frame.filter(~cal), frame.filter(cal)
        x, delta = relative_features(train), _delta(train)
        self.boosters_ = [train_booster(x, delta, self._params(q), n_estimators=self.n_estimators,
                                        categorical=[0]) for q in QUANTILES]
        raw = self._raw_quantiles(relative_features(calib))
        y_cal = _delta(calib)
        scores = np.maximum(raw[:, 0] - y_cal, y_cal - raw[:, 2])
        self.conformal_offset_s_ = _finite_quantile(scores, QUANTILES[2] - QUANTILES[0])
        self.n_train_, self.n_calibration_ = train.height, calib.height

    def _raw_quantiles(self, x: FloatArray) -> FloatArray:
        """Uncalibrated P10/P50/P90 of the delta to recent pace, sorted per row (s)."""
        raw = np.column_stack([b.predict(x, num_threads=self.num_threads) for b in self.boosters_])
        return np.sort(np.asarray(raw, dtype=np.float64), axis=1)

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        raw = self._raw_quantiles(relative_features(frame))
        raw[:, 0] -= self.conformal_offset_s_
        raw[:, 2] += self.conformal_offset_s_
        return _quantile_frame(frame.get_column("pace_median3_s").to_numpy() + raw.T)

    def _save_state(self, directory: Path) -> list[Path]:
        files = [save_booster(directory / f"booster_q{round(100 * q):02d}.txt", b)
                 for q, b in zip(QUANTILES, self.boosters_, strict=True)]
        return files + write_state(directory, ModelState(values={
            "conformal_offset_s": self.conformal_offset_s_, "n_train": self.n_train_,
            "n_calibration": self.n_calibration_, "tracks": list(TRACK_KEYS)}))

    def _load_state(self, directory: Path) -> None:
        self.boosters_ = [load_booster(directory / f"booster_q{round(100 * q):02d}.txt")
                          for q in QUANTILES]
        values = read_state(directory).values
        self.conformal_offset_s_ = float(values["conformal_offset_s"])
        self.n_train_, self.n_calibration_ = int(values["n_train"]), int(values["n_calibration"])


class PaceMedianBaseline(Model):
    """P50 = median of the car's last 3 green laps; P10/P90 from its training residuals."""

    kind = "laptime_baseline"
    kind_version = "2"  # reads only the recent pace
    inputs = INPUTS[:1]
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    def _fit(self, frame: pl.DataFrame) -> None:
        self.residual_quantiles_s_ = np.quantile(_delta(frame), QUANTILES).astype(np.float64)

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        pace = frame.get_column("pace_median3_s").to_numpy()
        offsets = self.residual_quantiles_s_.copy()
        offsets[1] = 0.0
        return _quantile_frame(pace[None, :] + offsets[:, None])

    def _get_state(self) -> ModelState:
        return ModelState(values={"residual_quantiles_s": self.residual_quantiles_s_.tolist()})

    def _set_state(self, state: ModelState) -> None:
        self.residual_quantiles_s_ = np.asarray(state.values["residual_quantiles_s"], float)


def _delta(frame: pl.DataFrame) -> FloatArray:
    """Target relative to recent pace: next green lap minus ``pace_median3_s`` (s)."""
    return (frame.get_column(TARGET) - frame.get_column("pace_median3_s")).to_numpy()


def _quantile_frame(values: FloatArray) -> pl.DataFrame:
    """The output frame from a (3, n) array of P10/P50/P90 lap times (s)."""
    return pl.DataFrame({name: np.asarray(v, dtype=np.float64)
                         for name, v in zip(OUTPUT_NAMES, values, strict=True)})


def laptime_rows(features: pl.DataFrame,
                 truth: Mapping[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """One row per green lap with a known recent pace and a next green lap in its stint.

    The target is the timed lap of the car's next green lap in the same stint (an FCY
    period may lie between); laps after the car's last green lap of a stint have no
    target and are left out. ``truth`` is not used: the label comes from timing. Cars
    are the table's timing cars (``race_id, car_number``), logged or not.
    """
    del truth
    by_stint = ("race_id", "car_number", "stint")
    green = features.filter(pl.col("green_lap")).sort("race_id", "car_number", "lap")
    return green.with_columns(
        pl.col("lap_time_s").shift(-1).over(by_stint).alias(TARGET),
    ).filter(pl.col(TARGET).is_not_null() & pl.col("pace_median3_s").is_not_null())


def _pinball(y: FloatArray, pred: FloatArray, q: float) -> float:
    diff = y - pred
    return float(np.mean(np.maximum(q * diff, (q - 1.0) * diff)))


def laptime_parts(rows: pl.DataFrame, predictions: pl.DataFrame) -> pl.DataFrame:
    """``mae_s`` as one (absolute error of P50, 1) per lap, by race (see ``Task.parts``)."""
    error = np.abs(rows.get_column(TARGET).to_numpy()
                   - predictions.get_column(OUTPUT_NAMES[1]).to_numpy())
    return pl.DataFrame({"race_id": rows.get_column("race_id"), "num": error,
                         "den": np.ones(rows.height)})


def score_laptime(rows: pl.DataFrame, predictions: pl.DataFrame) -> dict[str, float]:
    """MAE of P50 (s), pinball loss averaged over P10/P50/P90 (s), P10-P90 coverage (0..1)."""
    y = rows.get_column(TARGET).to_numpy()
    q = [predictions.get_column(n).to_numpy() for n in OUTPUT_NAMES]
    return {
        "mae_s": float(np.mean(np.abs(y - q[1]))),
        "pinball_s": float(np.mean([_pinball(y, p, a) for p, a in zip(q, QUANTILES,
                                                                     strict=True)])),
        "coverage_p10_p90": float(np.mean((y >= q[0]) & (y <= q[2]))),
    }


TASK = Task(
    name="laptime",
    title="Next green lap time of a car, P10/P50/P90",
    model=LapTimeModel,
    baseline=PaceMedianBaseline,
    rows=laptime_rows,
    score=score_laptime,
    parts=laptime_parts,
    primary="mae_s",
    target_source="timing files: the car's next green lap in the same stint",
    real_data_note="Trains and predicts on real timing alone: every input is a timing "
                   "feature (no telemetry, no weather).",
    limits=(
        "The interval is calibrated over all calibration laps together: it covers about "
        "80% overall, less for erratic drivers and more for steady ones.",
        "Laps after a caution restart are harder than the rest; a pit stop ends the "
        "stint, so no lap is predicted across one.",
        "Needs at least one green lap of the car in the race (recent pace); every input "
        "but the gap ahead (none for the leader) is required.",
        "Weather and telemetry are not inputs: with them the model did no better on the "
        "training lake's held-out races and tracks.",
    ),
)

__all__ = ["OUTPUT_NAMES", "QUANTILES", "TASK", "LapTimeModel", "PaceMedianBaseline",
           "laptime_parts", "laptime_rows", "relative_features", "score_laptime"]
