"""The fuel task's rows, lap phases and scores: burn per lap, and fuel left at the flag.

A lap's burn is read from the lap's own telemetry, once the lap is over: a measurement
the car does not make (there is no fuel-flow sensor in the logger), not a forecast.
Fuel left at the end of the race is a forecast, and is scored as one: at a cut point
(the car's first lap ending half way through the race's time or later) only the laps up
to the cut are known. Fuel used so far is the sum of their predicted burns; the laps still
to run are the feature table's ``laps_left_est`` at the cut (race time left over the
car's pace), each at the car's predicted burn on the racing laps seen so far. The
cautions ahead are unknown, so every lap ahead counts as a racing lap: the forecast
errs towards less fuel left, the safe side for a strategist. It is scored against the
simulator's fuel left at the car's last lap, for cars that took the chequered flag.

Lap phases (``lap_phase``) say how a lap relates to a full-course yellow, from the flag
at its line and the flag of the lap before, both known when the lap ends: a racing lap,
the first caution lap (the yellow came out during it), a caution lap, and the restart
lap (green at the line, after a caution lap). The first and the restart lap are run
partly at caution pace.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from cognirace.domain.formats import FLAG_CAUTION, FLAG_FINISH
from cognirace.errors import DataError
from cognirace.models.task import truth_by_car

TANK_L = 83.0
"""Capacity of the GR86 cup car's fuel cell, litres: the start fuel when none is known."""

KEYS: tuple[str, ...] = ("race_id", "car_number", "lap")
CAR: tuple[str, ...] = ("race_id", "car_number")
TARGET = "fuel_used_l"
PREDICTION = "fuel_used_pred_l"
TELEMETRY_INPUTS: tuple[str, ...] = ("engine_krev", "throttle_s")
"""The lap's telemetry the burn model reads; a lap without them has no fuel row."""

RACING, CAUTION_FIRST, CAUTION, RESTART = "racing", "caution_first", "caution", "restart"
PHASES: tuple[str, ...] = (RACING, CAUTION_FIRST, CAUTION, RESTART)
"""Lap phases, see ``lap_phase``."""
SLOWED_PHASES: tuple[str, ...] = PHASES[1:]
"""Phases run wholly or partly at caution pace."""

HALF_WAY = pl.col("race_elapsed_s") >= pl.col("race_time_left_s")
"""The fuel-left forecast is made at each car's first lap ending half way through the
race's time or later (as much time run as left)."""


def lap_phase(flag: pl.Expr, prev_fcy: pl.Expr) -> pl.Expr:
    """Each lap's phase from its flag at the line and whether the lap before was a caution
    lap: ``racing``, ``caution_first``, ``caution`` or ``restart``."""
    caution = flag == FLAG_CAUTION
    return (pl.when(caution & ~prev_fcy).then(pl.lit(CAUTION_FIRST))
            .when(caution).then(pl.lit(CAUTION))
            .when(prev_fcy).then(pl.lit(RESTART))
            .otherwise(pl.lit(RACING)))


def phases_of(frame: pl.DataFrame) -> pl.Series:
    """``lap_phase`` of a frame with ``flag`` and ``prev_fcy`` columns."""
    return frame.select(lap_phase(pl.col("flag"), pl.col("prev_fcy"))).to_series()


