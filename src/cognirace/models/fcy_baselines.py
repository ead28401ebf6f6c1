"""What every caution hazard here shares, and the engineer's baselines.

No caution can start after the race: the leader's chequered lap is flagged ``FF``, not
``FCY``. Lap ``j + 1`` ahead can hold a start only if race time is left after it, which
the race time left and the leader's green pace tell (``open_laps``); for the others
every hazard, the model's and the baselines' alike, is 0. Hazards per lap ahead chain
into the probability of a start within ``k`` laps (``start_probabilities``).

``TrackHazardBaseline`` is the rule a race engineer uses: each track's per-lap start
rate in the training races, on every open lap. ``ConstantHazardBaseline`` is the same
rate pooled over tracks, kept to show what knowing the track alone is worth.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.errors import DataError
from cognirace.models.artifacts import ModelState
from cognirace.models.base import Model
from cognirace.models.fcy_scoring import HORIZONS, TARGET
from cognirace.models.schema import FALLBACKS, ColumnSpec, fallbacks_spec

FloatArray = npt.NDArray[np.float64]

KEYS: tuple[str, ...] = ("race_id", "lap")

LEFT_SPEC = ColumnSpec("race_time_left_s", "Float64", "Race time left after the leader's lap",
                   "s", 0.0, 20_000.0, nullable=False)
PACE_SPEC = ColumnSpec("leader_pace_s", "Float64",
                   "The leader's green pace: the median of its last three green laps (its "
                   "last lap before it has one)", "s", 20.0, 1_000.0, nullable=False)
TRACK_SPEC = ColumnSpec("track", "String", "Track key (`barber`); a track the training "
                        "races lack is answered as the average track", nullable=False)

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
TRACK_OUTPUTS: tuple[ColumnSpec, ...] = (
    *OUTPUTS,
    fallbacks_spec("`track` when the training races lack the track (answered as the "
                   "average track)"),
)
"""``OUTPUTS`` and ``fallbacks``, for the hazards that read the track."""


def unseen_tracks(frame: pl.DataFrame, known: list[str]) -> pl.Series:
    """The ``fallbacks`` column: ``["track"]`` where the track is not in ``known``."""
    unseen = ~frame["track"].is_in(known).to_numpy()
    return pl.Series(FALLBACKS, [["track"] if u else [] for u in unseen.tolist()],
                     dtype=pl.List(pl.String))

def open_laps(frame: pl.DataFrame) -> FloatArray:
    """1 where lap ``j + 1`` ahead can still hold a caution start, else 0: ``[row, j]``.

    A lap can start a caution only if it is not the chequered lap, that is if race time
    is left after it: ``race_time_left_s - (j + 1) * leader_pace_s > 0``.
    """
    left = frame["race_time_left_s"].to_numpy().astype(np.float64)
    pace = np.maximum(frame["leader_pace_s"].to_numpy().astype(np.float64), 1.0)
    steps = np.arange(1, len(HORIZONS) + 1, dtype=np.float64)
    return np.asarray(left[:, None] - steps[None, :] * pace[:, None] > 0.0, dtype=np.float64)


def start_probabilities(hazards: FloatArray) -> pl.DataFrame:
    """``P(start within k) = 1 - prod_{j<k}(1 - h_j)`` for each horizon, as output columns.

    Args:
        hazards: ``[row, j]``, already 0 on the laps that cannot hold a start.
    """
    survive = np.cumprod(1.0 - hazards, axis=1)
    return pl.DataFrame({f"p_fcy_start_{k}": np.clip(1.0 - survive[:, k - 1], 0.0, 1.0)
                         for k in HORIZONS})


def laps_to_start(frame: pl.DataFrame) -> npt.NDArray[np.int64]:
    """The label as integers, a large number where no caution starts before the end."""
    return np.asarray(frame[TARGET].fill_null(10**6).to_numpy(), dtype=np.int64)


def require_rows(frame: pl.DataFrame) -> None:
    """Refuse training rows without one lap that can still start a caution."""
    if frame.is_empty() or not open_laps(frame)[:, 0].any():
        raise DataError("no green race state with a lap that can still start a caution",
                        column=TARGET,
                        hint="build rows with fcy_rows from races with green laps")


class ConstantHazardBaseline(Model):
    """Baseline: the training races' per-lap caution start rate, on every open lap.

    The engineer's rule: a caution is as likely on any lap, except that none can start
    once the race is over. The rate is the share of starts among the training rows whose
    next lap could hold one, and a lap that cannot (``open_laps``) gets hazard 0.
    """

    kind = "fcy_hazard_constant"
    kind_version = "2"  # masked by the laps left
    inputs = (LEFT_SPEC, PACE_SPEC)
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    hazard_: float

    def _fit(self, frame: pl.DataFrame) -> None:
        require_rows(frame)
        at_risk = open_laps(frame)[:, 0] > 0
        self.hazard_ = float(np.mean(laps_to_start(frame)[at_risk] == 1))

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        return start_probabilities(self.hazard_ * open_laps(frame))

    def _get_state(self) -> ModelState:
        return ModelState(values={"hazard": self.hazard_})

    def _set_state(self, state: ModelState) -> None:
        self.hazard_ = float(state.values["hazard"])


class TrackHazardBaseline(Model):
    """Baseline: each track's per-lap caution start rate in the training races, on every
    open lap.

    What a race engineer expects before the green flag: cautions are as likely on any
    lap, more so at some tracks (COTA, Indianapolis) than at others (Barber, VIR), and
    none can start once the race is over. A track's rate is shrunk toward the rate of
    all tracks by ``prior_laps`` laps' worth of weight; a track the training rows lack
    gets the rate of all tracks.

    Hyperparameters:
        prior_laps: Leader laps' worth of weight given to the rate of all tracks.
    """

    kind = "fcy_hazard_track_rate"
    kind_version = "1"
    inputs = (LEFT_SPEC, PACE_SPEC, TRACK_SPEC)
    targets = TARGETS
    outputs = TRACK_OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    hazard_: float
    track_hazard_: dict[str, float]

    def __init__(self, *, prior_laps: float = 20.0) -> None:
        self.prior_laps = prior_laps

    def _fit(self, frame: pl.DataFrame) -> None:
        require_rows(frame)
        at_risk = open_laps(frame)[:, 0] > 0
        starts = laps_to_start(frame) == 1
        self.hazard_ = float(np.mean(starts[at_risk]))
        track = frame["track"].to_numpy()
        self.track_hazard_ = {}
        for name in sorted(set(track.tolist())):
            here = at_risk & (track == name)
            self.track_hazard_[str(name)] = float(
                (starts[here].sum() + self.prior_laps * self.hazard_)
                / (here.sum() + self.prior_laps))

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        h = np.array([self.track_hazard_.get(name, self.hazard_)
                      for name in frame["track"].to_list()], dtype=np.float64)
        return start_probabilities(h[:, None] * open_laps(frame)).with_columns(
            unseen_tracks(frame, list(self.track_hazard_)))

    def _get_state(self) -> ModelState:
        return ModelState(values={"hazard": self.hazard_, "track_hazard": self.track_hazard_})

    def _set_state(self, state: ModelState) -> None:
        self.hazard_ = float(state.values["hazard"])
        self.track_hazard_ = {str(k): float(v)
                              for k, v in state.values["track_hazard"].items()}


__all__ = [
    "KEYS",
    "LEFT_SPEC",
    "OUTPUTS",
    "PACE_SPEC",
    "TARGETS",
    "TRACK_OUTPUTS",
    "TRACK_SPEC",
    "ConstantHazardBaseline",
    "TrackHazardBaseline",
    "laps_to_start",
    "open_laps",
    "require_rows",
    "start_probabilities",
    "unseen_tracks",
]
