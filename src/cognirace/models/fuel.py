"""Fuel: litres burned per lap from the lap's telemetry, and litres left at the flag.

A lap's burn is its track's racing burn (a level) times a share that depends on how
much of the lap ran at caution pace. ``FuelBurnModel`` learns both from the simulator's
fuel truth, from plain telemetry integrals of the lap feature table: engine revolutions
(``engine_krev``) and throttle time (``throttle_s``), nothing shaped like the
simulator's own burn formula.

- **Level.** The mean burn of the track's racing laps in training, moved by how far the
  lap's throttle time and revolutions stand from the track's racing means (one pooled
  slope each, learned within tracks: a driver who is on the throttle longer burns more).
  A track not seen in training gets a level from a fit across the training tracks' means
  of burn on revolutions and throttle time (ridge, ``ACROSS_RIDGE``), and the row says
  so (``fallbacks``: ``["track"]``).
- **Share.** 1 on a racing lap. On the first caution lap, a caution lap and the restart
  lap (``fuel_forecast.lap_phase``) a line, fitted per phase, in the lap's mean throttle
  relative to the track's racing laps: the slower and the longer off the throttle, the
  less the lap burns. A phase seen on fewer than ``MIN_PHASE_LAPS`` training laps shares
  the fit of all slowed laps.

The baseline is the race engineer's rule: the mean burn of the track's laps under the
same flag (racing or caution) in training, no telemetry.

Real timing and telemetry carry no fuel label, so the target comes from the simulator's
truth (``fuel_used_l``): with real data a user gets this model trained on simulated
physics and applied to the real telemetry integrals.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.domain.formats import FLAG_CAUTION
from cognirace.errors import DataError
from cognirace.models.artifacts import ModelState
from cognirace.models.base import Model
from cognirace.models.fuel_forecast import (
    CAUTION,
    CAUTION_FIRST,
    KEYS,
    PREDICTION,
    RACING,
    RESTART,
    SLOWED_PHASES,
    TANK_L,
    TARGET,
    fuel_left,
    fuel_parts,
    fuel_rows,
    phases_of,
    score_fuel,
)
from cognirace.models.schema import FALLBACKS, ColumnSpec, fallbacks_spec
from cognirace.models.task import Task

FloatArray = npt.NDArray[np.float64]

MAX_BURN_L = 10.0
"""Most fuel a lap can burn, litres (a 2.4 l engine flat out for five minutes); predictions
are clipped to 0..this so a corrupt telemetry lap cannot drain the tank estimate."""

MIN_PHASE_LAPS = 8
"""Fewest training laps of a slowed phase for a share fit of its own."""

ACROSS_RIDGE = 0.1
"""Ridge penalty of the fit across tracks, per track, on standardised revolutions and
throttle time: a season has a handful of tracks, and two of them with alike throttle
times would otherwise give that column any slope."""

_TRACK = ColumnSpec("track", "String", "Track key (`barber`); an unknown track gets a level "
                    "from its telemetry (see `fallbacks`)", nullable=False)
_FLAG = ColumnSpec("flag", "String", "Flag at the line: `GF` green, `FCY` full-course yellow "
                   "or `FF` chequered (raced like green)", nullable=False)
INPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("engine_krev", "Float64", "Engine revolutions over the lap, thousands",
               "krev", 0.0, 60.0, nullable=False),
    ColumnSpec("throttle_s", "Float64",
               "Throttle time over the lap: seconds at full-throttle equivalent", "s",
               0.0, 1200.0, nullable=False),
    ColumnSpec("lap_time_s", "Float64", "The lap's time", "s", 20.0, 1200.0, nullable=False),
    _TRACK,
    _FLAG,
    ColumnSpec("prev_fcy", "Boolean", "The lap before was a full-course-yellow lap",
               nullable=False),
)
TARGETS: tuple[ColumnSpec, ...] = (
    ColumnSpec(TARGET, "Float64", "Fuel burned over the lap (simulator truth)", "l",
               0.0, MAX_BURN_L),
)
OUTPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec(PREDICTION, "Float64", "Predicted fuel burned over the lap", "l",
               0.0, MAX_BURN_L),
    fallbacks_spec("`track` when the track was not in training (level from the lap's "
                   "revolutions and throttle time across the training tracks); `flag` when "
                   "training held no lap under the row's flag (burned as the other flag's)"),
)


def _fallbacks(unknown: npt.NDArray[np.bool_],
               unknown_flag: npt.NDArray[np.bool_] | None = None) -> pl.Series:
    """The ``fallbacks`` column: ``"track"`` where the track is unknown, ``"flag"`` where
    training held no lap of the row's flag."""
    flag = np.zeros(unknown.size, dtype=bool) if unknown_flag is None else unknown_flag
    return pl.Series(FALLBACKS, [["track"] * t + ["flag"] * f for t, f in
                                 zip(unknown.tolist(), flag.tolist(), strict=True)],
                     dtype=pl.List(pl.String))


