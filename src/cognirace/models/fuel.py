"""Fuel: litres burned per lap from the lap's telemetry, and litres left through a race.

Fuel burned tracks engine work: throttle opening times engine revolutions, which the
lap feature table integrates over the lap as ``fuel_proxy_krev`` (the throttle is the
pedal ``aps`` where the track logs it, else the blade ``ath``; see the table's
``throttle_source``). ``FuelBurnModel`` maps that
proxy, the lap time (idle and overrun burn grows with time) and the track length to
litres, with separate terms under green and under a full-course yellow, where the field
runs slowly on part throttle and burns about half as much. ``fuel_left`` turns the
per-lap predictions into a running estimate from the start fuel (a full 83 l cell unless
the team says otherwise).

Real timing and telemetry carry no fuel label, so the target comes from the simulator's
truth (``fuel_used_l``): with real data a user gets this model trained on simulated
physics and applied to the real telemetry aggregates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.domain.formats import FLAG_CAUTION
from cognirace.errors import DataError
from cognirace.models.arrays import flags
from cognirace.models.artifacts import ModelState
from cognirace.models.base import Model
from cognirace.models.per_track import TRACK_LENGTH_KM, per_track
from cognirace.models.schema import ColumnSpec
from cognirace.models.task import Task, truth_by_car

TANK_L = 83.0
"""Capacity of the GR86 cup car's fuel cell, litres: the start fuel when none is known."""

MAX_BURN_L = 10.0
"""Most fuel a lap can burn, litres (a 2.4 l engine flat out for five minutes); predictions
are clipped to 0..this so a corrupt telemetry lap cannot drain the tank estimate."""

KEYS: tuple[str, ...] = ("race_id", "car_number", "lap")
TARGET = "fuel_used_l"
PREDICTION = "fuel_used_pred_l"

INPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("fuel_proxy_krev", "Float64",
               "Time integral of throttle fraction (pedal, else blade) x engine revolutions "
               "over the lap, in thousands of full-load-equivalent revolutions (null "
               "without telemetry)",
               "krev", 0.0, 60.0),
    ColumnSpec("lap_time_s", "Float64", "The lap's time", "s", 20.0, 1200.0),
    ColumnSpec("track", "String", "Track key (`barber`)"),
    ColumnSpec("flag", "String", "Flag at the line: `GF` green, `FCY` full-course yellow or "
               "`FF` chequered (raced like green)"),
    ColumnSpec("lap", "Int32", "Lap number, 1-based (lap 1 starts from the rolling start)",
               "", 1.0, 200.0),
    ColumnSpec("in_pit", "Boolean", "The lap ended in the pit lane"),
    ColumnSpec("out_lap", "Boolean", "The lap left the pit lane"),
)
TARGETS: tuple[ColumnSpec, ...] = (
    ColumnSpec(TARGET, "Float64", "Fuel burned over the lap (simulator truth)", "l",
               0.0, MAX_BURN_L),
)
OUTPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec(PREDICTION, "Float64", "Predicted fuel burned over the lap", "l",
               0.0, MAX_BURN_L),
)

TERMS: tuple[str, ...] = (
    "green", "green_x_proxy_krev", "green_x_lap_time_s", "green_x_length_km",
    "fcy", "fcy_x_proxy_krev", "fcy_x_lap_time_s", "fcy_x_length_km",
    "in_pit", "out_lap", "first_lap",
)
"""Columns of the burn model's design matrix, in order (intercepts per flag first)."""

_INTERCEPTS = (0, 4)


