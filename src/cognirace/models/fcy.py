"""Caution hazard: the chance a full-course yellow starts within the next 1 to 6 laps.

Rows (``fcy_rows``) describe the race when the leader crosses the line; their label is
the leader's flag in the timing files (see ``cognirace.models.fcy_rows``).

No caution can start after the race, so lap ``j + 1`` ahead can hold a start only if
race time is left after it (``open_laps``, in ``fcy_baselines``); on the others every
hazard, the model's and the baselines' alike, is 0.

``FcyHazardModel`` is a discrete-time hazard: for each lap ``j + 1`` ahead, a ridge
logistic regression gives the chance ``h_j`` that a caution starts on that lap given
none before it, from the race state now (lap, laps left and laps since the last
caution advanced by ``j`` leader laps), and
``P(start within k) = 1 - prod_{j<k} (1 - h_j)``. Cautions are rare (under one a race),
so the model is small and regularised, and learns best from many seasons of timing
files (``Task.history``). Its baseline, ``TrackHazardBaseline``, is the engineer's
rule: each track's per-lap base rate in the training races, on every lap that can still
hold a start. ``FcyHazardWithoutOffPace`` is the model without the cars-off-pace signal,
published as an ablation so the card says how much of the gain that one signal carries.
Scoring (Brier, log loss, calibration, the Brier score's parts by race) is in
``fcy_scoring``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.models.artifacts import ModelState
from cognirace.models.base import Model
from cognirace.models.fcy_baselines import (
    KEYS,
    LEFT_SPEC,
    PACE_SPEC,
    TARGETS,
    TRACK_OUTPUTS,
    TRACK_SPEC,
    ConstantHazardBaseline,
    TrackHazardBaseline,
    laps_to_start,
    open_laps,
    require_rows,
    start_probabilities,
    unseen_tracks,
)
from cognirace.models.fcy_rows import OFF_PACE_S, fcy_rows
from cognirace.models.fcy_scoring import (
    HORIZONS,
    brier_parts,
    calibration_error,
    calibration_error_debiased,
    horizon_labels,
    reliability_table,
    score_fcy,
)
from cognirace.models.schema import ColumnSpec
from cognirace.models.task import Task

FloatArray = npt.NDArray[np.float64]

_OFF_PACE = ColumnSpec("n_off_pace", "Int32",
                       f"Cars whose last lap was over {OFF_PACE_S:g} s slower than their pace "
                       "median (pit laps and laps under or just after FCY excluded)", "", 0, 200,
                       nullable=False)
INPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("lap", "Int32", "Leader laps completed", "laps", 1, 500, nullable=False),
    LEFT_SPEC,
    TRACK_SPEC,
    PACE_SPEC,
    ColumnSpec("n_close_1s", "Int32", "Cars within 1 s of the car ahead at their last line",
               "", 0, 200, nullable=False),
    ColumnSpec("p_close_2s", "Float64", "Share of gaps to the car ahead under 2 s", "", 0.0,
               1.0, nullable=False),
    ColumnSpec("laps_since_fcy", "Int32",
               "Leader laps since the last FCY lap (since the start when none)", "laps", 0,
               500, nullable=False),
    ColumnSpec("n_fcy_starts", "Int32", "Cautions started so far in the race", "", 0, 100,
               nullable=False),
    _OFF_PACE,
)
FEATURES: tuple[str, ...] = (
    "log_laps_left", "laps_left_4", "race_fraction", "race_fraction_sq", "restart",
    "n_fcy_starts", "any_fcy", "log_laps_since_fcy", "n_off_pace_3", "n_close_1s",
    "p_close_2s")
"""Hazard features ``step`` leader laps ahead: the laps left (starts thin out near the
end: too few laps to restart), the hazard's shape over the race, the first green laps
after a restart, cautions so far, cars limping (a car off pace may stop on track) and
density.

