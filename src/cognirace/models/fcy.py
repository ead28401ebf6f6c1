"""Caution hazard: the chance a full-course yellow starts within the next 1 to 6 laps.

One row per race and leader lap: the race as it stands when the leader crosses the line.
Every field value of a row comes from the laps each car had completed by that moment
(an as-of join on ``lap_end``), so a row never reads a lap that ends after it.

The label comes from the timing files alone: the leader's ``flag`` at the line. A
caution starts on the first ``FCY`` lap after a green one; rows whose leader lap ended
under FCY are left out (the hazard is of a *new* caution), and so are the leader's
chequered lap (``FF``) and any row without race time left (no lap follows).
``laps_to_fcy_start`` counts leader laps from the row to the next start, null when none
comes before the race ends.

``FcyHazardModel`` is a discrete-time hazard: for each lap ``j + 1`` ahead, a ridge
logistic regression gives the chance ``h_j`` that a caution starts on that lap given
none before it, from the race state now (lap, race time left and laps since the last
caution advanced by ``j`` leader laps; the hazard is 0 once the race is over), and
``P(start within k) = 1 - prod_{j<k} (1 - h_j)``. Cautions are rare (under one a race),
so the model is small and regularised, and learns best from many seasons of timing
files (``Task.history``). ``ConstantHazardBaseline`` uses the training races' per-lap
base rate for every lap. Scoring (Brier, log loss, calibration) is in ``fcy_scoring``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.domain.formats import FLAG_CAUTION, FLAG_FINISH
from cognirace.errors import DataError
from cognirace.models.arrays import filled
from cognirace.models.artifacts import ModelState
from cognirace.models.base import Model
from cognirace.models.fcy_scoring import (
    HORIZONS,
    TARGET,
    calibration_error,
    calibration_error_debiased,
    horizon_labels,
    reliability_table,
    score_fcy,
)
from cognirace.models.schema import ColumnSpec
from cognirace.models.task import Task

FloatArray = npt.NDArray[np.float64]

KEYS: tuple[str, ...] = ("race_id", "lap")
OFF_PACE_S = 3.0
"""A car is off pace when its last lap was this much slower than its pace median, s."""

INPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("lap", "Int32", "Leader laps completed", "laps", 1, 500),
    ColumnSpec("race_time_left_s", "Float64", "Race time left after the leader's lap", "s",
               0.0, 20_000.0),
    ColumnSpec("track", "String", "Track key (`barber`)"),
    ColumnSpec("leader_lap_s", "Float64", "The leader's last lap time", "s", 20.0, 1_000.0),
    ColumnSpec("n_cars", "Int32", "Cars running (a lap completed in the race)", "", 0, 200),
    ColumnSpec("n_close_1s", "Int32", "Cars within 1 s of the car ahead at their last line",
               "", 0, 200),
    ColumnSpec("n_close_2s", "Int32", "Cars within 2 s of the car ahead at their last line",
               "", 0, 200),
    ColumnSpec("p_close_2s", "Float64", "Share of gaps to the car ahead under 2 s", "", 0.0, 1.0),
    ColumnSpec("laps_since_fcy", "Int32",
               "Leader laps since the last FCY lap (since the start when none)", "laps", 0, 500),
    ColumnSpec("n_fcy_starts", "Int32", "Cautions started so far in the race", "", 0, 100),
    ColumnSpec("n_off_pace", "Int32",
               f"Cars whose last lap was over {OFF_PACE_S:g} s slower than their pace median "
               "(pit laps and laps under or just after FCY excluded)", "", 0, 200),
)
TARGETS: tuple[ColumnSpec, ...] = (
    ColumnSpec(TARGET, "Int32", "Leader laps until the next caution starts, null when none "
               "starts before the race ends", "laps", 1, 500),
)
OUTPUTS: tuple[ColumnSpec, ...] = tuple(
    ColumnSpec(f"p_fcy_start_{k}", "Float64",
               f"Probability that a full-course yellow starts within the next {k} laps",
               "", 0.0, 1.0)
    for k in HORIZONS
)
FEATURES: tuple[str, ...] = (
    "log_laps_left", "laps_left_4", "race_fraction", "race_fraction_sq", "restart",
    "n_fcy_starts", "any_fcy", "log_laps_since_fcy", "n_off_pace_3", "n_close_1s",
    "p_close_2s")
"""Hazard features ``step`` leader laps ahead: no caution starts in the last laps (too
few to restart), the hazard's shape over the race, the first green laps after a
restart, cautions so far, cars limping (a car off pace may stop on track) and density."""


def _columns(frame: pl.DataFrame) -> dict[str, FloatArray]:
    """The inputs the features need, as float arrays, read once per call."""
    return {
        "lap": np.asarray(frame["lap"].to_numpy(), dtype=np.float64),
        "left": np.asarray(filled(frame["race_time_left_s"], 0.0), dtype=np.float64),
        "lap_s": np.asarray(filled(frame["leader_lap_s"], 0.0), dtype=np.float64),
        **{name: np.asarray(filled(frame[name], 0), dtype=np.float64)
           for name in ("laps_since_fcy", "n_fcy_starts", "n_off_pace", "n_close_1s",
                        "p_close_2s")},
    }


def _design(cols: Mapping[str, FloatArray], step: int) -> FloatArray:
    """``FEATURES`` of each row ``step`` leader laps ahead (unscaled)."""
    lap_s = np.maximum(cols["lap_s"], 1.0)
    laps_left = np.maximum(cols["left"] - step * cols["lap_s"], 0.0) / lap_s
    lap = cols["lap"] + step
    since = cols["laps_since_fcy"] + step
    starts = cols["n_fcy_starts"]
    fraction = lap / (lap + laps_left)
    features = {
        "log_laps_left": np.log1p(laps_left), "laps_left_4": np.minimum(laps_left, 4.0),
        "race_fraction": fraction, "race_fraction_sq": fraction ** 2,
        "restart": ((starts > 0) & (since <= 2)).astype(np.float64),
        "n_fcy_starts": starts, "any_fcy": np.minimum(starts, 1.0),
        "log_laps_since_fcy": np.log1p(since),
        "n_off_pace_3": np.minimum(cols["n_off_pace"], 3.0),
        "n_close_1s": cols["n_close_1s"], "p_close_2s": cols["p_close_2s"],
    }
    return np.column_stack([features[name] for name in FEATURES])


def _alive(cols: Mapping[str, FloatArray], step: int) -> FloatArray:
    """1 where a lap still follows ``step`` leader laps from now (race time left), else 0."""
    return np.asarray(cols["left"] - step * cols["lap_s"] > 0.0, dtype=np.float64)


def _alive_expr() -> pl.Expr:
    """Rows with race time left: a lap follows, so there is a next-lap outcome."""
    return pl.col("race_time_left_s").fill_null(0.0) > 0.0


def _sigmoid(z: FloatArray) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0))), dtype=np.float64)


def ridge_logistic(x: FloatArray, y: FloatArray, penalty: FloatArray,
                   n_iter: int = 50) -> FloatArray:
    """Coefficients of a logistic regression with a per-coefficient ridge penalty (Newton)."""
    beta: FloatArray = np.zeros(x.shape[1])
    for _ in range(n_iter):
        p = _sigmoid(x @ beta)
        grad = x.T @ (p - y) + penalty * beta
        hess = (x * (p * (1.0 - p))[:, None]).T @ x + np.diag(penalty) + 1e-9 * np.eye(x.shape[1])
        step = np.asarray(np.linalg.solve(hess, grad), dtype=np.float64)
        beta = np.asarray(beta - step, dtype=np.float64)
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return beta


def _events(frame: pl.DataFrame) -> FloatArray:
    """1 where a caution starts on the next leader lap."""
    return (frame[TARGET] == 1).fill_null(False).to_numpy().astype(np.float64)


def _combine(hazards: list[FloatArray]) -> pl.DataFrame:
    """``P(start within k) = 1 - prod_{j<k}(1 - h_j)`` for each horizon, as output columns."""
    survive = np.cumprod(1.0 - np.column_stack(hazards), axis=1)
    return pl.DataFrame({f"p_fcy_start_{k}": np.clip(1.0 - survive[:, k - 1], 0.0, 1.0)
                         for k in HORIZONS})


class FcyHazardModel(Model):
    """Discrete-time caution hazard: one ridge logistic regression per lap ahead.

    The hazard of lap ``j + 1`` ahead is fitted on the rows with no caution start in
    the ``j`` laps before it, so each step learns what still predicts a start that far
    ahead (a car limping now predicts the next lap, not the sixth), and the chained
    probabilities stay calibrated at every horizon.

    Hyperparameters:
        l2: Ridge penalty on each standardised feature's coefficient (rows' worth of
            weight pulling it to 0); cautions are rare, so the fit needs it.
        track_l2: Ridge penalty on each track's offset; an unseen track gets none.
    """

    kind = "fcy_hazard"
    kind_version = "3"  # field counts include the timing cars without logger data
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    mean_: FloatArray
    scale_: FloatArray
    beta_: FloatArray
    tracks_: list[str]

    def __init__(self, *, l2: float = 3.0, track_l2: float = 30.0) -> None:
        self.l2 = l2
        self.track_l2 = track_l2

    def _fit(self, frame: pl.DataFrame) -> None:
        frame = frame.filter(_alive_expr())
        if frame.is_empty():
            raise DataError("no green race state with a lap to follow", column=TARGET,
                            hint="build rows with fcy_rows from races with green laps")
        cols = _columns(frame)
        raw = _design(cols, 0)
        self.mean_ = raw.mean(axis=0)
        self.scale_ = np.where(raw.std(axis=0) > 0, raw.std(axis=0), 1.0)
        self.tracks_ = sorted(set(frame["track"].to_list()))
        onehot = self._onehot(frame)
        laps = frame[TARGET].fill_null(10**6).to_numpy()
        penalty = np.r_[0.0, np.full(raw.shape[1], self.l2),
                        np.full(len(self.tracks_), self.track_l2)]
        betas = []
        for step in range(len(HORIZONS)):
            at_risk = (laps > step) & (_alive(cols, step) > 0)
            x = self._x(cols, onehot, step)[at_risk]
            betas.append(ridge_logistic(x, (laps[at_risk] == step + 1).astype(np.float64),
                                        penalty))
        self.beta_ = np.vstack(betas)

    def _onehot(self, frame: pl.DataFrame) -> FloatArray:
        track = frame["track"].to_numpy()
        return np.column_stack([track == name for name in self.tracks_]).astype(np.float64) \
            if self.tracks_ else np.zeros((frame.height, 0))

    def _x(self, cols: Mapping[str, FloatArray], onehot: FloatArray, step: int) -> FloatArray:
        scaled = (_design(cols, step) - self.mean_) / self.scale_
        return np.column_stack([np.ones(len(scaled)), scaled, onehot])

    def hazards(self, frame: pl.DataFrame) -> list[FloatArray]:
        """Chance a caution starts on lap ``j + 1`` from now given none before, per ``j``."""
        self._check_fitted("compute a hazard")
        cols = _columns(frame)
        onehot = self._onehot(frame)
        return [_sigmoid(self._x(cols, onehot, j) @ self.beta_[j]) * _alive(cols, j)
                for j in range(len(HORIZONS))]

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        return _combine(self.hazards(frame))

    def _get_state(self) -> ModelState:
        return ModelState(values={"tracks": self.tracks_},
                          arrays={"mean": self.mean_, "scale": self.scale_, "beta": self.beta_})

    def _set_state(self, state: ModelState) -> None:
        self.tracks_ = [str(name) for name in state.values["tracks"]]
        self.mean_ = np.asarray(state.arrays["mean"], dtype=np.float64)
        self.scale_ = np.asarray(state.arrays["scale"], dtype=np.float64)
        self.beta_ = np.asarray(state.arrays["beta"], dtype=np.float64)


class ConstantHazardBaseline(Model):
    """Baseline: the training races' per-lap caution start rate, the same on every lap."""

    kind = "fcy_hazard_constant"
    kind_version = "1"
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    hazard_: float

    def _fit(self, frame: pl.DataFrame) -> None:
        frame = frame.filter(_alive_expr())
        if frame.is_empty():
            raise DataError("no green race state with a lap to follow", column=TARGET)
        self.hazard_ = float(_events(frame).mean())

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        h = np.full(frame.height, self.hazard_)
        return _combine([h] * len(HORIZONS))

    def _get_state(self) -> ModelState:
        return ModelState(values={"hazard": self.hazard_})

    def _set_state(self, state: ModelState) -> None:
        self.hazard_ = float(state.values["hazard"])


