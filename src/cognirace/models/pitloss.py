"""Pit loss: the race time a stop costs, from the timing files alone.

Rows and labels are built in ``pitloss_rows``: a stop's in-lap plus out-lap against
what the car would have run without stopping, with the stop kind (``tire_change``) from
a record independent of the stop's own pit-lane time, or null where none exists (real
races). The model reads no time of the stop it predicts: it answers before the stop,
when the team knows the track, the flag and what it plans to do, not how long the crew
will take.

``PitLossModel`` is deliberately small because stops are rare (a few a race): loss =
the track's pit-lane transit + a learned per-track offset (the racing time the pit lane
replaces, shrunk toward the mean offset) + add-ons for a tire change, a caution and a
tire change under caution, fitted with a Huber loss so a long repair does not drag the
rest. A second fit leaves the kind out; it answers a stop whose kind is not given, and
the ``fallbacks`` column says so. ``TrackKindMedianBaseline`` is the engineer's rule:
the median loss of the training stops at the track, of the same kind.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.errors import DataError
from cognirace.features import PIT_TRANSIT_S
from cognirace.models.artifacts import ModelState
from cognirace.models.base import Model
from cognirace.models.per_track import per_track
from cognirace.models.pitloss_baselines import (
    KIND_SPEC,
    OUTPUTS,
    PREDICTION,
    TARGETS,
    TRACK_SPEC,
    TrackKindMedianBaseline,
    TransitPitLossBaseline,
    fallback_lists,
    pit_loss_parts,
    score_pit_loss,
)
from cognirace.models.pitloss_rows import KEYS, KIND, TARGET, pit_stop_rows
from cognirace.models.schema import ColumnSpec
from cognirace.models.task import Task

FloatArray = npt.NDArray[np.float64]

INPUTS: tuple[ColumnSpec, ...] = (
    TRACK_SPEC,
    ColumnSpec("caution", "Boolean", "The in-lap ended under a full-course yellow",
               nullable=False),
    KIND_SPEC,
)


def huber_ridge(x: FloatArray, y: FloatArray, penalty: FloatArray, delta: float,
                n_iter: int = 50) -> FloatArray:
    """Coefficients minimising a Huber loss (threshold ``delta``) plus a ridge penalty.

    Iteratively reweighted least squares: residuals beyond ``delta`` get weight
    ``delta / |r|``, so a 70 s repair counts like a large error, not a squared one.
    """
    w = np.ones(len(y))
    beta: FloatArray = np.zeros(x.shape[1])
    for _ in range(n_iter):
        xw = x * w[:, None]
        beta = np.asarray(np.linalg.lstsq(x.T @ xw + np.diag(penalty), xw.T @ y,
                                          rcond=None)[0], dtype=np.float64)
        r = np.abs(y - x @ beta)
        w = np.where(r > delta, delta / np.maximum(r, 1e-12), 1.0)
    return beta


class PitLossModel(Model):
    """Loss = transit + per-track offset + tire-change add-on + caution add-on (s).

    ``beta_`` holds ``[offset, tire change, caution, tire change x caution, track
    offsets...]`` (a tire change under yellow costs other than its green add-on plus the
    yellow's), ``beta_without_kind_`` ``[offset, caution, track offsets...]``. ``beta_``
    is empty when no training stop had a known kind (a season of real races): the model
    then answers every stop without it.

    Hyperparameters:
        shrinkage_stops: How many stops' worth of weight pulls each track's offset toward
            the mean offset; a track with few stops keeps close to the mean.
        huber_s: Residual (s) beyond which a stop's error counts linearly.
    """

    kind = "pit_loss"
    kind_version = "2"  # stop kind from an independent record, or left out
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    tracks_: list[str]
    beta_: FloatArray
    beta_without_kind_: FloatArray
    default_transit_s_: float

    def __init__(self, *, shrinkage_stops: float = 1.0, huber_s: float = 3.0) -> None:
        self.shrinkage_stops = shrinkage_stops
        self.huber_s = huber_s

    def _fit(self, frame: pl.DataFrame) -> None:
        frame = frame.filter(pl.col(TARGET).is_not_null())
        if frame.is_empty():
            raise DataError("no pit stop with a loss to learn from", column=TARGET,
                            hint="build rows with pit_stop_rows from a season with stops")
        self.default_transit_s_ = float(np.mean(list(PIT_TRANSIT_S.values())))
        self.tracks_ = sorted(set(frame["track"].to_list()))
        self.beta_without_kind_ = self._solve(frame, with_kind=False)
        known = frame.filter(pl.col(KIND).is_not_null())
        self.beta_ = self._solve(known, with_kind=True) if known.height else np.zeros(0)

    def _x(self, frame: pl.DataFrame, *, with_kind: bool) -> FloatArray:
        track = frame["track"].to_numpy()
        caution = frame["caution"].to_numpy().astype(np.float64)
        columns = [np.ones(frame.height)]
        if with_kind:
            tires = frame[KIND].fill_null(False).to_numpy().astype(np.float64)
            columns += [tires, caution, tires * caution]
        else:
            columns.append(caution)
        columns += [(track == name).astype(np.float64) for name in self.tracks_]
        return np.column_stack(columns)

    def _solve(self, frame: pl.DataFrame, *, with_kind: bool) -> FloatArray:
        y = frame[TARGET].to_numpy() - self._transit(frame)
        n_fixed = 4 if with_kind else 2
        penalty = np.r_[np.zeros(n_fixed), np.full(len(self.tracks_), self.shrinkage_stops)]
        return huber_ridge(self._x(frame, with_kind=with_kind), y, penalty, self.huber_s)

    def _transit(self, frame: pl.DataFrame) -> FloatArray:
        return per_track(PIT_TRANSIT_S, frame["track"], self.default_transit_s_)

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        transit = self._transit(frame)
        without = transit + self._x(frame, with_kind=False) @ self.beta_without_kind_
        kind_known = frame[KIND].is_not_null().to_numpy() & (self.beta_.size > 0)
        loss = without
        if self.beta_.size:
            loss = np.where(kind_known,
                            transit + self._x(frame, with_kind=True) @ self.beta_, without)
        unseen = ~frame["track"].is_in(self.tracks_).to_numpy()
        return pl.DataFrame({PREDICTION: loss,
                             **fallback_lists(unknown_track=unseen, unknown_kind=~kind_known)})

    @property
    def add_ons_s(self) -> dict[str, float]:
        """The fitted add-ons, s: ``tire_change`` (green), ``caution`` (a drive-through
        under yellow) and ``tire_change_caution`` (the tire change's extra under yellow);
        NaN for the kind's add-ons when no training stop had a known kind."""
        self._check_fitted("report its add-ons")
        if not self.beta_.size:
            nan = float("nan")
            return {KIND: nan, "caution": float(self.beta_without_kind_[1]),
                    f"{KIND}_caution": nan}
        return {KIND: float(self.beta_[1]), "caution": float(self.beta_[2]),
                f"{KIND}_caution": float(self.beta_[3])}

    def _get_state(self) -> ModelState:
        return ModelState(values={"tracks": self.tracks_,
                                  "default_transit_s": self.default_transit_s_},
                          arrays={"beta": self.beta_,
                                  "beta_without_kind": self.beta_without_kind_})

    def _set_state(self, state: ModelState) -> None:
        self.tracks_ = [str(t) for t in state.values["tracks"]]
        self.default_transit_s_ = float(state.values["default_transit_s"])
        self.beta_ = np.asarray(state.arrays["beta"], dtype=np.float64)
        self.beta_without_kind_ = np.asarray(state.arrays["beta_without_kind"],
                                             dtype=np.float64)


TASK = Task(
    name="pitloss",
    title="Race time lost by a pit stop, by track, flag and stop kind",
    model=PitLossModel,
    baseline=TrackKindMedianBaseline,
    rows=pit_stop_rows,
    score=score_pit_loss,
    parts=pit_loss_parts,
    primary="mae_s",
    reads_truth=True,
    history=True,
    target_source="timing files: in-lap and out-lap times against the car's green pace "
                  "(the field's median lap under a yellow and on the restart lap); the stop "
                  "kind, an input, from the simulator's record of each stop's service, "
                  "never from its pit time",
    real_data_note="The label comes from the official timing files. Real timing does not "
                   "record whether a stop changed tires, so on real races the kind is null: "
                   "model and baseline answer without it and say so (`fallbacks`).",
    limits=(
        "Stops are rare: the model also learns from past seasons (`--history-lake`); "
        "per-track offsets shrink toward the mean offset.",
        "A repair counts as a tire change; its longer standing time is not predictable "
        "from the timing files before the stop.",
        "The caution add-ons are learned from few yellow stops.",
        "Without the kind (real races) the answer is the loss of the training stops' "
        "mix of kinds, which on simulated seasons is not the real mix.",
    ),
)


__all__ = [
    "TASK",
    "PitLossModel",
    "TrackKindMedianBaseline",
    "TransitPitLossBaseline",
    "huber_ridge",
    "pit_loss_parts",
    "pit_stop_rows",
    "score_pit_loss",
]
