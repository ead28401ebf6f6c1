"""Car numbers are JSON strings on every route: ``"021"`` and ``"21"`` are two cars.

The app serves one traffic model fitted here on frames built in code, so these tests
need neither the simulator nor the ingest. A number where a car number belongs is a 422
that says car numbers are text: 21 cannot say whether it meant car 021 or car 21.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cognirace.api.app import create_app
from cognirace.api.settings import ServeSettings
from cognirace.api.store import ModelStore, served_from
from cognirace.models.traffic import GapPaceLogisticBaseline
from cognirace.registry import Registry
from models.test_traffic import traffic_frame

with warnings.catch_warnings():  # Starlette's notice about its httpx-based client
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

CAR = {"position": 1, "gap_ahead_s": None, "gap_leader_s": 0.0, "pace_median3_s": 100.0,
       "field_median_green_s": 100.2, "tire_age_laps": 5}
"""One car's inputs apart from its number (a leader, by default)."""


def _car(number: Any, position: int, gap_s: float | None) -> dict[str, Any]:
    return {**CAR, "car_number": number, "position": position, "gap_ahead_s": gap_s,
            "gap_leader_s": 0.0 if gap_s is None else 0.8 * (position - 1)}


def _field(numbers: tuple[Any, ...] = ("021", "21")) -> dict[str, Any]:
    cars = [_car(n, p, None if p == 1 else 0.8) for p, n in enumerate(numbers, start=1)]
    return {"race_id": "indianapolis-R1", "lap": 7, "track": "indianapolis", "cars": cars}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    model = GapPaceLogisticBaseline().fit(traffic_frame(np.random.default_rng(0)))
    store = ModelStore(Registry(tmp_path / "registry"), names=("traffic",))
    for served in served_from({"traffic": (model, "v1")}):
        store.put(served)
    settings = ServeSettings(registry_url=str(tmp_path / "registry"),
                             keys_file=tmp_path / "no-keys.json",
                             model_cache_dir=tmp_path / "model-cache")
    with TestClient(create_app(settings, store=store), raise_server_exceptions=False) as c:
        yield c


def test_021_and_21_are_two_cars_in_one_field(client: TestClient) -> None:
    response = client.post("/v1/predict/traffic", json=_field())
    assert response.status_code == 200, response.text
    cars = response.json()["prediction"]["cars"]
    assert [c["car_number"] for c in cars] == ["021", "21"]
    assert cars[0]["p_pass_ahead"] != cars[1]["p_pass_ahead"]  # leader vs car 0.8 s behind


def test_the_numbers_come_back_exactly_as_sent(client: TestClient) -> None:
    numbers = ("3", "03", "3#2", "021")
    response = client.post("/v1/predict/traffic/batch",
                           json={"instances": [_field(numbers), _field(("21", "021"))]})
    assert response.status_code == 200, response.text
    fields = response.json()["predictions"]
    assert [c["car_number"] for c in fields[0]["cars"]] == list(numbers)
    assert [c["car_number"] for c in fields[1]["cars"]] == ["21", "021"]


@pytest.mark.parametrize("number", [21, 21.0, None, True])
def test_a_car_number_that_is_not_text_is_422_saying_so(
        client: TestClient, number: Any, problem: Any) -> None:
    body = problem(client.post("/v1/predict/traffic", json=_field((number, "21"))), 422)
    assert body["errors"][0]["field"] == "cars[0].car_number"
    assert body["errors"][0]["reason"].startswith('must be text such as "021"')
    assert '"021" and "21" are two cars' in body["detail"]


@pytest.mark.parametrize("number", ["", " 21", "2 1", "x" * 17])
def test_a_car_number_must_look_like_one(client: TestClient, number: str,
                                         problem: Any) -> None:
    body = problem(client.post("/v1/predict/traffic", json=_field((number, "21"))), 422)
    assert body["errors"][0]["field"] == "cars[0].car_number"
    assert "without spaces" in body["errors"][0]["reason"]


def test_vertex_refuses_numbers_too(client: TestClient, problem: Any) -> None:
    request = {"instances": [_field((21, "021"))], "parameters": {"model": "traffic"}}
    body = problem(client.post("/vertex/predict", json=request), 422)
    assert "car numbers are text" in body["detail"]


def _tensors(numbers: list[Any]) -> dict[str, Any]:
    cars = [_car(n, p, None if p == 1 else 0.8) for p, n in enumerate(numbers, start=1)]
    columns = {"race_id": ["r"] * len(cars), "lap": [7] * len(cars),
               "track": ["indianapolis"] * len(cars)}
    for name in CAR.keys() | {"car_number"}:
        columns[name] = [c[name] for c in cars]
    return {"inputs": [{"name": k, "datatype": "BYTES", "shape": [len(v)], "data": v}
                       for k, v in columns.items()]}


def test_oip_takes_text_numbers_and_refuses_numbers(client: TestClient, oip_error: Any
                                                    ) -> None:
    ok = client.post("/v2/models/traffic/infer", json=_tensors(["021", "21"]))
    assert ok.status_code == 200, ok.text
    meta = client.get("/v2/models/traffic").json()
    assert {t["name"]: t["datatype"] for t in meta["inputs"]}["car_number"] == "BYTES"
    message = oip_error(client.post("/v2/models/traffic/infer",
                                    json=_tensors([21, "021"])), 422)
    assert message.startswith("field 'inputs.car_number' ")
    assert '"021" and "21" are two cars' in message


def test_openapi_says_car_numbers_are_strings(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("TrafficCar", "TrafficCarPrediction"):
        field = schemas[name]["properties"]["car_number"]
        assert field["type"] == "string" and field["examples"] == ["021"], name
    example = schemas["TrafficInstance"]["examples"][0]
    assert [c["car_number"] for c in example["cars"]] == ["021", "21", "3"]