def _leader_laps(features: pl.DataFrame) -> pl.DataFrame:
    """The leader's crossing of each lap, with the caution history and the label."""
    race = "race_id"
    fcy = pl.col("flag") == FLAG_CAUTION
    start = fcy & ~fcy.shift(1).over(race).fill_null(False)
    leader = (features.filter(pl.col("position") == 1).sort(race, "lap")
              .unique([race, "lap"], keep="first", maintain_order=True)
              .select(race, "lap", "track", "flag", "race_time_left_s",
                      pl.col("lap_end").alias("leader_end"),
                      pl.col("lap_time_s").alias("leader_lap_s")))
    last_fcy = pl.when(fcy).then(pl.col("lap")).forward_fill().over(race)
    next_start = pl.when(start).then(pl.col("lap")).shift(-1).backward_fill().over(race)
    return leader.with_columns(
        n_fcy_starts=start.cast(pl.Int32).cum_sum().over(race),
        laps_since_fcy=(pl.col("lap") - last_fcy.fill_null(0)).cast(pl.Int32),
        **{TARGET: (next_start - pl.col("lap")).cast(pl.Int32)},
    )


def _car_state(features: pl.DataFrame) -> pl.DataFrame:
    """Each car's laps with an off-pace flag: a clean lap > ``OFF_PACE_S`` over its pace.

    A car is the table's timing car (``race_id, car_number``): every car on track counts,
    with logger data or without.
    """
    car = ["race_id", "car_number"]
    clean = (~pl.col("in_pit") & ~pl.col("out_lap") & (pl.col("flag") != FLAG_CAUTION)
             & ~pl.col("prev_fcy") & (pl.col("lap") > 1)).fill_null(False)
    pace = pl.col("pace_median3_s").shift(1).over(car)
    return (features.sort(*car, "lap")
            .with_columns(off_pace=(clean & (pl.col("lap_time_s") - pace > OFF_PACE_S))
                          .fill_null(False))
            .select(*car, "lap_end", "gap_ahead_s", "off_pace")
            .sort("lap_end"))


