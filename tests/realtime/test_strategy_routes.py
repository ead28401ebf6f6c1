"""The strategy routes: a snapshot over HTTP, and a live race's car."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest

from cognirace.api.app import create_app
from cognirace.api.settings import ServeSettings
from cognirace.api.store import ModelStore
from cognirace.lake import Lake
from cognirace.models.base import Model
from cognirace.realtime import race_frames, race_info
from cognirace.realtime.hub import RaceHub

with warnings.catch_warnings():  # Starlette's notice about its httpx-based client
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

RACE_S = 1800.0
NAMES = ("laptime", "tire", "fuel", "pitloss", "fcy", "traffic")


def _car(number: str, position: int, pace: float) -> dict[str, Any]:
    return {"car_number": number, "position": position, "laps": 10,
            "race_time_s": 1000.0 + 1.5 * position, "lap_time_p10_s": pace - 0.6,
            "lap_time_p50_s": pace, "lap_time_p90_s": pace + 1.2, "tire_age_laps": 10,
            "deg_s_per_lap": 0.05, "p_pass_ahead": 0.1, "p_passed": 0.1}


def _request(**changes: Any) -> dict[str, Any]:
    snapshot = {"race_id": "r", "track": "barber", "lap": 10, "time_left_s": 1500.0,
                "caution": False, "caution_hazard": [0.03], "pit_loss_green_s": 34.0,
                "pit_loss_caution_s": 16.0,
                "cars": [_car(n, i + 1, 95.0 + 0.2 * i) for i, n in
                         enumerate(["13", "72", "021", "21", "5"])]}
    return {"snapshot": snapshot, "car_number": "021", "n_sims": 300, "seed": 3, **changes}


@pytest.fixture
def client(tmp_path: Any) -> Iterator[TestClient]:
    settings = ServeSettings(registry_url=str(tmp_path / "registry"),
                             model_cache_dir=tmp_path / "cache")
    store = ModelStore.open(settings.registry_url, settings.model_cache_dir)
    with TestClient(create_app(settings, store=store)) as test_client:
        yield test_client


def test_a_snapshot_gets_every_candidate_and_the_advice(client: TestClient) -> None:
    answer = client.post("/v1/strategy", json=_request())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    labels = [c["label"] for c in body["candidates"]]
    assert body["candidates"][0]["kind"] == "stay_out" and len(labels) > 3
    assert body["recommended"] in labels and body["why"]
    assert body["car_number"] == "021" and body["position"] == 3 and body["n_sims"] == 300
    assert client.post("/v1/strategy", json=_request()).json() == body  # same seed


def test_a_snapshot_as_the_library_writes_it_is_accepted(client: TestClient) -> None:
    # what snapshot_at(...).to_json() sends, every field of it, a fallback pace included
    from cognirace.strategy.snapshot import RaceSnapshot

    request = _request()
    request["snapshot"]["cars"][1]["pace_fallback"] = True
    written = RaceSnapshot.from_json(request["snapshot"]).to_json()
    assert written["cars"][1]["pace_fallback"] is True
    answer = client.post("/v1/strategy", json={**request, "snapshot": written})
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(("change", "field"), [
    ({"car_number": "99"}, "car"),
    ({"n_sims": 10}, "n_sims"),
])
def test_a_question_that_cannot_be_answered_is_a_problem_naming_why(
        client: TestClient, change: dict[str, Any], field: str) -> None:
    answer = client.post("/v1/strategy", json=_request(**change))
    assert answer.status_code == 422
    assert field in answer.text


def test_a_snapshot_out_of_order_is_refused_naming_the_field(client: TestClient) -> None:
    request = _request()
    request["snapshot"]["cars"][1]["lap_time_p10_s"] = 200.0  # above its P50
    answer = client.post("/v1/strategy", json=request)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "cars[1].lap_time_p50_s"


def test_the_start_fuel_finishes_at_the_risk_asked(client: TestClient) -> None:
    request = {"lap_time_s": 98.5, "burn_l_per_lap": 2.55, "burn_sd_l_per_lap": 0.08,
               "caution_hazard": [0.04], "reserve_l": 2.0}
    answer = client.post("/v1/strategy/start-fuel", json=request)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["p_dry"] <= 0.01 < body["p_dry_one_litre_less"]
    laps_floor = 2700.0 / 98.5  # laps under green alone, at the very least
    assert body["fuel_l"] > laps_floor * 2.55 * 0.9 and body["lap_time_gain_s"] > 0
    thirsty = client.post("/v1/strategy/start-fuel",
                          json={**request, "burn_l_per_lap": 2.9}).json()
    assert thirsty["fuel_l"] > body["fuel_l"]
    bad = client.post("/v1/strategy/start-fuel", json={**request, "caution_hazard": []})
    assert bad.status_code == 422 and "caution_hazard" in bad.text


@pytest.fixture(scope="module")
def models(lake: Lake) -> dict[str, Model]:
    from cognirace.training import all_tasks, task_examples

    tasks = [all_tasks()[name] for name in NAMES]
    examples = task_examples(lake, tasks)
    return {task.name: task.model().fit(examples[task.name]) for task in tasks}


def _stream(client: TestClient, lake: Lake, race: str, laps: int,
            watch: frozenset[str] = frozenset()) -> None:
    info = race_info(lake, race, duration_s=RACE_S)
    declared = client.put(f"/v1/races/{race}", json={
        "track": info.track, "session": info.session, "duration_s": info.duration_s,
        "entries": [{"car_number": e.car_number, "vehicle_id": e.vehicle_id,
                     "watch": e.car_number in watch} for e in info.entries]})
    assert declared.status_code == 201, declared.text
    end = lake.laps.filter((pl.col("race_id") == race) & (pl.col("lap") == laps))["lap_end"]
    for body in race_frames(lake, race, frame_s=30.0, telemetry=False):
        if body.get("laps") and min(lap["lap_end"] for lap in body["laps"]) > \
                end.min().isoformat():
            break
        assert client.post(f"/v1/races/{race}/frames", json=body).status_code == 200


def _third(lake: Lake, race: str, lap: int) -> str:
    """The car third across the line at the end of ``lap``."""
    crossed = lake.laps.filter((pl.col("race_id") == race) & (pl.col("lap") == lap)
                               & pl.col("car_number").is_not_null()).sort("lap_end")
    return str(crossed["car_number"][2])


def test_a_live_car_gets_its_advice_and_the_caution_call(
        client: TestClient, lake: Lake, telemetry_race: str, models: dict[str, Model]) -> None:
    client.app.state.races = RaceHub(models=models.get)  # type: ignore[attr-defined]
    watched = _third(lake, telemetry_race, 8)
    _stream(client, lake, telemetry_race, laps=8, watch=frozenset({watched}))
    tower = client.get(f"/v1/races/{telemetry_race}/state").json()
    other = next(c["car_number"] for c in tower["cars"] if c["car_number"] != watched)
    url = f"/v1/races/{telemetry_race}/cars/{watched}/strategy"
    answer = client.get(url, params={"n_sims": 300})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["car_number"] == watched and body["candidates"][0]["kind"] == "stay_out"
    assert isinstance(body["if_caution_now"]["pit"], bool) and body["if_caution_now"]["why"]
    # the engine's advice, made on every leader lap for the watched car, is on the car
    assert body["advice"] is not None and body["advice"]["why"]
    car = client.get(f"/v1/races/{telemetry_race}/cars/{watched}").json()
    assert car["predictions"]["strategy"]["advice"]["label"] == body["advice"]["label"]
    ready = car["predictions"]["strategy"]["if_caution_now"]  # made on the leader's lap
    assert isinstance(ready["pit"], bool) and ready["why"]
    unwatched = client.get(f"/v1/races/{telemetry_race}/cars/{other}/strategy",
                           params={"n_sims": 300}).json()
    assert unwatched["advice"] is None and "strategy" not in \
        client.get(f"/v1/races/{telemetry_race}/cars/{other}").json()["predictions"]
    assert client.get(f"/v1/races/{telemetry_race}/cars/nope/strategy").status_code == 404


def test_a_live_race_without_models_is_not_ready(
        client: TestClient, lake: Lake, telemetry_race: str) -> None:
    _stream(client, lake, telemetry_race, laps=5)
    answer = client.get(f"/v1/races/{telemetry_race}/cars/1/strategy")
    assert answer.status_code == 409
    assert "laptime" in answer.json()["detail"]


def test_watched_cars_get_the_same_advice_on_every_replay(
        lake: Lake, telemetry_race: str, models: dict[str, Model]) -> None:
    """Advice is made on a side thread, seeded by race, car and lap: two replays (two
    replicas) give the same answers and the same events, in the same order."""
    from dataclasses import replace

    from cognirace.realtime import RaceEngine, parse_frame
    from cognirace.realtime.alerts import STRATEGY_P_GAIN
    from cognirace.realtime.events import STRATEGY

    info = race_info(lake, telemetry_race, duration_s=RACE_S)
    watched = {_third(lake, telemetry_race, 3), _third(lake, telemetry_race, 6)}
    info = replace(info, entries=tuple(replace(e, watch=e.car_number in watched)
                                       for e in info.entries))
    runs = []
    for _ in range(2):
        engine = RaceEngine(info, models.get)
        for body in race_frames(lake, telemetry_race, frame_s=30.0, telemetry=False):
            engine.apply(parse_frame(body))
        engine.settle()
        runs.append(engine)
    first, second = runs
    assert [e.to_json() for e in first.log.events] == [e.to_json() for e in second.log.events]
    advised = {n: c.predictions.get("strategy") for n, c in first.tower.cars.items()}
    assert {n for n, a in advised.items() if a is not None} == watched
    assert advised == {n: c.predictions.get("strategy") for n, c in second.tower.cars.items()}
    for event in (e for e in first.log.events if e.type == STRATEGY):
        assert event.car_number in watched and event.data["p_gain"] >= STRATEGY_P_GAIN
