"""Pit loss: the race time a stop costs, from the timing files alone.

Rows and labels are built in ``pitloss_rows``: a stop's in-lap plus out-lap against
what the car would have run without stopping, with the stop kind (``tire_change``, and
``repair`` for a tire stop that repairs damage) from a record independent of the stop's
own pit-lane time, or null where none exists (real races). The model reads no time of
the stop it predicts: it answers before the stop, when the team knows the track, the
flag and what it plans to do, not how long the crew will take.

``PitLossModel`` is deliberately small because stops are rare (a few a race): loss =
the track's pit-lane transit + a learned per-track offset (the racing time the pit lane
replaces, shrunk toward the mean offset) + add-ons for a tire change, a repair's longer
stand, a caution, and each kind under caution, fitted with a Huber loss so one long
repair does not drag the rest. A repair and a plain tire change are told apart because
a repair stands longer: priced together, a plain tire change was charged part of the
repairs' stand (a green tire stop at Barber, trained on the demo season: 67.5 s, and
45.9 s apart from the repairs). Two more fits answer what is not given: a tire stop of
unknown purpose (the training tire stops' mix) and a stop of unknown kind; the
``fallbacks`` column says which. ``TrackKindMedianBaseline`` is the engineer's rule: the
median loss of the training stops at the track, of the same kind.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    NEW_TIRES,
    OUTPUTS,
    PREDICTION,
    REPAIR_SPEC,
    SERVICES,
    TARGETS,
    TRACK_SPEC,
    TrackKindMedianBaseline,
    TransitPitLossBaseline,
    fallback_lists,
    pit_loss_parts,
    score_pit_loss,
    service_array,
)
from cognirace.models.pitloss_rows import KEYS, KIND, REPAIR, TARGET, pit_stop_rows
from cognirace.models.schema import ColumnSpec
from cognirace.models.task import Task

FloatArray = npt.NDArray[np.float64]

INPUTS: tuple[ColumnSpec, ...] = (
    TRACK_SPEC,
    ColumnSpec("caution", "Boolean", "The in-lap ended under a full-course yellow",
               nullable=False),
    KIND_SPEC,
    REPAIR_SPEC,
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


@dataclass(frozen=True)
class _Stops:
    """The inputs as NumPy arrays, read once per call (a single-row call is the API's)."""

    track: npt.NDArray[np.object_]
    caution: FloatArray
    services: npt.NDArray[np.object_]

    @classmethod
    def of(cls, frame: pl.DataFrame) -> _Stops:
        return cls(np.array(frame["track"].to_list(), dtype=object),
                   np.asarray(frame["caution"].to_list(), dtype=np.float64),
                   service_array(frame))

    def take(self, mask: npt.NDArray[np.bool_]) -> _Stops:
        return _Stops(self.track[mask], self.caution[mask], self.services[mask])


class PitLossModel(Model):
    """Loss = transit + per-track offset + the stop kind's add-ons + caution add-ons (s).

    Three fits, one per what the question tells: ``beta_`` ``[offset, tire change,
    repair, caution, tire change x caution, repair x caution, track offsets...]`` for a
    stop whose service is known (a repair stands longer than a tire change, and either
    under yellow costs other than green plus the yellow's add-on); ``beta_tires_``
    ``[offset, tire change, caution, tire change x caution, tracks...]`` for a tire stop
    of unknown purpose; ``beta_without_kind_`` ``[offset, caution, tracks...]``. A fit
    is empty when no training stop told what it needs (a season of real races knows no
    kind; a season without a repair cannot price one); its questions then fall to the
    next fit, and ``fallbacks`` says so.

    Hyperparameters:
        shrinkage_stops: How many stops' worth of weight pulls each track's offset toward
            the mean offset; a track with few stops keeps close to the mean.
        huber_s: Residual (s) beyond which a stop's error counts linearly.
    """

    kind = "pit_loss"
    kind_version = "3"  # a repair told from a tire change
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    tracks_: list[str]
    beta_: FloatArray
    beta_tires_: FloatArray
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
        stops = _Stops.of(frame)
        y = frame[TARGET].to_numpy() - self._transit(frame)
        self.beta_without_kind_ = self._solve(stops, y, "none")
        kinded = stops.services != None  # noqa: E711
        self.beta_tires_ = (self._solve(stops.take(kinded), y[kinded], "tires")
                            if kinded.any() else np.zeros(0))
        known = np.isin(stops.services, SERVICES)
        has_repair = bool((stops.services == "repair").any())
        self.beta_ = (self._solve(stops.take(known), y[known], "service")
                      if has_repair else np.zeros(0))

    def _x(self, stops: _Stops, design: str) -> FloatArray:
        """The design matrix: ``service`` (kind and repair known), ``tires`` (the kind
        only) or ``none``."""
        caution = stops.caution
        columns = [np.ones(len(caution))]
        if design != "none":
            tires = np.isin(stops.services, NEW_TIRES).astype(np.float64)
            columns.append(tires)
            if design == "service":
                repair = (stops.services == "repair").astype(np.float64)
                columns += [repair, caution, tires * caution, repair * caution]
            else:
                columns += [caution, tires * caution]
        else:
            columns.append(caution)
        columns += [(stops.track == name).astype(np.float64) for name in self.tracks_]
        return np.column_stack(columns)

    def _solve(self, stops: _Stops, y: FloatArray, design: str) -> FloatArray:
        """Fit one design; only the track offsets are shrunk (the trailing columns)."""
        x = self._x(stops, design)
        n_fixed = x.shape[1] - len(self.tracks_)
        penalty = np.r_[np.zeros(n_fixed), np.full(len(self.tracks_), self.shrinkage_stops)]
        return huber_ridge(x, y, penalty, self.huber_s)

    def _transit(self, frame: pl.DataFrame) -> FloatArray:
        return per_track(PIT_TRANSIT_S, frame["track"], self.default_transit_s_)

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        stops = _Stops.of(frame)
        services = stops.services
        transit = self._transit(frame)
        loss = transit + self._x(stops, "none") @ self.beta_without_kind_
        kind_known = (services != None) & (self.beta_tires_.size > 0)  # noqa: E711
        if self.beta_tires_.size:
            loss = np.where(kind_known, transit + self._x(stops, "tires") @ self.beta_tires_,
                            loss)
        service_known = np.isin(services, SERVICES) & (self.beta_.size > 0)
        if self.beta_.size:
            loss = np.where(service_known, transit + self._x(stops, "service") @ self.beta_,
                            loss)
        # a drive-through needs no purpose: the tire fit knows it when the service fit
        # does not
        repair_unknown = kind_known & ~service_known & (services != "drive_through")
        unseen = ~np.isin(stops.track, self.tracks_)
        return pl.DataFrame({PREDICTION: loss,
                             **fallback_lists(unknown_track=unseen, unknown_kind=~kind_known,
                                              unknown_repair=repair_unknown)})

    @property
    def add_ons_s(self) -> dict[str, float]:
        """The fitted add-ons, s: ``tire_change`` (a green tire change), ``repair`` (a
        repair's extra over it), ``caution`` (a drive-through under yellow), and
        ``tire_change_caution`` / ``repair_caution`` (each kind's extra under yellow);
        NaN for what no training stop told (the kind, or a repair)."""
        self._check_fitted("report its add-ons")
        nan = float("nan")
        if self.beta_.size:
            b = self.beta_
            return {KIND: float(b[1]), REPAIR: float(b[2]), "caution": float(b[3]),
                    f"{KIND}_caution": float(b[4]), f"{REPAIR}_caution": float(b[5])}
        if self.beta_tires_.size:
            b = self.beta_tires_
            return {KIND: float(b[1]), REPAIR: nan, "caution": float(b[2]),
                    f"{KIND}_caution": float(b[3]), f"{REPAIR}_caution": nan}
        return {KIND: nan, REPAIR: nan, "caution": float(self.beta_without_kind_[1]),
                f"{KIND}_caution": nan, f"{REPAIR}_caution": nan}

    def _get_state(self) -> ModelState:
        return ModelState(values={"tracks": self.tracks_,
                                  "default_transit_s": self.default_transit_s_},
                          arrays={"beta": self.beta_, "beta_tires": self.beta_tires_,
                                  "beta_without_kind": self.beta_without_kind_})

    def _set_state(self, state: ModelState) -> None:
        self.tracks_ = [str(t) for t in state.values["tracks"]]
        self.default_transit_s_ = float(state.values["default_transit_s"])
        self.beta_ = np.asarray(state.arrays["beta"], dtype=np.float64)
        self.beta_tires_ = np.asarray(state.arrays["beta_tires"], dtype=np.float64)
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
                   "record whether a stop changed tires or repaired damage, so on real races "
                   "the kind is null: model and baseline answer without it and say so "
                   "(`fallbacks`).",
    limits=(
        "Stops are rare: the model also learns from past seasons (`--history-lake`); "
        "per-track offsets shrink toward the mean offset.",
        "A repair is priced apart from a tire change only where the training stops "
        "say which each was (the simulator's record); how long a given repair will "
        "stand is not predictable before the stop.",
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
