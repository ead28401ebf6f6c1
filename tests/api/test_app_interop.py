"""Open Inference Protocol v2 and the Vertex AI contract give the v1 routes' answers."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cognirace.api.settings import ServeSettings

MODELS = ("laptime", "tire", "fuel", "pitloss", "fcy", "driver", "traffic", "anomaly")


def tensors(trained: Any, name: str, n: int, client: Any) -> list[dict[str, Any]]:
    """The model's inputs as OIP tensors built from ``n`` real rows."""
    meta = client.get(f"/v2/models/{name}").json()
    rows = orjson.loads(orjson.dumps(trained.rows[name].head(n).to_dicts()))
    return [{"name": t["name"], "datatype": t["datatype"], "shape": [n],
             "data": [row[t["name"]] for row in rows]} for t in meta["inputs"]]


def test_oip_health_and_server_metadata(make_client: Any) -> None:
    client = make_client()
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2").json()["name"] == "cognirace"
    assert client.get("/v2/models/fcy/ready").json()["ready"] is True


def test_oip_model_metadata(make_client: Any) -> None:
    meta = make_client().get("/v2/models/tire").json()
    assert meta["platform"] == "cognirace" and meta["versions"] == ["v1"]
    inputs = {t["name"]: t for t in meta["inputs"]}
    assert inputs["track"]["datatype"] == "BYTES"
    assert inputs["lap_times_s"] == {"name": "lap_times_s", "datatype": "FP64",
                                     "shape": [-1, -1]}
    assert {t["datatype"] for t in meta["outputs"]} == {"FP64"}
    fcy = make_client().get("/v2/models/fcy").json()
    assert {t["name"]: t["datatype"] for t in fcy["inputs"]}["lap"] == "INT32"


@pytest.mark.parametrize("name", MODELS)
def test_oip_infer_matches_v1(make_client: Any, trained: Any, name: str) -> None:
    client = make_client()
    n = 3
    response = client.post(f"/v2/models/{name}/infer",
                           json={"id": "req-1", "inputs": tensors(trained, name, n, client)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model_name"], body["model_version"], body["id"]) == (name, "v1", "req-1")
    if name == "traffic":
        return  # v1 takes field snapshots; the tensors above are rows of several fields
    v1 = client.post(f"/v1/predict/{name}/batch",
                     json={"instances": trained.instances(name, n)}).json()["predictions"]
    for tensor in body["outputs"]:
        assert tensor["shape"] == [n]
        expected = [p[tensor["name"]] for p in v1]
        if tensor["name"] == "fallbacks":  # a list of names per row: one BYTES string
            assert tensor["datatype"] == "BYTES"
            expected = [",".join(names) for names in expected]
        assert tensor["data"] == expected


@pytest.mark.parametrize(("change", "field"), [
    (lambda ts: ts.pop(0), "inputs.pace_median3_s"),
    (lambda ts: ts[1]["data"].append(90.0), "inputs"),
    (lambda ts: ts[1].update(data=[1e9] * 2), "inputs.lap_time_s"),
    (lambda ts: ts[1].update(data=["fast"] * 2), "inputs")])
def test_oip_bad_tensors_are_422(make_client: Any, trained: Any, oip_error: Any,
                                 change: Any, field: str) -> None:
    client = make_client()
    inputs = tensors(trained, "laptime", 2, client)
    change(inputs)
    message = oip_error(client.post("/v2/models/laptime/infer", json={"inputs": inputs}), 422)
    assert message.startswith(f"field {field!r} ")


def test_oip_nan_tensor_is_422(make_client: Any, trained: Any, oip_error: Any) -> None:
    client = make_client()
    inputs = tensors(trained, "laptime", 2, client)
    inputs[1]["data"] = [98.0, 12345.5]
    data = orjson.dumps({"inputs": inputs}).replace(b"12345.5", b"NaN")
    message = oip_error(client.post("/v2/models/laptime/infer", content=data,
                                    headers={"content-type": "application/json"}), 422)
    assert message.startswith("field 'inputs.lap_time_s' ")


def test_vertex_predict_defaults_and_parameters(make_client: Any, trained: Any) -> None:
    client = make_client()
    default = client.post("/vertex/predict",
                          json={"instances": trained.instances("laptime", 2)}).json()
    assert default["model"] == "laptime" and len(default["predictions"]) == 2
    fcy = client.post("/vertex/predict", json={"instances": trained.instances("fcy", 1),
                                               "parameters": {"model": "fcy"}}).json()
    assert set(fcy["predictions"][0]) == {f"p_fcy_start_{k}" for k in range(1, 7)} | {
        "fallbacks"}
    assert fcy["predictions"][0]["fallbacks"] == []  # a track it learned: no stand-in
    assert client.get("/vertex/health").json()["ready"] is True


def test_vertex_routes_and_port_from_aip_variables(make_client: Any, trained: Any,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   problem: Any) -> None:
    monkeypatch.setenv("AIP_HTTP_PORT", "8080")
    monkeypatch.setenv("AIP_PREDICT_ROUTE", "/v1/endpoints/1/deployedModels/2:predict")
    monkeypatch.setenv("AIP_HEALTH_ROUTE", "/v1/endpoints/1/deployedModels/2")
    settings = ServeSettings()
    assert settings.port == 8080
    client = make_client(aip_predict_route=settings.aip_predict_route,
                         aip_health_route=settings.aip_health_route)
    response = client.post("/v1/endpoints/1/deployedModels/2:predict",
                           json={"instances": trained.instances("pitloss", 1),
                                 "parameters": {"model": "pitloss"}})
    assert response.status_code == 200, response.text
    assert client.get("/v1/endpoints/1/deployedModels/2").json()["ready"] is True
    problem(client.post("/vertex/predict", json={"instances": [],
                                                 "parameters": {"model": "nope"}}), 404)


def test_oip_tire_lists_must_be_parallel(make_client: Any, trained: Any,
                                         oip_error: Any) -> None:
    client = make_client()
    inputs = tensors(trained, "tire", 1, client)
    fuel = next(t for t in inputs if t["name"] == "fuel_laps")
    fuel["data"][0] = fuel["data"][0][:-1]
    message = oip_error(client.post("/v2/models/tire/infer", json={"inputs": inputs}), 422)
    assert "same length" in message


def test_oip_empty_tensors_answer_empty(make_client: Any, trained: Any) -> None:
    client = make_client()
    inputs = [dict(t, data=[], shape=[0]) for t in tensors(trained, "anomaly", 1, client)]
    response = client.post("/v2/models/anomaly/infer", json={"inputs": inputs})
    assert response.status_code == 200, response.text
    assert all(t["data"] == [] for t in response.json()["outputs"])