def design(frame: pl.DataFrame) -> npt.NDArray[np.float64]:
    """The ``TERMS`` matrix of a checked input frame (NaN where an input is null).

    Each flag has its own intercept and slopes on the proxy, the lap time and the lap
    length, because a yellow lap's burn is not a green lap's burn scaled by throttle:
    the car idles behind the queue for much of it.
    """
    fcy = flags(frame["flag"] == FLAG_CAUTION)
    green = 1.0 - fcy
    proxy = frame["fuel_proxy_krev"].to_numpy()  # Float64: null arrives as NaN
    lap_time = frame["lap_time_s"].to_numpy()
    length = per_track(TRACK_LENGTH_KM, frame["track"], np.nan)  # NaN: unknown track
    cols = [green, green * proxy, green * lap_time, green * length,
            fcy, fcy * proxy, fcy * lap_time, fcy * length,
            flags(frame["in_pit"]), flags(frame["out_lap"]), flags(frame["lap"] == 1)]
    return np.column_stack(cols)


def mean_of(values: pl.Series) -> float:
    """Mean of the non-null values as a float, 0.0 when there are none."""
    mean = values.drop_nulls().cast(pl.Float64).mean()
    return float(mean) if isinstance(mean, int | float) else 0.0


def _group_means(frame: pl.DataFrame, by: list[str]) -> dict[str, float]:
    """Mean target per group, keyed ``"a|b"``, for the fallbacks (l)."""
    means = frame.group_by(by).agg(pl.col(TARGET).mean())
    return {"|".join(str(v) for v in row[:-1]): float(row[-1]) for row in means.iter_rows()}


class FuelBurnModel(Model):
    """Litres burned per lap: a ridge regression on physical terms, per flag.

    Hyperparameters:
        ridge: Penalty added to the normal equations for every slope (not the two
            intercepts); small, it only steadies terms a season barely varies, such as
            the lap length under a yellow seen at a few tracks.

    A lap whose proxy or lap time is missing (telemetry dropped out) gets the mean burn
    of its track and flag in training, else of its flag.
    """

    kind = "fuel_burn"
    kind_version = "2"  # fuel_proxy_krev: pedal or blade, slow rpm interpolated
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    coef_: npt.NDArray[np.float64]
    fallback_: dict[str, float]

    def __init__(self, *, ridge: float = 1e-3) -> None:
        self.ridge = ridge

    def _fit(self, frame: pl.DataFrame) -> None:
        x, y = design(frame), frame[TARGET].to_numpy()
        ok = np.isfinite(x).all(axis=1) & np.isfinite(y)
        if not ok.any():
            raise DataError("no lap has both telemetry and a fuel label", column=TARGET,
                            hint="fit on laps with n_samples > 0 joined to the truth")
        x, y = x[ok], y[ok]
        penalty = self.ridge * np.eye(x.shape[1])
        for i in _INTERCEPTS:
            penalty[i, i] = 0.0
        self.coef_ = np.linalg.lstsq(x.T @ x + penalty, x.T @ y, rcond=None)[0]
        self.fallback_ = {**_group_means(frame, ["flag"]),
                          **_group_means(frame, ["track", "flag"]),
                          "": mean_of(frame[TARGET])}

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        x = design(frame)
        burn = x @ self.coef_
        missing = ~np.isfinite(burn)
        if missing.any():
            burn[missing] = [self._fallback(track, flag) for track, flag in zip(
                frame["track"].filter(missing), frame["flag"].filter(missing), strict=True)]
        return pl.DataFrame({PREDICTION: np.clip(burn, 0.0, MAX_BURN_L)})

    def _fallback(self, track: str | None, flag: str | None) -> float:
        table = self.fallback_
        return table.get(f"{track}|{flag}", table.get(str(flag), table[""]))

    def _get_state(self) -> ModelState:
        return ModelState(values={"terms": list(TERMS), "fallback_l": self.fallback_},
                          arrays={"coef": self.coef_})

    def _set_state(self, state: ModelState) -> None:
        if state.values.get("terms") != list(TERMS):
            raise DataError("stored fuel model has other terms", value=state.values.get("terms"))
        self.coef_ = np.asarray(state.arrays["coef"], dtype=np.float64)
        self.fallback_ = {str(k): float(v) for k, v in state.values["fallback_l"].items()}