def _col(frame: pl.DataFrame, name: str) -> FloatArray:
    return np.asarray(frame.get_column(name).to_numpy(), dtype=np.float64)


def _mean_throttle(frame: pl.DataFrame) -> FloatArray:
    """Mean throttle fraction over the lap (throttle time over lap time, 0..1)."""
    return _col(frame, "throttle_s") / _col(frame, "lap_time_s")


def _track_means(racing: pl.DataFrame) -> dict[str, list[float]]:
    """Per track, means over its racing laps: burn (l), throttle time (s), revolutions
    (krev) and mean throttle fraction."""
    means = racing.group_by("track").agg(
        pl.col(TARGET).mean(), pl.col("throttle_s").mean(), pl.col("engine_krev").mean(),
        (pl.col("throttle_s") / pl.col("lap_time_s")).mean().alias("_frac"))
    return {str(row[0]): [float(v) for v in row[1:]] for row in means.iter_rows()}


def _across_fit(x: FloatArray, y: FloatArray) -> FloatArray:
    """``[intercept, slopes...]`` of per-track means ``y`` on per-track means ``x``: ridge
    (``ACROSS_RIDGE``) on standardised columns, a column that does not vary left out."""
    xm, ym = x.mean(axis=0), float(y.mean())
    spread = x.std(axis=0)
    scale = np.where(spread > 0.0, spread, 1.0)
    z = (x - xm) / scale
    slopes = np.linalg.solve(z.T @ z + ACROSS_RIDGE * len(y) * np.eye(x.shape[1]),
                             z.T @ (y - ym)) / scale
    return np.asarray(np.r_[ym - xm @ slopes, slopes], dtype=np.float64)


def _centred_fit(x: FloatArray, y: FloatArray) -> FloatArray:
    """``[intercept, slopes...]`` of ``y`` on ``x`` by least squares on centred values; the
    minimum-norm slopes when the points cannot fix them."""
    xm, ym = x.mean(axis=0), float(y.mean())
    slopes = np.linalg.lstsq(x - xm, y - ym, rcond=None)[0]
    return np.asarray(np.r_[ym - xm @ slopes, slopes], dtype=np.float64)