How much time the worst car lost is left out on purpose: in the simulator a big loss
nearly always precedes a caution, but in the real races cars lose 10 to 40 s on a lap
(a spin, an off) and carry on without one, and the model that read it scored worse
than the baseline there."""


def _columns(frame: pl.DataFrame, names: tuple[str, ...]) -> dict[str, FloatArray]:
    """The inputs ``names`` as float arrays, read once per call (required: no nulls)."""
    return {name: np.asarray(frame[name].to_numpy(), dtype=np.float64) for name in names}


def _design(cols: Mapping[str, FloatArray], step: int, names: tuple[str, ...]) -> FloatArray:
    """Features ``names`` of each row for the lap ``step + 1`` ahead (unscaled)."""
    pace = np.maximum(cols["leader_pace_s"], 1.0)
    laps_left = np.maximum(cols["race_time_left_s"] / pace - step, 0.0)
    lap = cols["lap"] + step
    since = cols["laps_since_fcy"] + step
    starts = cols["n_fcy_starts"]
    fraction = lap / (lap + laps_left)
    features: dict[str, Callable[[], FloatArray]] = {
        "log_laps_left": lambda: np.log1p(laps_left),
        "laps_left_4": lambda: np.minimum(laps_left, 4.0),
        "race_fraction": lambda: fraction, "race_fraction_sq": lambda: fraction ** 2,
        "restart": lambda: ((starts > 0) & (since <= 2)).astype(np.float64),
        "n_fcy_starts": lambda: starts, "any_fcy": lambda: np.minimum(starts, 1.0),
        "log_laps_since_fcy": lambda: np.log1p(since),
        "n_off_pace_3": lambda: np.minimum(cols["n_off_pace"], 3.0),
        "n_close_1s": lambda: cols["n_close_1s"], "p_close_2s": lambda: cols["p_close_2s"],
    }
    return np.column_stack([features[name]() for name in names])


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


def _fit_step(x: FloatArray, y: FloatArray, penalty: FloatArray) -> FloatArray:
    """One step's coefficients; none (all 0) when no row is at risk that far ahead."""
    return ridge_logistic(x, y, penalty) if len(y) else np.zeros(len(penalty))


class FcyHazardModel(Model):
    """Discrete-time caution hazard: one ridge logistic regression per lap ahead.

    The hazard of lap ``j + 1`` ahead is fitted on the rows with no caution start in
    the ``j`` laps before it and that lap still open (``open_laps``), so each step learns
    what still predicts a start that far ahead (a car limping now predicts the next
    lap, not the sixth), and the chained probabilities stay calibrated at every horizon.

    Hyperparameters:
        l2: Ridge penalty on each standardised feature's coefficient (rows' worth of
            weight pulling it to 0); cautions are rare, so the fit needs it.
        track_l2: Ridge penalty on each track's offset (rows' worth of weight).
    """

    kind = "fcy_hazard"
    kind_version = "4"  # open laps from the leader's green pace; no unused inputs
    inputs = INPUTS
    targets = TARGETS
    outputs = TRACK_OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS
    features: ClassVar[tuple[str, ...]] = FEATURES

    mean_: FloatArray
    scale_: FloatArray
    beta_: FloatArray
    pooled_beta_: FloatArray
    tracks_: list[str]

    def __init__(self, *, l2: float = 30.0, track_l2: float = 3.0) -> None:
        self.l2 = l2
        self.track_l2 = track_l2

    def _names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.inputs if spec.polars_dtype.is_numeric())

    def _fit(self, frame: pl.DataFrame) -> None:
        require_rows(frame)
        cols, open_ = _columns(frame, self._names()), open_laps(frame)
        raw = _design(cols, 0, self.features)[open_[:, 0] > 0]
        self.mean_ = raw.mean(axis=0)
        self.scale_ = np.where(raw.std(axis=0) > 0, raw.std(axis=0), 1.0)
        self.tracks_ = sorted(set(frame["track"].to_list()))
        onehot = self._onehot(frame)
        laps = laps_to_start(frame)
        penalty = np.r_[0.0, np.full(raw.shape[1], self.l2),
                        np.full(len(self.tracks_), self.track_l2)]
        betas, pooled = [], []
        for step in range(len(HORIZONS)):
            at_risk = (laps > step) & (open_[:, step] > 0)
            x = self._x(cols, onehot, step)[at_risk]
            y = (laps[at_risk] == step + 1).astype(np.float64)
            betas.append(_fit_step(x, y, penalty))
            pooled.append(_fit_step(x[:, :1 + raw.shape[1]], y, penalty[:1 + raw.shape[1]]))
        self.beta_, self.pooled_beta_ = np.vstack(betas), np.vstack(pooled)

    def _onehot(self, frame: pl.DataFrame) -> FloatArray:
        track = frame["track"].to_numpy()
        return np.column_stack([track == name for name in self.tracks_]).astype(np.float64) \
            if self.tracks_ else np.zeros((frame.height, 0))

    def _x(self, cols: Mapping[str, FloatArray], onehot: FloatArray, step: int) -> FloatArray:
        scaled = (_design(cols, step, self.features) - self.mean_) / self.scale_
        return np.column_stack([np.ones(len(scaled)), scaled, onehot])

    def hazards(self, frame: pl.DataFrame) -> FloatArray:
        """Chance a caution starts on lap ``j + 1`` from now given none before: ``[row, j]``.

        A track the model saw gets its own offset; another is answered by the hazard
        fitted without track offsets, whose field features then carry what they can
        of the track (a race with cautions already is likely at a track with many).
        """
        self._check_fitted("compute a hazard")
        cols, onehot = _columns(frame, self._names()), self._onehot(frame)
        seen = onehot.sum(axis=1) > 0
        n_pooled = self.pooled_beta_.shape[1]
        h = np.zeros((frame.height, len(HORIZONS)))
        for j in range(len(HORIZONS)):
            x = self._x(cols, onehot, j)
            h[:, j] = np.where(seen, _sigmoid(x @ self.beta_[j]),
                               _sigmoid(x[:, :n_pooled] @ self.pooled_beta_[j]))
        return np.asarray(h * open_laps(frame), dtype=np.float64)

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        return start_probabilities(self.hazards(frame)).with_columns(
            unseen_tracks(frame, self.tracks_))

    def _get_state(self) -> ModelState:
        return ModelState(values={"tracks": self.tracks_},
                          arrays={"mean": self.mean_, "scale": self.scale_, "beta": self.beta_,
                                  "pooled_beta": self.pooled_beta_})

    def _set_state(self, state: ModelState) -> None:
        self.tracks_ = [str(name) for name in state.values["tracks"]]
        self.mean_ = np.asarray(state.arrays["mean"], dtype=np.float64)
        self.scale_ = np.asarray(state.arrays["scale"], dtype=np.float64)
        self.beta_ = np.asarray(state.arrays["beta"], dtype=np.float64)
        self.pooled_beta_ = np.asarray(state.arrays["pooled_beta"], dtype=np.float64)


