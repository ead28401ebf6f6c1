"""Pit loss: the race time a stop costs, from the timing files alone.

The label of a stop is its in-lap plus its out-lap, minus what the car would have run
on those two laps without stopping. On a lap that ended green that is the car's green
pace before the stop (``pace_median3_s``; the car's median green lap of the race when
the stop came before it had three). On a lap that ended under a full-course yellow the
whole field ran slowly, so the reference is the median lap of the cars not in the pit
lane on that lap: measured against green pace, a yellow stop would be charged the
caution's own slowness, which staying out costs as much.

The stop kind comes from the feature table's ``tire_change``: pit-lane time at least the
track's transit plus ``TIRE_CHANGE_MIN_STATIONARY_S`` (15 s) is a tire change (or a
repair), anything shorter a drive-through. The model does not read the stop's own
``pit_time_s``: it predicts the loss before the stop, when the team knows the track,
the flag and what it plans to do, not how long the crew will take.

``PitLossModel`` is deliberately small because stops are rare (about a hundred in a
season): loss = the track's pit-lane transit + a learned per-track offset (the racing
time the pit lane replaces, shrunk toward the mean offset) + a tire-change add-on + a
caution add-on, fitted with a Huber loss so a long repair does not drag the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.domain.formats import FLAG_CAUTION
from cognirace.errors import DataError
from cognirace.features import PIT_TRANSIT_S
from cognirace.models.arrays import flags
from cognirace.models.artifacts import ModelState
from cognirace.models.base import Model
from cognirace.models.per_track import per_track
from cognirace.models.schema import ColumnSpec
from cognirace.models.task import Task

KEYS: tuple[str, ...] = ("race_id", "car_number", "lap")
TARGET = "pit_loss_s"
PREDICTION = "pit_loss_pred_s"

INPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("track", "String", "Track key (`barber`); sets the pit-lane transit time"),
    ColumnSpec("caution", "Boolean", "The in-lap ended under a full-course yellow"),
    ColumnSpec("tire_change", "Boolean",
               "A tire change (or repair) rather than a drive-through: pit time at least "
               "the track's transit + 15 s in the feature table; for a planned stop, the plan"),
)
TARGETS: tuple[ColumnSpec, ...] = (
    ColumnSpec(TARGET, "Float64",
               "In-lap + out-lap minus the car's reference laps without the stop (green "
               "pace, or the field's median lap under a yellow)", "s", -30.0, 400.0),
)
OUTPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec(PREDICTION, "Float64", "Expected race time lost by the stop", "s",
               -30.0, 400.0),
)

def huber_ridge(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64],
                penalty: npt.NDArray[np.float64], delta: float,
                n_iter: int = 50) -> npt.NDArray[np.float64]:
    """Coefficients minimising a Huber loss (threshold ``delta``) plus a ridge penalty.

    Iteratively reweighted least squares: residuals beyond ``delta`` get weight
    ``delta / |r|``, so a 70 s repair counts like a large error, not a squared one.
    """
    w = np.ones(len(y))
    beta: npt.NDArray[np.float64] = np.zeros(x.shape[1])
    for _ in range(n_iter):
        xw = x * w[:, None]
        beta = np.asarray(np.linalg.lstsq(x.T @ xw + np.diag(penalty), xw.T @ y,
                                          rcond=None)[0], dtype=np.float64)
        r = np.abs(y - x @ beta)
        w = np.where(r > delta, delta / np.maximum(r, 1e-12), 1.0)
    return beta


class PitLossModel(Model):
    """Loss = transit + per-track offset + tire-change add-on + caution add-on (s).

    Hyperparameters:
        shrinkage_stops: How many stops' worth of weight pulls each track's offset toward
            the mean offset; a track with few stops keeps close to the mean.
        huber_s: Residual (s) beyond which a stop's error counts linearly.
    """

    kind = "pit_loss"
    kind_version = "1"
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    offset_s_: float
    track_offset_s_: dict[str, float]
    tire_change_s_: float
    caution_s_: float
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
        tracks = sorted(set(frame["track"].to_list()))
        onehot = np.column_stack([(frame["track"] == t).to_numpy() for t in tracks])
        x = np.column_stack([np.ones(frame.height), flags(frame["tire_change"]),
                             flags(frame["caution"]), onehot.astype(np.float64)])
        y = frame[TARGET].to_numpy() - per_track(PIT_TRANSIT_S, frame["track"],
                                                 self.default_transit_s_)
        penalty = np.r_[np.zeros(3), np.full(len(tracks), self.shrinkage_stops)]
        beta = huber_ridge(x, y, penalty, self.huber_s)
        self.offset_s_, self.tire_change_s_, self.caution_s_ = (float(b) for b in beta[:3])
        self.track_offset_s_ = {t: float(b) for t, b in zip(tracks, beta[3:], strict=True)}

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        offset = per_track(self.track_offset_s_, frame["track"], 0.0)
        loss = (per_track(PIT_TRANSIT_S, frame["track"], self.default_transit_s_)
                + self.offset_s_ + offset
                + self.tire_change_s_ * flags(frame["tire_change"])
                + self.caution_s_ * flags(frame["caution"]))
        return pl.DataFrame({PREDICTION: loss})

    def _get_state(self) -> ModelState:
        return ModelState(values={
            "offset_s": self.offset_s_, "track_offset_s": self.track_offset_s_,
            "tire_change_s": self.tire_change_s_, "caution_s": self.caution_s_,
            "default_transit_s": self.default_transit_s_,
        })

    def _set_state(self, state: ModelState) -> None:
        v = state.values
        self.offset_s_ = float(v["offset_s"])
        self.track_offset_s_ = {str(k): float(b) for k, b in v["track_offset_s"].items()}
        self.tire_change_s_ = float(v["tire_change_s"])
        self.caution_s_ = float(v["caution_s"])
        self.default_transit_s_ = float(v["default_transit_s"])


class TransitPitLossBaseline(Model):
    """Baseline: a stop costs the track's pit-lane transit time, whatever the stop (s).

    A track not in ``cognirace.domain.tracks`` gets the mean transit of the known ones.
    """

    kind = "pit_loss_transit"
    kind_version = "1"
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    transit_s_: dict[str, float]

    def _fit(self, frame: pl.DataFrame) -> None:
        self.transit_s_ = {**PIT_TRANSIT_S, "": float(np.mean(list(PIT_TRANSIT_S.values())))}

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        loss = per_track(self.transit_s_, frame["track"], self.transit_s_[""])
        return pl.DataFrame({PREDICTION: pl.Series(loss, dtype=pl.Float64)})

    def _get_state(self) -> ModelState:
        return ModelState(values={"transit_s": self.transit_s_})

    def _set_state(self, state: ModelState) -> None:
        self.transit_s_ = {str(k): float(v) for k, v in state.values["transit_s"].items()}


def _with_references(features: pl.DataFrame) -> pl.DataFrame:
    """Add each lap's next lap, the car's fallback pace and the field's median laps.

    A car is the table's timing car (``race_id, car_number``), whether logged or not.
    """
    car = ["race_id", "car_number"]
    laps = features.sort(*car, "lap").with_columns(
        out_time_s=pl.col("lap_time_s").shift(-1).over(car),
        out_flag=pl.col("flag").shift(-1).over(car),
        next_is_out=pl.col("out_lap").shift(-1).over(car).fill_null(False),
        race_pace_s=pl.col("lap_time_s").filter(pl.col("green_lap")).median().over(car),
    )
    field = (laps.filter(~pl.col("in_pit") & ~pl.col("out_lap"))
             .group_by("race_id", "lap").agg(field_lap_s=pl.col("lap_time_s").median()))
    after = field.with_columns(pl.col("lap") - 1).rename({"field_lap_s": "field_out_s"})
    return (laps.join(field, on=["race_id", "lap"], how="left")
            .join(after, on=["race_id", "lap"], how="left"))


def pit_stop_rows(features: pl.DataFrame,
                  truth: Mapping[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """One row per pit stop of the lap feature table, with its loss (see the module doc).

    A stop is an ``in_pit`` lap followed by the car's out-lap; a car that retired in
    the pits, or a stop without a reference, has no row. ``truth`` is not used.

    Returns:
        Keys, ``track``, the inputs, ``pit_loss_s`` and, for reading, ``flag`` (in-lap),
        ``out_flag``, ``pit_time_s`` and the reference ``ref_in_s``/``ref_out_s`` (s).
    """
    pace = pl.coalesce("pace_median3_s", "race_pace_s")
    ref_in = pl.when(pl.col("flag") == FLAG_CAUTION).then(pl.col("field_lap_s")) \
        .otherwise(pace)
    ref_out = pl.when(pl.col("out_flag") == FLAG_CAUTION).then(pl.col("field_out_s")) \
        .otherwise(pace)
    stops = (_with_references(features)
             .filter(pl.col("in_pit") & pl.col("next_is_out"))
             .with_columns(caution=(pl.col("flag") == FLAG_CAUTION).fill_null(False),
                           ref_in_s=ref_in, ref_out_s=ref_out))
    stops = stops.with_columns((pl.col("lap_time_s") + pl.col("out_time_s")
                                - pl.col("ref_in_s") - pl.col("ref_out_s")).alias(TARGET))
    return (stops.filter(pl.col(TARGET).is_not_null())
            .select(*KEYS, "vehicle_id", "track", "caution", "tire_change", TARGET, "flag",
                    "out_flag", "pit_time_s", "ref_in_s", "ref_out_s")
            .sort(KEYS))


def _mae(error: pl.Series) -> float:
    """Mean absolute value of the non-null errors, s (0.0 when there are none)."""
    mean = error.drop_nulls().abs().cast(pl.Float64).mean()
    return float(mean) if isinstance(mean, int | float) else 0.0


def score_pit_loss(rows: pl.DataFrame, predictions: pl.DataFrame) -> dict[str, float]:
    """MAE over all stops and by flag and stop kind (s); a group without stops is left out."""
    err = predictions[PREDICTION] - rows[TARGET]
    caution = rows["caution"].fill_null(False)
    tires = rows["tire_change"].fill_null(False)
    groups = {"mae_s": None, "mae_green_s": ~caution, "mae_caution_s": caution,
              "mae_drive_through_s": ~tires, "mae_tire_change_s": tires}
    scores = {"n_stops": float(rows.height)}
    for name, mask in groups.items():
        part = err if mask is None else err.filter(mask)
        if part.len():
            scores[name] = _mae(part)
    return scores


TASK = Task(
    name="pitloss",
    title="Race time lost by a pit stop, by track, flag and stop kind",
    model=PitLossModel,
    baseline=TransitPitLossBaseline,
    rows=pit_stop_rows,
    score=score_pit_loss,
    primary="mae_s",
    target_source="timing files: in-lap and out-lap times against the car's green pace "
                  "(the field's median lap under a yellow)",
    real_data_note="Everything comes from the official timing files, so real data gives "
                   "the same labels and the same model.",
    limits=(
        "Stops are rare: per-track offsets rest on a handful of stops and shrink toward "
        "the mean offset.",
        "A repair counts as a tire change; its longer standing time is not predictable "
        "from the timing files before the stop.",
        "The caution add-on is learned from few yellow drive-throughs; a green tire "
        "change is green drive-through loss plus the tire-change add-on.",
    ),
)


__all__ = [
    "TASK",
    "PitLossModel",
    "TransitPitLossBaseline",
    "huber_ridge",
    "pit_stop_rows",
    "score_pit_loss",
]