class FuelBurnModel(Model):
    """Litres burned per lap: the track's racing level, moved by the lap's telemetry,
    times the share its caution phase burns (see the module docstring).

    Hyperparameters:
        min_phase_laps: Fewest training laps of a slowed phase for a fit of its own.
    """

    kind = "fuel_burn"
    kind_version = "3"  # telemetry integrals (revolutions, throttle time), phases
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    tracks_: dict[str, list[float]]
    within_: FloatArray
    across_: FloatArray
    across_frac_: FloatArray
    shares_: dict[str, list[float]]

    def __init__(self, *, min_phase_laps: int = MIN_PHASE_LAPS) -> None:
        self.min_phase_laps = min_phase_laps

    def _fit(self, frame: pl.DataFrame) -> None:
        phase = phases_of(frame).to_numpy()
        racing = frame.filter(pl.Series(phase == RACING))
        if racing.is_empty():
            raise DataError("fuel training rows hold no racing lap", column="flag",
                            hint="fit on laps of green-flag running joined to the truth")
        self.tracks_ = _track_means(racing)
        deviations = racing.select(
            (pl.col(c) - pl.col(c).mean().over("track")) for c in
            (TARGET, "throttle_s", "engine_krev"))
        self.within_ = np.asarray(np.linalg.lstsq(
            deviations.select("throttle_s", "engine_krev").to_numpy(),
            deviations.get_column(TARGET).to_numpy(), rcond=None)[0], dtype=np.float64)
        means = np.array(list(self.tracks_.values()), dtype=np.float64)
        self.across_ = _across_fit(means[:, [2, 1]], means[:, 0])
        self.across_frac_ = _across_fit(means[:, [2, 1]], means[:, 3])
        self._fit_shares(frame, phase)
        self.n_laps_ = frame.height

    def _fit_shares(self, frame: pl.DataFrame, phase: npt.NDArray[np.str_]) -> None:
        """A line of the burn share on relative mean throttle, per slowed phase; none at
        all when training held no slowed lap (such laps then burn as racing laps, and
        their rows say so)."""
        slowed = np.isin(phase, SLOWED_PHASES)
        self.shares_ = {}
        if not slowed.any():
            return
        share = _col(frame, TARGET) / self._level(frame, racing=np.zeros(frame.height, bool))[0]
        x = self._relative_throttle(frame)
        pooled = _centred_fit(x[slowed, None], share[slowed])
        for name in SLOWED_PHASES:
            mine = phase == name
            fit = _centred_fit(x[mine, None], share[mine]) \
                if mine.sum() >= self.min_phase_laps else pooled
            self.shares_[name] = fit.tolist()

    def _level(self, frame: pl.DataFrame, racing: npt.NDArray[np.bool_]
               ) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """Each lap's racing level (l) and whether its track was unknown.

        The telemetry moves the level on racing laps only: a slowed lap's telemetry says
        how slow it ran, which is the share's job.
        """
        revs, throttle = _col(frame, "engine_krev"), _col(frame, "throttle_s")
        known = [self.tracks_.get(t) for t in frame.get_column("track").to_list()]
        unknown = np.array([k is None for k in known])
        ref = np.array([k if k is not None else [np.nan] * 4 for k in known], dtype=np.float64)
        across = self.across_[0] + self.across_[1] * revs + self.across_[2] * throttle
        moved = ref[:, 0] + self.within_[0] * (throttle - ref[:, 1]) \
            + self.within_[1] * (revs - ref[:, 2])
        level = np.where(unknown, across, np.where(racing, moved, ref[:, 0]))
        return level, unknown

    def _relative_throttle(self, frame: pl.DataFrame) -> FloatArray:
        """Mean throttle over the track's racing mean, minus 1 (0 for a typical racing
        lap); an unknown track's racing mean comes from the fit across tracks."""
        revs, throttle = _col(frame, "engine_krev"), _col(frame, "throttle_s")
        across = self.across_frac_[0] + self.across_frac_[1] * revs \
            + self.across_frac_[2] * throttle
        ref = np.array([self.tracks_[t][3] if t in self.tracks_ else np.nan
                        for t in frame.get_column("track").to_list()], dtype=np.float64)
        return _mean_throttle(frame) / np.where(np.isfinite(ref), ref, across) - 1.0

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        phase = phases_of(frame).to_numpy()
        level, unknown = self._level(frame, racing=phase == RACING)
        x = self._relative_throttle(frame)
        share = np.ones(frame.height)
        for name, (a, b) in self.shares_.items():
            mine = phase == name
            share[mine] = a + b * x[mine]
        untaught = np.isin(phase, SLOWED_PHASES) & (not self.shares_)
        burn = np.clip(level * share, 0.0, MAX_BURN_L)
        return pl.DataFrame([pl.Series(PREDICTION, burn, dtype=pl.Float64),
                             _fallbacks(unknown, untaught)])

    def _get_state(self) -> ModelState:
        return ModelState(
            values={"tracks": self.tracks_, "shares": self.shares_, "n_laps": self.n_laps_,
                    "phases": [CAUTION_FIRST, CAUTION, RESTART]},
            arrays={"within": self.within_, "across": self.across_,
                    "across_frac": self.across_frac_})

    def _set_state(self, state: ModelState) -> None:
        v = state.values
        if v.get("phases") != [CAUTION_FIRST, CAUTION, RESTART]:
            raise DataError("stored fuel model has other phases", value=v.get("phases"))
        self.tracks_ = {str(t): [float(x) for x in m] for t, m in v["tracks"].items()}
        self.shares_ = {str(p): [float(x) for x in s] for p, s in v["shares"].items()}
        self.n_laps_ = int(v["n_laps"])
        self.within_ = np.asarray(state.arrays["within"], dtype=np.float64)
        self.across_ = np.asarray(state.arrays["across"], dtype=np.float64)
        self.across_frac_ = np.asarray(state.arrays["across_frac"], dtype=np.float64)


def _caution(frame: pl.DataFrame) -> pl.Series:
    return frame.get_column("flag") == FLAG_CAUTION


class TrackMeanFuelBaseline(Model):
    """Baseline: every lap burns its track's mean burn under the same flag in training.

    Two flags count: caution (``FCY``) and racing (green, and the chequered lap, raced
    like green). A track not seen in training gets the flag's mean over every track, and
    the row says so (``fallbacks``: ``["track"]``); a flag not seen in training (a season
    without a caution) the other flag's means (``["flag"]``).
    """

    kind = "fuel_burn_track_mean"
    kind_version = "2"  # per track and flag
    inputs = (_TRACK, _FLAG)
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    mean_l_: dict[str, float]

    def _fit(self, frame: pl.DataFrame) -> None:
        labelled = frame.filter(pl.col(TARGET).is_not_null())
        labelled = labelled.with_columns(_caution=_caution(labelled))
        by_track = labelled.group_by("track", "_caution").agg(pl.col(TARGET).mean())
        by_flag = labelled.group_by("_caution").agg(pl.col(TARGET).mean())
        self.mean_l_ = {_key(str(t), bool(c)): float(m) for t, c, m in by_track.iter_rows()}
        self.mean_l_.update({_key("", bool(c)): float(m) for c, m in by_flag.iter_rows()})

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        caution = _caution(frame).to_list()
        tracks = frame.get_column("track").to_list()
        known_flag = np.array([_key("", c) in self.mean_l_ for c in caution])
        flag = [c if k else not c for c, k in zip(caution, known_flag.tolist(), strict=True)]
        keys = [_key(t, c) for t, c in zip(tracks, flag, strict=True)]
        unknown = np.array([k not in self.mean_l_ for k in keys])
        burn = [self.mean_l_.get(k, self.mean_l_[_key("", c)]) for k, c in
                zip(keys, flag, strict=True)]
        return pl.DataFrame([pl.Series(PREDICTION, burn, dtype=pl.Float64),
                             _fallbacks(unknown, ~known_flag)])

    def _get_state(self) -> ModelState:
        return ModelState(values={"mean_l": self.mean_l_})

    def _set_state(self, state: ModelState) -> None:
        self.mean_l_ = {str(k): float(v) for k, v in state.values["mean_l"].items()}