class FcyHazardWithoutOffPace(FcyHazardModel):
    """The hazard model without ``n_off_pace``: the ablation that shows what cars limping
    before a caution add (in the model card).

    In the simulator, a car that will stop on track often limps a lap or two before;
    whether real cautions give that warning as often, 14 real races cannot tell, so the
    card says how much of the gain rests on it.
    """

    kind = "fcy_hazard_without_off_pace"
    inputs = tuple(spec for spec in INPUTS if spec.name != "n_off_pace")
    features: ClassVar[tuple[str, ...]] = tuple(f for f in FEATURES if f != "n_off_pace_3")


TASK = Task(
    name="fcy",
    title="Chance a full-course yellow starts within the next 1 to 6 laps",
    model=FcyHazardModel,
    baseline=TrackHazardBaseline,
    rows=fcy_rows,
    score=score_fcy,
    parts=brier_parts,
    primary="brier",
    history=True,
    ablations={"without n_off_pace": FcyHazardWithoutOffPace},
    target_source="timing files: the leader's flag at the line (`FLAG_AT_FL`); a caution "
                  "starts on the first FCY lap after a green one",
    real_data_note="Everything comes from the official timing files, so real data gives "
                   "the same labels and the same model.",
    limits=(
        "Cautions are rare (a few a race at most): the hazard needs many seasons of "
        "timing files (`--history-lake`); one season holds too few starts.",
        "A caution on lap 1 has no row before it and cannot be predicted.",
        "Field features come from the timing line only; an incident between crossings is "
        "seen at the next line at the earliest.",
        "The laps that can still hold a start are estimated from the leader's green pace; "
        "a caution slows the laps, so near the end the estimate can be a lap long.",
        "The baseline knows each track's caution rate, which is most of what the hazard "
        "knows at a track it has seen; much of the rest is the off-pace signal (a car "
        "limping a lap or two before it stops on track), which the simulator writes "
        "before some of its cautions and which the real races are too few to confirm. "
        "The ablation row shows the model without it.",
        "Real cars often lose a lot of time on a lap (a spin, an off) and carry on with no "
        "caution, unlike the simulator's limping cars: the model counts the cars off pace "
        "and does not read how much time they lost.",
    ),
)


__all__ = [
    "HORIZONS",
    "TASK",
    "ConstantHazardBaseline",
    "FcyHazardModel",
    "FcyHazardWithoutOffPace",
    "TrackHazardBaseline",
    "brier_parts",
    "calibration_error",
    "calibration_error_debiased",
    "fcy_rows",
    "horizon_labels",
    "open_laps",
    "reliability_table",
    "ridge_logistic",
    "score_fcy",
]