def _field_at_leader(leader: pl.DataFrame, cars: pl.DataFrame) -> pl.DataFrame:
    """Field density and cars off pace from each car's last lap done when the leader crossed."""
    car = ["race_id", "car_number"]
    grid = (leader.select("race_id", "lap", "leader_end")
            .join(cars.select(car).unique(), on="race_id").sort("leader_end"))
    asof = grid.join_asof(cars, left_on="leader_end", right_on="lap_end",
                          by=car, strategy="backward",
                          check_sortedness=False)  # both sorted by time above
    gap = pl.col("gap_ahead_s")
    return asof.group_by("race_id", "lap").agg(
        n_cars=pl.col("lap_end").is_not_null().sum().cast(pl.Int32),
        n_close_1s=(gap < 1.0).sum().cast(pl.Int32),
        n_close_2s=(gap < 2.0).sum().cast(pl.Int32),
        p_close_2s=((gap < 2.0).sum() / gap.is_not_null().sum().clip(lower_bound=1))
        .cast(pl.Float64),
        n_off_pace=pl.col("off_pace").fill_null(False).sum().cast(pl.Int32),
    )


def fcy_rows(features: pl.DataFrame,
             truth: Mapping[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """One row per race and green leader lap with a lap to follow (see the module doc).

    ``truth`` is not used: the label is the leader's flag in the timing files.

    Returns:
        Keys, ``track``, the inputs, ``laps_to_fcy_start`` and the leader's ``flag``.
    """
    leader = _leader_laps(features)
    field = _field_at_leader(leader, _car_state(features))
    rows = (leader.join(field, on=["race_id", "lap"], how="left")
            .filter(~pl.col("flag").is_in([FLAG_CAUTION, FLAG_FINISH])
                    & (pl.col("race_time_left_s") > 0.0)))
    return rows.select(*KEYS, *(s.name for s in INPUTS if s.name not in KEYS), TARGET,
                       "flag").sort(KEYS)


TASK = Task(
    name="fcy",
    title="Chance a full-course yellow starts within the next 1 to 6 laps",
    model=FcyHazardModel,
    baseline=ConstantHazardBaseline,
    rows=fcy_rows,
    score=score_fcy,
    primary="brier",
    history=True,
    target_source="timing files: the leader's flag at the line (`FLAG_AT_FL`); a caution "
                  "starts on the first FCY lap after a green one",
    real_data_note="Everything comes from the official timing files, so real data gives "
                   "the same labels and the same model.",
    limits=(
        "Cautions are rare (under one a race): the hazard needs many seasons of timing "
        "files (`--history-lake`); on one season it rests on a dozen starts.",
        "A caution on lap 1 has no row before it and cannot be predicted.",
        "Field features come from the timing line only; an incident between crossings is "
        "seen at the next line at the earliest.",
        "The baseline does not know when the race ends; part of the model's edge at long "
        "horizons near the end is that no lap is left.",
    ),
)


__all__ = [
    "HORIZONS",
    "TASK",
    "ConstantHazardBaseline",
    "FcyHazardModel",
    "calibration_error",
    "calibration_error_debiased",
    "fcy_rows",
    "horizon_labels",
    "reliability_table",
    "ridge_logistic",
    "score_fcy",
]