def _key(track: str, caution: bool) -> str:
    """Key of a baseline mean: ``"barber|caution"``; ``"|racing"`` for every track."""
    return f"{track}|{'caution' if caution else 'racing'}"


class TrackOnlyFuelBaseline(Model):
    """The previous baseline, kept to show it beside the fair one once: the track's mean
    burn over every lap in training, whatever the flag (a caution lap burns about half,
    so it is wrong on every caution lap). Not published."""

    kind = "fuel_burn_track_only"
    inputs = (_TRACK,)
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    def _fit(self, frame: pl.DataFrame) -> None:
        means = frame.group_by("track").agg(pl.col(TARGET).mean())
        self.mean_l_ = {str(t): float(m) for t, m in means.iter_rows()}
        self.overall_l_ = float(frame.get_column(TARGET).mean())  # type: ignore[arg-type]

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        tracks = frame.get_column("track").to_list()
        unknown = np.array([t not in self.mean_l_ for t in tracks])
        burn = [self.mean_l_.get(t, self.overall_l_) for t in tracks]
        return pl.DataFrame([pl.Series(PREDICTION, burn, dtype=pl.Float64),
                             _fallbacks(unknown)])

    def _get_state(self) -> ModelState:
        return ModelState(values={"mean_l": self.mean_l_, "overall_l": self.overall_l_})

    def _set_state(self, state: ModelState) -> None:
        self.mean_l_ = {str(k): float(v) for k, v in state.values["mean_l"].items()}
        self.overall_l_ = float(state.values["overall_l"])


TASK = Task(
    name="fuel",
    title="Fuel burned per lap from telemetry, and fuel left at the flag forecast half way",
    model=FuelBurnModel,
    baseline=TrackMeanFuelBaseline,
    rows=fuel_rows,
    score=score_fuel,
    parts=fuel_parts,
    primary="mae_l",
    target_source="simulator truth: fuel_used_l per lap, and fuel_left_l at each car's last "
                  "lap for the fuel-left forecast (real timing and telemetry have no fuel "
                  "label)",
    real_data_note="With real data a user gets the model trained on simulated physics, "
                   "applied to the real telemetry integrals (revolutions, throttle time); "
                   "its litres are only as right as the simulator's fuel model.",
    limits=(
        "The burn of a lap is read from that lap's telemetry once it is over (there is no "
        "fuel-flow channel); only the fuel left at the flag is a forecast, made half way "
        "through the race with every lap ahead counted as a racing lap.",
        "Needs revolutions and throttle time on the lap (a lap without telemetry has no "
        "burn); fuel_left counts such a lap at the car's mean burn and marks it filled.",
        "A driver's own fuel efficiency beyond throttle and revolutions is not observable: "
        "on racing laps the model is barely better than the track's mean, and per-car "
        "errors add up over a race in the fuel-left estimate.",
        "An unknown track's level comes from a fit across the training tracks' means "
        "(seven points); the row's fallbacks say so.",
        "Throttle time reads the pedal at Barber and Indianapolis and the throttle blade at "
        "the other tracks; the track's own racing mean is the reference, so the two are "
        "never compared directly except for an unknown track.",
        "Fuel left assumes a full 83 l cell unless the start fuel is given.",
        "A demo season logs telemetry in one race per track, so its race split and its "
        "leave-one-track-out both score tracks the training rows never saw: there the "
        "baseline has only the flag's mean over every track and the model its fallback "
        "level, and the gain is far larger than at a known track. The fair comparison is "
        "a season of other races at the same tracks (`cognirace evaluate`).",
    ),
    needs_truth=True,
)


__all__ = [
    "MAX_BURN_L",
    "MIN_PHASE_LAPS",
    "TANK_L",
    "TASK",
    "FuelBurnModel",
    "TrackMeanFuelBaseline",
    "TrackOnlyFuelBaseline",
    "fuel_left",
    "fuel_rows",
    "score_fuel",
]
