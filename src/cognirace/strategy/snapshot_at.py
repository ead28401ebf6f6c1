"""A lake race as it stood when the leader completed a lap: ``snapshot_at``.

The backtest builds hundreds of snapshots, so this does not replay the race through the
live engine: it keeps the race's laps that had ended by the leader's crossing (nothing
later is read, by construction), builds their lap features with the batch code
(``build_lap_features``) and asks each production model with the rows its own training
code builds, the rows the live engine asks (``tests/realtime`` holds the two paths to
the same rows):

- ``laptime``: each car's latest lap row: P10/P50/P90 of its next green lap. A row the
  model refuses (no green lap yet, so no pace) gives way to the car's latest row it
  accepts, as the live engine keeps a car's last answer. A running car with no such row
  is an error, unless ``pace_fallback`` gives it the field's pace, marked
  (``snapshot_pace``).
- ``tire``: the car's stint so far (``tire_forecast.stint_so_far``) at its latest lap,
  once the stint has ``MIN_SEEN_LAPS`` green laps: ``deg_s_per_lap``.
- ``fuel``: every lap's burn (``fuel_used_pred_l``): the burn of a green lap is the
  answer for the car's latest green lap; fuel left is the start fill less every lap's
  burn (unknown when a lap has no answer, never a partial sum).
- ``pitloss``: a planned tire change (not a repair) at this track, under green and
  under caution.
- ``fcy``: the hazard row (``fcy_rows``) of the leader's lap; under a caution, or once
  the clock has run out, the row of its last lap that has one (``fcy_rows`` keeps no
  caution lap), as live. See ``caution_hazard`` for the laps ahead.
- ``traffic``: the graph of the line before as it stood at the leader's crossing
  (``traffic.line_graph``): ``p_pass_ahead`` and ``p_passed``.

An answer the contract may lack (wear, fuel, passes) is None when its model is not
loaded or refuses its row, and ``notes`` say which and why; the lap-time quantiles,
the pit losses and the hazard are required, and their absence raises a ``DataError``
naming the model. Nothing is made up.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl

from cognirace.domain.formats import FLAG_CAUTION
from cognirace.errors import CogniraceError, DataError
from cognirace.features import RACE_DURATION_S, aggregate_telemetry, build_lap_features
from cognirace.lake import Lake
from cognirace.models.base import Model
from cognirace.models.fcy_rows import fcy_rows
from cognirace.models.pitloss_rows import planned_tire_change
from cognirace.models.tire_forecast import MIN_SEEN_LAPS, stint_so_far
from cognirace.models.traffic import line_graph
from cognirace.strategy.answers import FuelStart, caution_hazard, finite_or_none, start_fill
from cognirace.strategy.snapshot import CarSnapshot, RaceSnapshot
from cognirace.strategy.snapshot_pace import with_field_pace

ModelLookup = Callable[[str], Model | None]
"""The production model of a task by name, or None when it is not loaded (as the live
engine's ``Models``)."""

TIRE_HORIZON_LAPS = 5.0
"""Laps ahead of the tire age the tire forecast is asked for: the live engine's
(``realtime.lap_inputs``; a test holds the two equal). ``deg_s_per_lap`` does not read
it, the loss quantiles do."""
TIRE_MAX_SEEN_LAPS = 40
"""Most green laps of a stint the forecast reads, as live."""
STOPPED_BEST_LAPS = 2.0
"""A car with no crossing for this many of its best laps is out of the race: the timing
tower's rule (``realtime.tower``), so both paths say the same."""
_CAR = ("race_id", "car_number")

class _Asking:
    """The models, asked with the notes their absence or refusals leave."""

    def __init__(self, models: ModelLookup) -> None:
        self.models = models
        self.notes: list[str] = []

    def ask(self, name: str, rows: pl.DataFrame, what: str) -> pl.DataFrame | None:
        """``name``'s answer, or None (noted) when it is not loaded or refuses."""
        model = self.models(name)
        if model is None:
            self.notes.append(f"{name}: model not loaded; {what} unknown")
            return None
        try:
            return model.predict(rows)
        except CogniraceError as exc:
            self.notes.append(f"{name}: refused ({exc.message}); {what} unknown")
            return None

    def ask_by(self, name: str, rows: pl.DataFrame, by: str, what: str
               ) -> dict[str, pl.DataFrame]:
        """``name``'s answers to ``rows`` by ``by`` (a car): one call, then, only when
        refused, one call per car, so one car's refusal (a car without a logger, say)
        leaves the others' answers. A car refused, or every car, is noted."""
        model = self.models(name)
        if model is None:
            self.notes.append(f"{name}: model not loaded; {what} unknown")
            return {}
        try:
            answers = model.predict(rows)
            return {str(k): part for (k,), part in
                    answers.with_columns(rows[by].alias("_by")).group_by(
                        "_by", maintain_order=True)}
        except CogniraceError as exc:
            first = exc.message
        out: dict[str, pl.DataFrame] = {}
        for (key,), part in rows.group_by(by, maintain_order=True):
            try:
                out[str(key)] = model.predict(part)
            except CogniraceError as exc:
                first = exc.message
        refused = rows[by].n_unique() - len(out)
        if refused:
            self.notes.append(f"{name}: refused {refused} car(s) ({first}); their {what} "
                              "unknown")
        return out

    def required(self, name: str, what: str) -> Model:
        """The model ``name``; a ``DataError`` naming it when it is not loaded."""
        model = self.models(name)
        if model is None:
            raise DataError(f"a race snapshot needs the {name!r} model for {what}",
                            value=name, hint=f"load the {name!r} task's production model "
                            "(registry.load(name, registry.resolve(name, 'production')))")
        return model

    def need(self, name: str, rows: pl.DataFrame, what: str) -> pl.DataFrame:
        """``name``'s answer; a ``DataError`` naming the model when there is none."""
        model = self.required(name, what)
        try:
            return model.predict(rows)
        except CogniraceError as exc:
            raise DataError(f"the {name!r} model gave no {what}: {exc}", value=name,
                            hint="check that the model is the task's production model and "
                            "that the race has the laps it reads") from exc


def _race_laps(lake: Lake, race_id: str, lap: int) -> tuple[dict[str, Any], pl.DataFrame,
                                                            dt.datetime]:
    """The race's row, its laps ended by the leader's crossing of ``lap``, that time."""
    races = lake.races.filter(pl.col("race_id") == race_id)
    if races.is_empty():
        raise DataError(f"the lake has no race {race_id!r}", value=race_id,
                        hint="see open_lake(...).race_ids")
    laps = lake.laps.filter((pl.col("race_id") == race_id) & pl.col("car_number").is_not_null()
                            & pl.col("lap_end").is_not_null())
    leader_end = laps.filter(pl.col("lap") == lap)["lap_end"].min()
    if not isinstance(leader_end, dt.datetime):
        top = laps.height and int(laps["lap"].max())  # type: ignore[arg-type]
        raise DataError(f"no car of race {race_id!r} completed lap {lap}", value=lap,
                        hint=f"take a lap within 1..{top}" if top else "the race has no laps")
    return races.row(0, named=True), laps.filter(pl.col("lap_end") <= leader_end), leader_end


def _features(lake: Lake, race: dict[str, Any], known: pl.DataFrame, lap: int,
              telemetry: bool, duration_s: float) -> pl.DataFrame:
    """Lap features of the laps known; the telemetry's only when a model reads it."""
    race_id = race["race_id"]
    samples = lake.scan_telemetry(race_id).filter(pl.col("lap") <= lap) if telemetry \
        else lake.scan_telemetry().clear()
    return build_lap_features(
        known.lazy(), lake.races.lazy().filter(pl.col("race_id") == race_id),
        lake.weather.lazy().filter(pl.col("race_id") == race_id),
        aggregate_telemetry(samples), race_duration_s=duration_s).collect()


def _cars(features: pl.DataFrame, leader_end: dt.datetime) -> pl.DataFrame:
    """One row per car as it stood: the timing's order (more laps first, then the
    earlier crossing), its latest lap's row, stops, and whether it still runs."""
    latest = features.sort(*_CAR, "lap").group_by(_CAR, maintain_order=True).agg(
        pl.col("lap").last().alias("laps"), pl.col("lap_end").last(),
        pl.col("in_pit").last(), pl.col("in_pit").sum().cast(pl.Int64).alias("stops"),
        (pl.col("tire_age_laps").last() + 1).alias("tire_age_laps"),
        pl.col("lap_time_s").min().alias("best_lap_s"))
    quiet_s = (pl.lit(leader_end) - pl.col("lap_end")).dt.total_microseconds() / 1e6
    running = pl.col("best_lap_s").is_null() | (quiet_s <= STOPPED_BEST_LAPS
                                                * pl.col("best_lap_s"))
    return latest.sort(pl.col("laps"), "lap_end", "car_number",
                       descending=[True, False, False]) \
        .with_columns(position=pl.int_range(1, pl.len() + 1), running=running)


def _first_accepted(model: Model, laps: pl.DataFrame) -> dict[str, Any] | None:
    """The answer to the latest of ``laps`` the model accepts, or None."""
    for row in reversed(list(laps.iter_slices(1))):
        try:
            return model.predict(row).row(0, named=True)
        except CogniraceError:
            continue
    return None


def _laptime(asking: _Asking, features: pl.DataFrame
             ) -> dict[str, tuple[float, float, float]]:
    """Each car's next-lap quantiles from its latest lap the model accepts: one call for
    every car's latest row, then, only when that is refused, each car's rows from the
    latest back (a car with no such lap has none)."""
    model = asking.required("laptime", "lap-time quantiles")
    latest = features.group_by("car_number", maintain_order=True).last()
    try:
        answers = {a["car_number"]: a for a in model.predict(latest).iter_rows(named=True)}
    except CogniraceError:
        answers = {}
        for (car,), laps in features.group_by("car_number", maintain_order=True):
            answer = _first_accepted(model, laps)
            if answer is not None:
                answers[str(car)] = answer
        older = sorted(car for car, a in answers.items()
                       if a["lap"] != latest.filter(pl.col("car_number") == car)["lap"][0])
        if older:
            asking.notes.append(f"laptime: car(s) {', '.join(older)} answered for an "
                                "earlier lap (their latest refused)")
    return {car: (a["lap_time_p10_s"], a["lap_time_p50_s"], a["lap_time_p90_s"])
            for car, a in answers.items()}


def _with_quantiles(cars: pl.DataFrame, quantiles: Mapping[str, object], notes: list[str]
                    ) -> pl.DataFrame:
    """The cars with lap-time quantiles, renumbered 1..n. A car out of the race without
    them (it stopped before its first green lap) is left out, noted; a running one is a
    ``DataError``: the Monte Carlo cannot race a car without a pace."""
    lacking = cars.filter(~pl.col("car_number").is_in(list(quantiles)))
    running = lacking.filter(pl.col("running"))["car_number"].to_list()
    if running:
        raise DataError(f"the 'laptime' model gives no lap-time quantiles for car(s) "
                        f"{', '.join(running)}", value=running[0],
                        hint="the model reads a car's green pace: take a lap after every "
                             "car has run a green lap")
    if lacking.height:
        notes.append(f"car(s) {', '.join(lacking['car_number'])} out of the race without "
                     "lap-time quantiles: left out")
    return cars.filter(pl.col("car_number").is_in(list(quantiles))) \
        .with_columns(position=pl.int_range(1, pl.len() + 1))


def _tire(asking: _Asking, features: pl.DataFrame, cars: pl.DataFrame) -> dict[str, float]:
    """Each car's wear slope from its stint so far at its latest lap (s/lap)."""
    rows = stint_so_far(features, TIRE_HORIZON_LAPS, max_laps=TIRE_MAX_SEEN_LAPS) \
        .join(cars.select("car_number", pl.col("laps").cast(pl.Int32).alias("lap")),
              on=["car_number", "lap"], how="semi") \
        .filter(pl.col("n_seen_laps") >= MIN_SEEN_LAPS)
    short = cars.height - rows.height
    if short:
        asking.notes.append(f"tire: {short} car(s) with fewer than {MIN_SEEN_LAPS} green "
                            "laps in the stint; their wear slope unknown")
    if rows.is_empty():
        return {}
    answers = asking.ask_by("tire", rows, "car_number", "wear slope")
    return {car: float(a["deg_s_per_lap"][0]) for car, a in answers.items()
            if a["deg_s_per_lap"][0] is not None}


def _fuel(asking: _Asking, features: pl.DataFrame, fuel_start_l: FuelStart
          ) -> dict[str, tuple[float | None, float | None]]:
    """Each car's burn of a green lap and fuel left, l (see the module docstring)."""
    answers = asking.ask_by("fuel", features, "car_number", "fuel burn and fuel left")
    out: dict[str, tuple[float | None, float | None]] = {}
    for (car,), laps in features.group_by("car_number", maintain_order=True):
        answer = answers.get(str(car))
        if answer is None:
            continue
        burns = laps.select("lap", "green_lap").with_columns(
            burn=answer["fuel_used_pred_l"]).sort("lap")
        green = burns.filter(pl.col("green_lap"))["burn"]
        start = start_fill(fuel_start_l, str(car))
        # summed lap by lap, as the live engine does: the same bits
        left = None if start is None else start - sum(burns["burn"].to_list())
        out[str(car)] = (float(green[-1]) if len(green) else None, left)
    if fuel_start_l is None and out:
        asking.notes.append("fuel: no start fill given; fuel left unknown")
    return out


def _pit_losses(asking: _Asking, track: str) -> tuple[float, float]:
    """A planned tire change's loss at this track under green and under caution, s."""
    green, caution = (asking.need("pitloss", planned_tire_change(track, under), "pit losses")
                      ["pit_loss_pred_s"][0]
                      for under in (False, True))  # the live engine's question: same bits
    return float(green), float(caution)


def _hazard(asking: _Asking, features: pl.DataFrame, lap: int, time_left_s: float
            ) -> tuple[float, ...]:
    """The caution hazard of the leader's next laps (see ``caution_hazard``)."""
    if time_left_s <= 0.0:
        asking.notes.append("fcy: the clock has run out; no caution can start (hazard 0)")
        return (0.0,)
    rows = fcy_rows(features)
    if rows.is_empty():
        raise DataError("a race snapshot needs the 'fcy' model's hazard, and no leader lap "
                        "so far has its row (every lap under caution)", value=lap,
                        hint="take a lap after the first green leader lap")
    row = rows.tail(1)
    if int(row["lap"][0]) != lap:
        asking.notes.append(f"fcy: hazard of leader lap {row['lap'][0]}, its last lap with "
                            "a row (a caution is out)")
    answer = asking.need("fcy", row.drop("laps_to_fcy_start"), "caution hazard")
    return caution_hazard(answer.row(0, named=True))


def _traffic(asking: _Asking, features: pl.DataFrame, lap: int
             ) -> dict[str, dict[str, Any]]:
    """The pass probabilities of each car in the graph of line ``lap - 1``."""
    graph = line_graph(features.filter(pl.col("lap") == lap - 1)) if lap > 1 else None
    if graph is None or graph.is_empty():
        asking.notes.append("traffic: no line before the leader's lap; passes unknown")
        return {}
    answers = asking.ask("traffic", graph, "pass probabilities")
    return {} if answers is None else {a["car_number"]: a for a in answers.iter_rows(named=True)}


def caution_lap_time(features: pl.DataFrame) -> float | None:
    """The field's lap behind the safety car so far, s: the median full caution lap
    (caution at the line, the lap before too, not a pit or out-lap); None before one."""
    laps = features.filter((pl.col("flag") == FLAG_CAUTION) & pl.col("prev_fcy")
                           & ~pl.col("in_pit") & ~pl.col("out_lap"))["lap_time_s"].drop_nulls()
    return float(statistics.median(laps.to_list())) if len(laps) else None


SNAPSHOT_MODELS = ("laptime", "tire", "fuel", "pitloss", "fcy", "traffic")
"""The tasks whose answers a snapshot reads (see the module docstring)."""


def snapshot_at(lake: Lake, race_id: str, lap: int, models: ModelLookup, *,
                fuel_start_l: FuelStart = None,
                race_duration_s: float = RACE_DURATION_S,
                pace_fallback: bool = False) -> RaceSnapshot:
    """The race as it stood when its leader completed ``lap`` (see the module docstring).

    Args:
        lake: From ``cognirace.lake.open_lake``.
        race_id: The race.
        lap: The leader's lap, 1-based.
        models: The production model of a task by name, or None.
        fuel_start_l: Fuel at the start, l (one fill, or per car number); without it
            fuel left is None.
        race_duration_s: The race's timed length, s.
        pace_fallback: Give a running car the ``laptime`` model has no answer for the
            field's pace (``snapshot_pace``: marked and noted) rather than refuse the
            snapshot. For the rejoin estimate; off by default, as the live path.

    Raises:
        DataError: No such race or lap; or a required answer (lap-time quantiles, pit
            losses, caution hazard) is missing: the message names the model.
    """
    race, known, leader_end = _race_laps(lake, race_id, lap)
    asking = _Asking(models)
    features = _features(lake, race, known, lap, models("fuel") is not None, race_duration_s)
    cars = _cars(features, leader_end)
    start = known["lap_start"].min() or known["lap_end"].min()
    assert isinstance(start, dt.datetime)
    time_left_s = max(0.0, race_duration_s - (leader_end - start).total_seconds())
    leader = features.filter((pl.col("lap") == lap) & (pl.col("lap_end") == leader_end))
    quantiles = _laptime(asking, features)
    answered = frozenset(quantiles)
    if pace_fallback:
        quantiles = with_field_pace(features, quantiles, cars.filter(pl.col("running"))
                                    ["car_number"].to_list(), asking.notes)
    cars = _with_quantiles(cars, quantiles, asking.notes)
    wear = _tire(asking, features, cars)
    fuel = _fuel(asking, features, fuel_start_l)
    passes = _traffic(asking, features, lap)
    green_s, caution_s = _pit_losses(asking, str(race["track"]))
    hazard = _hazard(asking, features, lap, time_left_s)
    snaps = tuple(_car(car, (car["lap_end"] - start).total_seconds(), quantiles, wear, fuel,
                       passes, answered) for car in cars.iter_rows(named=True))
    return RaceSnapshot(
        race_id=race_id, track=str(race["track"]), lap=lap, time_left_s=time_left_s,
        caution=leader["flag"][0] == FLAG_CAUTION, caution_hazard=hazard,
        pit_loss_green_s=green_s, pit_loss_caution_s=caution_s, cars=snaps,
        caution_lap_s=caution_lap_time(features), notes=tuple(asking.notes))


def _car(car: dict[str, Any], race_time_s: float,
         quantiles: Mapping[str, tuple[float, float, float]], wear: Mapping[str, float],
         fuel: Mapping[str, tuple[float | None, float | None]],
         passes: Mapping[str, Mapping[str, Any]], answered: frozenset[str]) -> CarSnapshot:
    """One car's snapshot from its row of ``_cars`` and the models' answers
    (``answered``: the cars whose quantiles are the ``laptime`` model's)."""
    number = car["car_number"]
    burn, left = fuel.get(number, (None, None))
    ahead = passes.get(number, {})
    p10, p50, p90 = quantiles[number]
    return CarSnapshot(
        car_number=number, position=car["position"], laps=car["laps"],
        race_time_s=race_time_s, lap_time_p10_s=p10, lap_time_p50_s=p50, lap_time_p90_s=p90,
        tire_age_laps=car["tire_age_laps"], deg_s_per_lap=finite_or_none(wear.get(number)),
        fuel_left_l=left, fuel_burn_l_per_lap=finite_or_none(burn),
        p_pass_ahead=None if car["position"] == 1 else finite_or_none(ahead.get("p_pass_ahead")),
        p_passed=finite_or_none(ahead.get("p_passed")), in_pit=bool(car["in_pit"]),
        running=bool(car["running"]), stops=car["stops"], pace_fallback=number not in answered)


__all__ = ["SNAPSHOT_MODELS", "STOPPED_BEST_LAPS", "TIRE_HORIZON_LAPS", "TIRE_MAX_SEEN_LAPS",
           "ModelLookup", "caution_lap_time", "snapshot_at"]
