"""Pit strategy over HTTP: a race snapshot in, every candidate of one car with its odds out.

- ``POST /v1/strategy`` takes a ``RaceSnapshot`` (the race at one moment, every number
  with its unit in its name) and the car asked about; it answers with each candidate
  (stay out, pit now, pit at the next caution, pit on lap k) run on the same
  simulations, the advice and one sentence why.
- ``GET /v1/races/{race_id}/cars/{car}/strategy`` asks the same of a live race, from the
  engine's state, and adds the answer to "pit if a caution starts now?" and, for a car
  the entry list watches, the advice in force (the engine's, made every leader lap; it
  changes only with hysteresis, ``strategy.advisor``).
- ``POST /v1/strategy/start-fuel``: before the race, the least fuel that finishes with
  P(running dry) at most 1 %, given the driver's burn and the track's caution odds, and
  the lap time the lighter car gains.

The simulations run off the event loop. Both routes take a rate-limit token as a
prediction does; an answer costs tens of milliseconds per thousand simulations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cognirace.api.problems import ProblemError
from cognirace.api.routes_races import _race, _store, hub_of
from cognirace.api.schemas import car_number_field
from cognirace.api.service import get_service, validate
from cognirace.errors import DataError, StrategyError
from cognirace.features.field import RACE_DURATION_S
from cognirace.realtime.strategy_inputs import snapshot_from_engine
from cognirace.strategy.advice import DEFAULT_SIMS, advise, caution_call
from cognirace.strategy.fuel_load import start_fuel
from cognirace.strategy.snapshot import CarSnapshot, RaceSnapshot

router = APIRouter(tags=["strategy"])

MAX_SIMS = 20_000
"""Most simulations one request may ask for (about a second of work)."""

_NUMBER_TYPE, _NUMBER_FIELD = car_number_field("Race number as text (`021` and `21` are "
                                               "two cars).")


class CarModel(BaseModel):
    """One car of a snapshot (see ``strategy.snapshot.CarSnapshot``)."""

    model_config = ConfigDict(extra="forbid")
    car_number: _NUMBER_TYPE = _NUMBER_FIELD  # type: ignore[valid-type]
    position: int = Field(ge=1, le=200, description="Position at its last crossing.")
    laps: int = Field(ge=0, le=1000, description="Laps completed.")
    race_time_s: float = Field(ge=0, description="Its last crossing since the green flag, s.")
    lap_time_p10_s: float = Field(gt=0, description="P10 of its next green lap, s "
                                  "(the laptime model).")
    lap_time_p50_s: float = Field(gt=0, description="P50 of its next green lap, s.")
    lap_time_p90_s: float = Field(gt=0, description="P90 of its next green lap, s.")
    tire_age_laps: int = Field(ge=0, le=1000, description="Laps on the current set.")
    deg_s_per_lap: float | None = Field(None, description="Wear: s lost per lap of tire "
                                        "age (the tire model); null when unknown.")
    fuel_left_l: float | None = Field(None, ge=0, description="Fuel left, l; null when "
                                      "the start fill is unknown.")
    fuel_burn_l_per_lap: float | None = Field(None, ge=0, description="Burn of a green "
                                              "lap, l (the fuel model).")
    p_pass_ahead: float | None = Field(None, ge=0, le=1, description="Chance to pass the "
                                       "car ahead next lap (the traffic model).")
    p_passed: float | None = Field(None, ge=0, le=1, description="Chance to be passed by "
                                   "the car behind next lap.")
    in_pit: bool = Field(False, description="In the pit lane now.")
    running: bool = Field(True, description="Still in the race.")
    stops: int = Field(0, ge=0, description="Stops made so far.")
    pace_fallback: bool = Field(False, description="The lap-time quantiles are the field's "
                                "pace, not the laptime model's (a car without a green lap "
                                "yet); what reads them says so.")


class SnapshotModel(BaseModel):
    """The race at one moment (see ``strategy.snapshot.RaceSnapshot``)."""

    model_config = ConfigDict(extra="forbid")
    race_id: str = Field(max_length=80)
    track: str = Field(max_length=40, description="Track key, e.g. `barber`.")
    lap: int = Field(ge=0, description="The leader's laps completed.")
    time_left_s: float = Field(description="Time left on the race clock, s (the race "
                               "ends when the leader crosses after it runs out).")
    caution: bool = Field(description="A full-course yellow is out now.")
    caution_hazard: list[float] = Field(min_length=1, max_length=200, description=(
        "Chance that a caution starts on each of the leader's next laps (the fcy "
        "model); the last value holds for the laps beyond."))
    pit_loss_green_s: float = Field(ge=0, description="Loss of a planned tire change (not "
                                    "a repair) under green, s.")
    pit_loss_caution_s: float = Field(ge=0, description="Loss of a planned tire change "
                                      "under a caution, s.")
    caution_lap_s: float | None = Field(None, gt=0, description="A lap behind the safety "
                                        "car, s; null: the track's typical ratio is used.")
    cars: list[CarModel] = Field(min_length=1, max_length=200)
    notes: list[str] = Field(default_factory=list, max_length=50)


class StrategyRequest(BaseModel):
    """What ``POST /v1/strategy`` takes."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "car_number": "13", "n_sims": 1000, "seed": 7, "snapshot": {
            "race_id": "barber-R1", "track": "barber", "lap": 12, "time_left_s": 1260.0,
            "caution": False, "caution_hazard": [0.03, 0.03, 0.04],
            "pit_loss_green_s": 34.0, "pit_loss_caution_s": 16.0, "cars": [
                {"car_number": "13", "position": 1, "laps": 12, "race_time_s": 1140.2,
                 "lap_time_p10_s": 93.6, "lap_time_p50_s": 94.1, "lap_time_p90_s": 95.3,
                 "tire_age_laps": 12, "deg_s_per_lap": 0.05},
                {"car_number": "72", "position": 2, "laps": 12, "race_time_s": 1141.0,
                 "lap_time_p10_s": 93.7, "lap_time_p50_s": 94.2, "lap_time_p90_s": 95.5,
                 "tire_age_laps": 12, "deg_s_per_lap": 0.06}]}}]})
    snapshot: SnapshotModel
    car_number: _NUMBER_TYPE = _NUMBER_FIELD  # type: ignore[valid-type]
    n_sims: int = Field(DEFAULT_SIMS, ge=100, le=MAX_SIMS, description="Simulations.")
    seed: int = Field(0, ge=0, description="Seed of the simulations (same seed, same answer).")