class TrackMeanFuelBaseline(Model):
    """Baseline: every lap burns the track's mean burn per lap in training (l).

    It reads the same inputs as ``FuelBurnModel`` but uses only the track; a track not
    seen in training gets the mean over all laps.
    """

    kind = "fuel_burn_track_mean"
    kind_version = "1"
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    mean_l_: dict[str, float]

    def _fit(self, frame: pl.DataFrame) -> None:
        labelled = frame.filter(pl.col(TARGET).is_not_null())
        self.mean_l_ = {**_group_means(labelled, ["track"]),
                        "": mean_of(labelled[TARGET])}

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        burn = per_track(self.mean_l_, frame["track"], self.mean_l_[""])
        return pl.DataFrame({PREDICTION: pl.Series(burn, dtype=pl.Float64)})

    def _get_state(self) -> ModelState:
        return ModelState(values={"mean_l": self.mean_l_})

    def _set_state(self, state: ModelState) -> None:
        self.mean_l_ = {str(k): float(v) for k, v in state.values["mean_l"].items()}


def fuel_left(
    predictions: pl.DataFrame, *, start_fuel: pl.DataFrame | None = None,
    tank_l: float = TANK_L,
) -> pl.DataFrame:
    """Running fuel left per car: start fuel minus the predicted burn, lap by lap.

    A lap missing from ``predictions`` (no telemetry that lap) between lap 1 and the
    car's last lap is counted at the car's mean predicted burn and marked ``filled``.

    Args:
        predictions: ``race_id, car_number, lap, fuel_used_pred_l`` (``predict``'s output).
        start_fuel: Optional ``race_id, car_number, start_fuel_l`` for cars whose start
            fuel is known (l); every other car starts with ``tank_l``.
        tank_l: Start fuel of a car not in ``start_fuel``, litres (a full cell).

    Returns:
        ``race_id, car_number, lap, fuel_used_pred_l, filled, fuel_left_pred_l`` per lap,
        fuel left at the end of the lap (l, never below 0), sorted by car and lap.
    """
    car = ["race_id", "car_number"]
    preds = predictions.select(*KEYS, PREDICTION).unique(KEYS, keep="first")
    lap_dtype = preds.schema["lap"]
    grid = (preds.group_by(car).agg(pl.col("lap").max().alias("_last"),
                                    pl.col(PREDICTION).mean().alias("_mean"))
            .with_columns(lap=pl.int_ranges(1, pl.col("_last") + 1))
            .explode("lap").with_columns(pl.col("lap").cast(lap_dtype)))
    laps = grid.join(preds, on=KEYS, how="left").with_columns(
        filled=pl.col(PREDICTION).is_null(),
        **{PREDICTION: pl.col(PREDICTION).fill_null(pl.col("_mean"))})
    if start_fuel is not None:
        laps = laps.join(start_fuel.select(*car, "start_fuel_l"), on=car, how="left")
    else:
        laps = laps.with_columns(start_fuel_l=pl.lit(None, dtype=pl.Float64))
    used = pl.col(PREDICTION).cum_sum().over(car, order_by="lap")
    left = (pl.col("start_fuel_l").fill_null(tank_l) - used).clip(lower_bound=0.0)
    return (laps.with_columns(fuel_left_pred_l=left)
            .select(*KEYS, PREDICTION, "filled", "fuel_left_pred_l").sort(KEYS))


