"""The live routes: declare, stream frames over HTTP and WebSocket, read the tower."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import orjson
import polars as pl
import pytest

from cognirace.api.app import create_app
from cognirace.api.settings import ServeSettings
from cognirace.api.store import ModelStore
from cognirace.lake import Lake
from cognirace.realtime import race_frames, race_info

with warnings.catch_warnings():  # Starlette's notice about its httpx-based client
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

TINY_RACE_S = 1800.0


@pytest.fixture
def client(tmp_path: Any) -> Iterator[TestClient]:
    settings = ServeSettings(registry_url=str(tmp_path / "registry"),
                             model_cache_dir=tmp_path / "cache", max_body_bytes=400_000)
    store = ModelStore.open(settings.registry_url, settings.model_cache_dir)
    with TestClient(create_app(settings, store=store)) as test_client:
        yield test_client


def _declaration(lake: Lake, race: str) -> dict[str, Any]:
    info = race_info(lake, race, duration_s=TINY_RACE_S)
    return {"track": info.track, "session": info.session, "duration_s": info.duration_s,
            "start": info.start.isoformat() if info.start else None,
            "entries": [{"car_number": e.car_number, "vehicle_id": e.vehicle_id}
                        for e in info.entries]}


def test_a_race_streamed_over_http_ends_with_the_official_order(
        client: TestClient, lake: Lake, telemetry_race: str) -> None:
    declared = client.put(f"/v1/races/{telemetry_race}", json=_declaration(lake, telemetry_race))
    assert declared.status_code == 201, declared.text
    again = client.put(f"/v1/races/{telemetry_race}", json=_declaration(lake, telemetry_race))
    assert again.status_code == 200
    for body in race_frames(lake, telemetry_race, frame_s=20.0, telemetry=False):
        answer = client.post(f"/v1/races/{telemetry_race}/frames", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["ack"] == body["seq"]
    state = client.get(f"/v1/races/{telemetry_race}/state").json()
    results = lake.results.filter((pl.col("race_id") == telemetry_race) & (pl.col("laps") > 0))
    tower = {c["car_number"]: (c["position"], c["laps"]) for c in state["cars"]}
    assert all(tower[r["car_number"]] == (r["position"], r["laps"])
               for r in results.iter_rows(named=True))
    first = results.sort("position")["car_number"][0]
    car = client.get(f"/v1/races/{telemetry_race}/cars/{first}").json()
    assert car["position"] == 1 and "predictions" in car
    listed = client.get("/v1/races").json()["races"]
    assert [r["race_id"] for r in listed] == [telemetry_race]
    events = client.get(f"/v1/races/{telemetry_race}/events", params={"follow": "false"})
    assert events.headers["content-type"].startswith("text/event-stream")
    ids = [int(line[4:]) for line in events.text.splitlines() if line.startswith("id: ")]
    assert ids == list(range(1, len(ids) + 1)) and ids
    resumed = client.get(f"/v1/races/{telemetry_race}/events", params={"follow": "false"},
                         headers={"Last-Event-ID": str(ids[-2])})
    assert [int(line[4:]) for line in resumed.text.splitlines()
            if line.startswith("id: ")] == [ids[-1]]


def test_unknown_races_and_bad_frames_are_problems(client: TestClient, lake: Lake,
                                                   telemetry_race: str) -> None:
    missing = client.get("/v1/races/nope/state")
    assert missing.status_code == 404 and missing.json()["type"].endswith("unknown-race")
    client.put(f"/v1/races/{telemetry_race}", json=_declaration(lake, telemetry_race))
    bad = client.post(f"/v1/races/{telemetry_race}/frames",
                      json={"seq": 1, "laps": [{"car_number": 7, "lap": 1,
                                                "lap_end": "2025-01-01T00:00:00Z"}]})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "laps[0].car_number"
    other = dict(_declaration(lake, telemetry_race), track="nowhere")
    assert client.put(f"/v1/races/{telemetry_race}", json=other).status_code == 409


def test_the_websocket_acknowledges_survives_a_bad_frame_and_refuses_a_huge_one(
        client: TestClient, lake: Lake, telemetry_race: str) -> None:
    client.put(f"/v1/races/{telemetry_race}", json=_declaration(lake, telemetry_race))
    frames = list(race_frames(lake, telemetry_race, frame_s=60.0, telemetry=False))
    with client.websocket_connect(f"/v1/races/{telemetry_race}/stream") as ws:
        ws.send_text(orjson.dumps(frames[0]).decode())
        assert orjson.loads(ws.receive_bytes())["ack"] == 0
        ws.send_text('{"seq": 1, "flags": [{"time": 0, "flag": "PURPLE"}]}')
        problem = orjson.loads(ws.receive_bytes())
        assert problem["status"] == 422 and problem["errors"][0]["field"] == "flags[0].flag"
        ws.send_text(orjson.dumps(frames[1]).decode())  # the connection is still open
        assert orjson.loads(ws.receive_bytes())["ack"] == 1
        ws.send_text(orjson.dumps(frames[1]).decode())  # resent after a reconnect
        assert orjson.loads(ws.receive_bytes())["duplicate"] is True
        ws.send_text(" " * 500_000)
        with pytest.raises(Exception) as closed:
            ws.receive_bytes()
        assert getattr(closed.value, "code", None) == 1009
