"""What the pit-loss model and its baselines share: columns, scoring, the baselines.

``TrackKindMedianBaseline`` is the rule a race engineer uses: a stop costs what such
stops cost here before, the median loss of the training stops at the track and of the
same kind. ``TransitPitLossBaseline`` (a stop costs the pit-lane transit time) ignores
its training rows; it is kept to show how far it was from the engineer's rule.
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
from cognirace.models.pitloss_rows import KEYS, KIND, REPAIR, TARGET
from cognirace.models.schema import FALLBACKS, ColumnSpec, fallbacks_spec

BoolArray = npt.NDArray[np.bool_]

PREDICTION = "pit_loss_pred_s"

TRACK_SPEC = ColumnSpec("track", "String",
                        "Track key (`barber`); sets the pit-lane transit time", nullable=False)
KIND_SPEC = ColumnSpec(KIND, "Boolean",
                       "The stop gives the car new tires (a tire change or a repair) rather "
                       "than a drive-through, as planned before the stop; null when not known "
                       "(the answer is then for the training stops' mix of kinds)")
REPAIR_SPEC = ColumnSpec(REPAIR, "Boolean",
                         "The stop is a damage repair (new tires and a longer stand) rather "
                         "than a plain tire change; false for a drive-through; null when not "
                         "known (a tire stop is then answered for the training tire stops' "
                         "mix of changes and repairs)")
TARGETS: tuple[ColumnSpec, ...] = (
    ColumnSpec(TARGET, "Float64",
               "In-lap + out-lap minus the car's reference laps without the stop (green "
               "pace, or the field's median lap under a yellow)", "s", -30.0, 400.0),
)
OUTPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec(PREDICTION, "Float64", "Expected race time lost by the stop", "s",
               -30.0, 400.0),
    fallbacks_spec("`tire_change` null: the loss of a stop of unknown kind; `repair` "
                   "null on a tire stop (or a repair the training stops held none of): "
                   "the loss of a tire stop of unknown purpose; `track` when the "
                   "training stops hold too few at the track (its own offset or median "
                   "unknown)"),
)

SERVICES: tuple[str, ...] = ("drive_through", "tires", "repair")
"""What a stop of known kind does; ``tire_stop`` is a tire stop whose purpose is unknown."""
TIRE_STOP = "tire_stop"
NEW_TIRES: tuple[str, ...] = ("tires", "repair", TIRE_STOP)
"""The services that fit new tires (``tire_change`` true)."""


def service_array(frame: pl.DataFrame) -> npt.NDArray[np.object_]:
    """Each stop's service from its kind columns: one of ``SERVICES``, ``tire_stop``
    (new tires, ``repair`` unknown), or None (``tire_change`` unknown).

    A loop over Python values rather than a query: the API asks one row at a time.

    Raises:
        DataError: A stop says it is a repair but not that it gets new tires.
    """
    out = []
    for row, (tires, repair) in enumerate(zip(frame[KIND].to_list(), frame[REPAIR].to_list(),
                                              strict=True)):
        if repair and not tires:
            raise DataError(f"row {row}: 'repair' is true but 'tire_change' is {tires}: a "
                            "repair fits new tires", column=REPAIR,
                            hint="set tire_change true for a repair stop")
        out.append(None if tires is None else "drive_through" if not tires
                   else TIRE_STOP if repair is None else "repair" if repair else "tires")
    return np.array(out, dtype=object)


def stop_services(frame: pl.DataFrame) -> pl.Series:
    """``service_array`` as a String column named ``service``."""
    return pl.Series("service", service_array(frame).tolist(), dtype=pl.String)


def fallback_lists(*, unknown_track: BoolArray, unknown_kind: BoolArray,
                   unknown_repair: BoolArray | None = None) -> dict[str, pl.Series]:
    """The ``fallbacks`` column: ``tire_change``, ``repair`` and ``track`` where each
    was replaced."""
    repair = (np.zeros(len(unknown_track), dtype=bool) if unknown_repair is None
              else unknown_repair)
    lists = [[name for name, flag in ((KIND, kind), (REPAIR, rep), ("track", track)) if flag]
             for track, kind, rep in zip(unknown_track.tolist(), unknown_kind.tolist(),
                                         repair.tolist(), strict=True)]
    return {FALLBACKS: pl.Series(FALLBACKS, lists, dtype=pl.List(pl.String))}


def _mae(error: pl.Series) -> float:
    """Mean absolute value of the non-null errors, s (0.0 when there are none)."""
    mean = error.drop_nulls().abs().cast(pl.Float64).mean()
    return float(mean) if isinstance(mean, int | float) else 0.0


def score_pit_loss(rows: pl.DataFrame, predictions: pl.DataFrame) -> dict[str, float]:
    """MAE over all stops and by flag and stop kind (s); a group without stops is left out.

    A stop of unknown kind counts in neither kind's group; ``mae_tire_change_s`` holds
    every tire stop, ``mae_tires_s`` and ``mae_repair_s`` those whose purpose is known.
    """
    err = predictions[PREDICTION] - rows[TARGET]
    caution = rows["caution"].fill_null(False)
    tires = (rows[KIND] == True).fill_null(False)  # noqa: E712
    repair = rows[REPAIR]
    groups = {"mae_s": None, "mae_green_s": ~caution, "mae_caution_s": caution,
              "mae_drive_through_s": (rows[KIND] == False).fill_null(False),  # noqa: E712
              "mae_tire_change_s": tires,
              "mae_tires_s": tires & (repair == False).fill_null(False),  # noqa: E712
              "mae_repair_s": tires & repair.fill_null(False)}
    scores = {"n_stops": float(rows.height)}
    for name, mask in groups.items():
        part = err if mask is None else err.filter(mask)
        if part.len():
            scores[name] = _mae(part)
    return scores


def pit_loss_parts(rows: pl.DataFrame, predictions: pl.DataFrame) -> pl.DataFrame:
    """``mae_s`` as per-stop parts: ``race_id``, ``num`` (absolute error, s), ``den`` (1)."""
    err = (predictions[PREDICTION] - rows[TARGET]).abs().cast(pl.Float64)
    return pl.DataFrame({"race_id": rows["race_id"], "num": err,
                         "den": pl.Series(np.ones(rows.height), dtype=pl.Float64)})


class TrackKindMedianBaseline(Model):
    """Baseline: the median loss of the training stops at the track and of the same kind.

    The kind is the stop's service (``stop_services``): a drive-through, a tire change,
    a repair, or a tire stop of unknown purpose (the median of every training tire stop).
    A cell (track and kind) with fewer than ``min_stops`` stops is answered by the
    median of that kind at every track; a stop of unknown kind by the median of every
    stop at the track (or of every stop), and ``fallbacks`` names what was replaced.

    Hyperparameters:
        min_stops: Fewest training stops a median is taken over.
    """

    kind = "pit_loss_median"
    kind_version = "2"  # the kind is the service: drive-through, tire change or repair
    inputs = (TRACK_SPEC, KIND_SPEC, REPAIR_SPEC)
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    cells_s_: dict[str, float]
    tracks_s_: dict[str, float]
    kinds_s_: dict[str, float]
    overall_s_: float

    def __init__(self, *, min_stops: int = 3) -> None:
        self.min_stops = min_stops

    def _medians(self, frame: pl.DataFrame, by: list[str]) -> dict[str, float]:
        table = (frame.group_by(by).agg(pl.col(TARGET).median().alias("m"), pl.len().alias("n"))
                 .filter(pl.col("n") >= self.min_stops))
        return {"|".join(str(v) for v in row[:-2]): float(row[-2]) for row in table.iter_rows()}

    def _fit(self, frame: pl.DataFrame) -> None:
        frame = frame.filter(pl.col(TARGET).is_not_null())
        if frame.is_empty():
            raise DataError("no pit stop with a loss to learn from", column=TARGET)
        served = frame.with_columns(service=stop_services(frame))
        # a tire stop of unknown purpose costs what every training tire stop did
        known = pl.concat([served.filter(pl.col("service").is_in(list(SERVICES))),
                           served.filter(pl.col(KIND).fill_null(False))
                           .with_columns(service=pl.lit(TIRE_STOP))])
        self.overall_s_ = float(frame[TARGET].median())  # type: ignore[arg-type]
        self.tracks_s_ = self._medians(frame, ["track"])
        self.kinds_s_ = self._medians(known, ["service"])
        self.cells_s_ = self._medians(known, ["track", "service"])

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        loss, no_track, no_kind, no_repair = [], [], [], []
        for track, service in zip(frame["track"].to_list(), stop_services(frame).to_list(),
                                  strict=True):
            asked = service
            if service == "repair" and "repair" not in self.kinds_s_:
                asked = TIRE_STOP  # no training repair: the tire stops' median, said
            cell = self.cells_s_.get(f"{track}|{asked}")
            by_kind = self.kinds_s_.get(str(asked)) if asked is not None else None
            by_track = self.tracks_s_.get(str(track))
            if cell is not None:
                value, tracked, kinded = cell, True, True
            elif by_kind is not None:
                value, tracked, kinded = by_kind, False, True
            elif by_track is not None:
                value, tracked, kinded = by_track, True, False
            else:
                value, tracked, kinded = self.overall_s_, False, False
            loss.append(value)
            no_track.append(not tracked)
            no_kind.append(not kinded)
            no_repair.append(kinded and asked == TIRE_STOP)
        return pl.DataFrame({PREDICTION: pl.Series(loss, dtype=pl.Float64),
                             **fallback_lists(unknown_track=np.array(no_track, dtype=bool),
                                              unknown_kind=np.array(no_kind, dtype=bool),
                                              unknown_repair=np.array(no_repair, dtype=bool))})

    def _get_state(self) -> ModelState:
        return ModelState(values={"cells_s": self.cells_s_, "tracks_s": self.tracks_s_,
                                  "kinds_s": self.kinds_s_, "overall_s": self.overall_s_})

    def _set_state(self, state: ModelState) -> None:
        v = state.values
        self.cells_s_ = {str(k): float(x) for k, x in v["cells_s"].items()}
        self.tracks_s_ = {str(k): float(x) for k, x in v["tracks_s"].items()}
        self.kinds_s_ = {str(k): float(x) for k, x in v["kinds_s"].items()}
        self.overall_s_ = float(v["overall_s"])


class TransitPitLossBaseline(Model):
    """The old baseline: a stop costs the track's pit-lane transit time, whatever the stop.

    It learns nothing from its training rows; a track not in ``cognirace.domain.tracks``
    gets the mean transit of the known ones (and ``fallbacks`` says ``track``).
    """

    kind = "pit_loss_transit"
    kind_version = "2"  # reads the track only
    inputs = (TRACK_SPEC,)
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    transit_s_: dict[str, float]

    def _fit(self, frame: pl.DataFrame) -> None:
        self.transit_s_ = {**PIT_TRANSIT_S, "": float(np.mean(list(PIT_TRANSIT_S.values())))}

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        loss = per_track(self.transit_s_, frame["track"], self.transit_s_[""])
        unknown = ~frame["track"].is_in(list(PIT_TRANSIT_S)).to_numpy()
        return pl.DataFrame({PREDICTION: pl.Series(loss, dtype=pl.Float64),
                             **fallback_lists(unknown_track=unknown,
                                              unknown_kind=np.zeros(frame.height, dtype=bool))})

    def _get_state(self) -> ModelState:
        return ModelState(values={"transit_s": self.transit_s_})

    def _set_state(self, state: ModelState) -> None:
        self.transit_s_ = {str(k): float(v) for k, v in state.values["transit_s"].items()}


__all__ = [
    "KIND_SPEC",
    "NEW_TIRES",
    "OUTPUTS",
    "PREDICTION",
    "REPAIR_SPEC",
    "SERVICES",
    "TARGETS",
    "TIRE_STOP",
    "TRACK_SPEC",
    "TrackKindMedianBaseline",
    "TransitPitLossBaseline",
    "fallback_lists",
    "pit_loss_parts",
    "score_pit_loss",
    "service_array",
    "stop_services",
]