class StartFuelRequest(BaseModel):
    """What ``POST /v1/strategy/start-fuel`` takes: the race, the driver's burn (the
    ``fuel`` model's answer for the car's green laps) and the track's caution odds (the
    ``fcy`` model's)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "race_duration_s": 2700.0, "lap_time_s": 98.5, "burn_l_per_lap": 2.55,
        "burn_sd_l_per_lap": 0.08, "caution_hazard": [0.05, 0.03, 0.03],
        "reserve_l": 2.0}]})
    race_duration_s: float = Field(RACE_DURATION_S, gt=0, le=6 * 3600,
                                   description="The race clock, s (45 min).")
    lap_time_s: float = Field(gt=1, le=1000, description="The car's green lap, s.")
    burn_l_per_lap: float = Field(gt=0, le=20, description="Mean burn of a green lap, l.")
    burn_sd_l_per_lap: float = Field(ge=0, le=5, description="Its lap-to-lap standard "
                                     "deviation, l.")
    caution_hazard: list[float] = Field(min_length=1, max_length=200, description=(
        "Chance a caution starts on each lap from the start; the last value holds for "
        "the laps beyond."))
    caution_lap_s: float | None = Field(None, gt=0, description="A lap under caution, s.")
    reserve_l: float = Field(0.0, ge=0, le=50, description="Fuel kept aside (formation "
                             "lap, in-lap, the scrutineers' sample), l.")
    p_dry_max: float = Field(0.01, gt=0, lt=0.5, description="Risk of running dry accepted.")
    seed: int = Field(0, ge=0)


def _snapshot(body: SnapshotModel) -> RaceSnapshot:
    data = body.model_dump()
    cars = tuple(CarSnapshot(**car) for car in data.pop("cars"))
    try:
        return RaceSnapshot(**{**data, "caution_hazard": tuple(data["caution_hazard"]),
                               "notes": tuple(data["notes"])}, cars=cars)
    except DataError as exc:
        raise _unanswerable(exc, 422) from None


def _unanswerable(exc: DataError | StrategyError, status: int) -> ProblemError:
    field = getattr(exc, "column", None) or "snapshot"
    return ProblemError(status, str(exc.args[0]), kind="invalid-input",
                        errors=[{"field": field, "reason": str(exc.args[0])}])


def _json(body: Any) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _advise(snap: RaceSnapshot, car: str, n_sims: int, seed: int) -> dict[str, Any]:
    try:
        return advise(snap, car, np.random.default_rng(seed), n_sims=n_sims).to_json()
    except (DataError, StrategyError) as exc:
        raise _unanswerable(exc, 422) from None


@router.post("/v1/strategy", summary="Pit strategy for one car of a race snapshot")
async def strategy(request: Request) -> Response:
    """Every candidate of the car with its odds, the advice and why."""
    await get_service(request).admit(request)
    body = validate(StrategyRequest, await request.body())
    snap = _snapshot(body.snapshot)
    return _json(await run_in_threadpool(_advise, snap, body.car_number, body.n_sims,
                                         body.seed))


@router.post("/v1/strategy/start-fuel", summary="The least fuel to start a race with")
async def start_fuel_route(request: Request) -> Response:
    """The least start fill that runs dry in at most ``p_dry_max`` of simulated races,
    and the lap time the lighter car gains over a full cell."""
    await get_service(request).admit(request)
    body = validate(StartFuelRequest, await request.body())

    def run() -> dict[str, Any]:
        try:
            load = start_fuel(
                race_duration_s=body.race_duration_s, lap_time_s=body.lap_time_s,
                burn_l_per_lap=body.burn_l_per_lap, burn_sd_l_per_lap=body.burn_sd_l_per_lap,
                caution_hazard=body.caution_hazard, caution_lap_s=body.caution_lap_s,
                reserve_l=body.reserve_l, p_dry_max=body.p_dry_max,
                rng=np.random.default_rng(body.seed))
        except StrategyError as exc:
            raise _unanswerable(exc, 422) from None
        return {"fuel_l": load.fuel_l, "p_dry": load.p_dry, "p_dry_max": load.p_dry_max,
                "fits": load.fits, "full_tank_l": load.full_tank_l,
                "lap_time_gain_s": load.lap_time_gain_s,
                "race_time_gain_s": load.race_time_gain_s, "laps_p50": load.laps_p50,
                "p_dry_one_litre_less": load.p_dry_at(load.fuel_l - 1.0)}

    return _json(await run_in_threadpool(run))


@router.get("/v1/races/{race_id}/cars/{car_number}/strategy",
            summary="Pit strategy for one car of a live race")
async def live_strategy(request: Request, race_id: str, car_number: str,
                        n_sims: int = DEFAULT_SIMS, seed: int = 0) -> Response:
    """The advice for the car now, the answer to "pit if a caution starts now?", and the
    advice in force (it changes only with hysteresis)."""
    await get_service(request).admit(request)
    if not 100 <= n_sims <= MAX_SIMS:
        raise ProblemError(422, f"n_sims must be within 100..{MAX_SIMS}",
                           kind="invalid-input", errors=[{"field": "n_sims",
                                                          "reason": "out of range"}])
    race = await _race(hub_of(request), race_id)
    try:
        snap = await _store(race.read, snapshot_from_engine)
    except (DataError, StrategyError) as exc:
        raise ProblemError(409, f"race {race_id!r} cannot be simulated yet: {exc.args[0]}",
                           kind="not-ready") from None

    def run() -> dict[str, Any]:
        try:
            answer = advise(snap, car_number, np.random.default_rng(seed), n_sims=n_sims)
            call = caution_call(snap, car_number, np.random.default_rng(seed + 1),
                                n_sims=n_sims)
        except (DataError, StrategyError) as exc:
            raise ProblemError(404 if "no car" in str(exc.args[0]) else 422,
                               str(exc.args[0]), kind="invalid-input") from None
        held = race.read(lambda engine: engine.advisor.advice(car_number))
        return {**answer.to_json(),
                "advice": None if held is None else {"label": held.label, "why": held.why,
                                                     "lap": held.summary.candidate.lap},
                "if_caution_now": {"pit": call.pit, "why": call.answer.why}}

    return _json(await run_in_threadpool(run))


__all__ = ["StrategyRequest", "router"]