def fuel_rows(features: pl.DataFrame,
              truth: Mapping[str, pl.DataFrame] | None) -> pl.DataFrame:
    """Laps with telemetry joined to the simulator's fuel truth.

    Returns the keys, ``vehicle_id``, ``track``, the model's inputs, ``fuel_used_l``
    (target), and for the scorer ``fuel_left_l`` (truth at the lap's end),
    ``start_fuel_l`` (truth at the green flag), ``race_elapsed_s``, ``race_time_left_s``
    and ``laps_left_est`` (the cut point and the laps left there), all litres, seconds
    and laps. Laps whose revolutions or throttle time are missing (a logger dropout) are
    left out: the model needs them and would not guess them.

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
        *CAR, start_fuel_l=pl.col("fuel_left_l") + pl.col(TARGET))
    measured = pl.all_horizontal(pl.col(c).is_not_null() for c in
                                 (*TELEMETRY_INPUTS, "lap_time_s", "flag"))
    return (features.filter((pl.col("n_samples") > 0) & measured)
            .join(labels, on=list(KEYS), how="inner")
            .join(start, on=list(CAR), how="left")
            .filter(pl.col(TARGET).is_not_null())
            .select(*KEYS, "vehicle_id", "track", *TELEMETRY_INPUTS, "lap_time_s", "flag",
                    "prev_fcy", TARGET, "fuel_left_l", "start_fuel_l", "race_elapsed_s",
                    "race_time_left_s", "laps_left_est")
            .sort(KEYS))


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
    car = list(CAR)
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


def forecast_at_cut(rows: pl.DataFrame, burn: pl.Series) -> pl.DataFrame:
    """Each car's fuel forecast at its cut lap, from the laps up to the cut only.

    Args:
        rows: ``fuel_rows`` (keys, ``flag``, ``prev_fcy``, ``race_elapsed_s``,
            ``race_time_left_s``, ``laps_left_est``).
        burn: Predicted burn per row (l), row-aligned with ``rows``.

    Returns:
        One row per car with a lap at or after its cut: ``race_id, car_number, cut_lap,
        used_pred_l`` (laps up to the cut, a lap missing between 1 and the cut counted
        at the car's mean burn there) and ``ahead_pred_l`` (laps left at the cut x the
        mean burn of the car's racing laps so far, of all its laps if none was racing).
    """
    laps = rows.select(*KEYS, "laps_left_est", HALF_WAY.alias("_half_way"),
                       lap_phase(pl.col("flag"), pl.col("prev_fcy")).alias("_phase"),
                       pl.Series("_burn", burn, dtype=pl.Float64)).sort(KEYS)
    cut = (laps.filter(pl.col("_half_way"))
           .group_by(CAR).agg(pl.col("lap").min().alias("cut_lap")))
    seen = laps.join(cut, on=list(CAR)).filter(pl.col("lap") <= pl.col("cut_lap"))
    racing = pl.col("_burn").filter(pl.col("_phase") == RACING)
    missing = pl.col("cut_lap").first() - pl.len()
    return seen.group_by(CAR).agg(
        pl.first("cut_lap"),
        (pl.col("_burn").sum() + pl.col("_burn").mean() * missing).alias("used_pred_l"),
        (pl.col("laps_left_est").sort_by("lap").last().cast(pl.Float64)
         * pl.coalesce(racing.mean(), pl.col("_burn").mean())).alias("ahead_pred_l"),
    ).sort(CAR)


def end_forecast(rows: pl.DataFrame, burn: pl.Series) -> pl.DataFrame:
    """``forecast_at_cut`` of each car that took the chequered flag, with the truth.

    Adds ``start_fuel_l`` (truth at the green flag) and ``fuel_left_end_l`` (truth at the
    car's last lap) to the forecast, for scoring.
    """
    last = rows.group_by(CAR).agg(
        pl.col("lap").max().alias("_last"), pl.first("start_fuel_l"),
        pl.col("flag").sort_by("lap").last().alias("_last_flag"),
        pl.col("fuel_left_l").sort_by("lap").last().alias("fuel_left_end_l"))
    return (forecast_at_cut(rows, burn).join(last, on=list(CAR))
            .filter((pl.col("_last_flag") == FLAG_FINISH)
                    & (pl.col("_last") >= pl.col("cut_lap")))
            .select(*CAR, "cut_lap", "used_pred_l", "ahead_pred_l", "start_fuel_l",
                    "fuel_left_end_l").sort(CAR))


def _end_mae(forecast: pl.DataFrame, *, known_start: bool) -> float:
    """MAE (l) of fuel left at the flag, starting from the true fuel or a full cell."""
    if forecast.is_empty():
        return float("nan")
    start = forecast.get_column("start_fuel_l") if known_start else TANK_L
    pred = (start - forecast.get_column("used_pred_l")
            - forecast.get_column("ahead_pred_l")).clip(lower_bound=0.0)
    return float((pred - forecast.get_column("fuel_left_end_l")).abs().mean())  # type: ignore[arg-type]


def score_fuel(rows: pl.DataFrame, predictions: pl.DataFrame) -> dict[str, float]:
    """Burn per lap, and fuel left at the flag forecast half way (see the module).

    ``mae_l`` (primary) is the mean absolute error of the burn per lap (l).
    ``fuel_left_end_forecast_known_start_mae_l`` starts every car from its true start
    fuel, as a team that logged its fill would; ``fuel_left_end_forecast_mae_l`` from a
    full cell, as a user who knows nothing else would (l).
    """
    burn = predictions.get_column(PREDICTION)
    forecast = end_forecast(rows, burn)
    return {
        "mae_l": float((burn - rows.get_column(TARGET)).abs().mean()),  # type: ignore[arg-type]
        "fuel_left_end_forecast_known_start_mae_l": _end_mae(forecast, known_start=True),
        "fuel_left_end_forecast_mae_l": _end_mae(forecast, known_start=False),
        "n_laps": float(rows.height),
        "n_cars_forecast": float(forecast.height),
    }


def fuel_parts(rows: pl.DataFrame, predictions: pl.DataFrame) -> pl.DataFrame:
    """``mae_l`` as one (absolute error, 1) per lap, by race (see ``Task.parts``)."""
    error = (predictions.get_column(PREDICTION) - rows.get_column(TARGET)).abs()
    return pl.DataFrame({"race_id": rows.get_column("race_id"), "num": error,
                         "den": np.ones(rows.height)})


__all__ = [
    "CAR",
    "CAUTION",
    "CAUTION_FIRST",
    "HALF_WAY",
    "KEYS",
    "PHASES",
    "PREDICTION",
    "RACING",
    "RESTART",
    "SLOWED_PHASES",
    "TANK_L",
    "TARGET",
    "TELEMETRY_INPUTS",
    "end_forecast",
    "forecast_at_cut",
    "fuel_left",
    "fuel_parts",
    "fuel_rows",
    "lap_phase",
    "phases_of",
    "score_fuel",
]