def fuel_rows(features: pl.DataFrame,
              truth: Mapping[str, pl.DataFrame] | None) -> pl.DataFrame:
    """Laps with telemetry joined to the simulator's fuel truth.

    Returns the keys, ``track``, the inputs, ``fuel_used_l`` (target), and for the
    scorer ``fuel_left_l`` (truth at the lap's end) and ``start_fuel_l`` (truth at the
    green flag), all in litres.

    Raises:
        DataError: No truth laps: real data has no fuel label to learn from.
    """
    if truth is None or truth.get("laps") is None or truth["laps"].is_empty():
        raise DataError("fuel rows need the simulator's truth laps (fuel_used_l)",
                        hint="train the fuel model on a simulated lake; real data has "
                             "no fuel label")
    labels = truth_by_car(truth, "laps").select(
        "race_id", "car_number", pl.col("lap").cast(pl.Int32), TARGET, "fuel_left_l")
    start = labels.filter(pl.col("lap") == 1).select(
        "race_id", "car_number", start_fuel_l=pl.col("fuel_left_l") + pl.col(TARGET))
    return (features.filter(pl.col("n_samples") > 0)
            .join(labels, on=list(KEYS), how="inner")
            .join(start, on=["race_id", "car_number"], how="left")
            .filter(pl.col(TARGET).is_not_null())
            .select(*KEYS, "vehicle_id", *(s.name for s in INPUTS if s.name not in KEYS),
                    TARGET, "fuel_left_l", "start_fuel_l")
            .sort(KEYS))


def _end_error(rows: pl.DataFrame, left: pl.DataFrame) -> float:
    """Mean absolute error of fuel left at each car's last lap, litres."""
    last = rows.group_by("race_id", "car_number").agg(
        pl.col("lap").max(), pl.col("fuel_left_l").sort_by("lap").last())
    joined = last.join(left, on=list(KEYS), how="inner")
    return mean_of((joined["fuel_left_pred_l"] - joined["fuel_left_l"]).abs())


def score_fuel(rows: pl.DataFrame, predictions: pl.DataFrame) -> dict[str, float]:
    """MAE per lap (l), and MAE of fuel left at the end of each car's race (l).

    ``fuel_left_end_mae_l`` starts every car with a full cell, as a user who knows
    nothing else would; ``fuel_left_end_known_start_mae_l`` starts from the true start
    fuel, as a team that logged its fill would.
    """
    pred = predictions[PREDICTION]
    per_lap = rows.select(*KEYS).with_columns(pred)
    known = rows.group_by("race_id", "car_number").agg(pl.col("start_fuel_l").first())
    return {
        "mae_l": mean_of((pred - rows[TARGET]).abs()),
        "fuel_left_end_mae_l": _end_error(rows, fuel_left(per_lap)),
        "fuel_left_end_known_start_mae_l": _end_error(rows, fuel_left(per_lap,
                                                                      start_fuel=known)),
        "n_laps": float(rows.height),
    }


TASK = Task(
    name="fuel",
    title="Fuel burned per lap from telemetry aggregates, and fuel left through a race",
    model=FuelBurnModel,
    baseline=TrackMeanFuelBaseline,
    rows=fuel_rows,
    score=score_fuel,
    primary="mae_l",
    target_source="simulator truth: fuel_used_l per lap (real timing and telemetry have "
                  "no fuel label)",
    real_data_note="With real data a user gets the model trained on simulated physics, "
                   "applied to the real telemetry aggregates (fuel proxy, lap time); its "
                   "litres are only as right as the simulator's fuel model.",
    limits=(
        "Needs telemetry on the lap (n_samples > 0); other laps fall back to the track "
        "and flag mean burn.",
        "A driver's own fuel efficiency beyond throttle and revs is not observable, so "
        "per-car errors add up over a race in the fuel-left estimate.",
        "The proxy reads the pedal at Barber and Indianapolis and the throttle blade at "
        "the other tracks; one slope serves both, as a season has too few pedal tracks to "
        "tell a per-channel slope from a per-track one.",
        "Fuel left assumes a full 83 l cell unless the start fuel is given.",
    ),
    needs_truth=True,
)


__all__ = [
    "MAX_BURN_L",
    "TANK_L",
    "TASK",
    "TERMS",
    "FuelBurnModel",
    "TrackMeanFuelBaseline",
    "design",
    "fuel_left",
    "fuel_rows",
    "score_fuel",
]
