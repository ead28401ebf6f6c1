"""Service description, health, readiness, model listing, metrics and the OpenAPI document."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from cognirace.api.store import ModelStore

MODELS = ("laptime", "tire", "fuel", "pitloss", "fcy", "driver", "traffic", "anomaly")


def test_root_health_and_ready(make_client: Any) -> None:
    client = make_client()
    root = client.get("/").json()
    assert root["name"] == "cognirace" and root["links"]["docs"] == "/docs"
    assert tuple(root["models"]) == MODELS
    assert client.get("/health").json() == {"status": "alive"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
    assert set(ready.json()["models"]) == set(MODELS)


def test_ready_is_503_with_reasons_when_a_model_is_missing(make_client: Any,
                                                           registry_copy: Path,
                                                           problem: Any) -> None:
    (registry_copy / "fcy" / "aliases" / "production.json").unlink()
    client = make_client(registry_url=str(registry_copy),
                         store=ModelStore.open(str(registry_copy), None))
    body = problem(client.get("/ready"), 503)
    assert body["models"]["fcy"]["version"] is None
    assert any("fcy" in reason for reason in body["reasons"])
    assert body["models"]["laptime"]["version"] == "v1"
    problem(client.post("/v1/predict/fcy", json={}), 503)  # known but not loaded
    listing = client.get("/v1/models").json()
    assert listing["missing"] == ["fcy"]
    assert client.get("/v2/health/ready").status_code == 503
    assert client.get("/vertex/health").status_code == 503


def test_ready_is_503_when_the_registry_is_gone(make_client: Any, registry_copy: Path,
                                                problem: Any) -> None:
    store = ModelStore.open(str(registry_copy), None)
    client = make_client(registry_url=str(registry_copy), store=store)
    assert client.get("/ready").status_code == 200
    shutil.rmtree(registry_copy)
    store.probe_ttl_s = 0.0
    body = problem(client.get("/ready"), 503)
    assert any("registry" in reason for reason in body["reasons"])


def test_models_list_versions_metrics_and_schemas_with_units(make_client: Any) -> None:
    client = make_client()
    models = client.get("/v1/models").json()["models"]
    assert [m["name"] for m in models] == list(MODELS)
    laptime = client.get("/v1/models/laptime").json()
    assert laptime["version"] == "v1"
    assert "races.mae_s" in laptime["metrics"]
    inputs = {c["name"]: c for c in laptime["inputs"]}
    assert inputs["lap_time_s"]["unit"] == "s"
    assert (inputs["lap_time_s"]["low"], inputs["lap_time_s"]["high"]) == (30.0, 600.0)
    assert [c["name"] for c in laptime["outputs"]] == [
        "lap_time_p10_s", "lap_time_p50_s", "lap_time_p90_s"]


def test_metrics_count_requests_by_route_model_and_status(make_client: Any,
                                                          trained: Any) -> None:
    client = make_client()
    client.post("/v1/predict/fuel", json=trained.instances("fuel")[0])
    client.post("/v1/predict/fuel", json={})
    text = client.get("/metrics").text
    assert ('cognirace_http_request_duration_seconds_count{method="POST",model="fuel",'
            'route="/v1/predict/fuel"}') in text
    assert 'route="/v1/predict/fuel",status="422"' in text
    assert 'cognirace_model_info{model="fuel",version="v1"} 1.0' in text


def test_openapi_has_a_typed_operation_and_example_per_model(make_client: Any) -> None:
    doc = make_client().get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    for name in MODELS:
        operation = doc["paths"][f"/v1/predict/{name}"]["post"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        instance = schemas[ref.rsplit("/", 1)[1]]
        assert instance["examples"], name
        assert "/v1/predict/{model}" not in doc["paths"]  # the catch-all is hidden
        assert f"/v1/predict/{name}/batch" in doc["paths"]
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert answer["$ref"].endswith(f"{name.capitalize()}Response")
    lap_time = schemas["LaptimeInstance"]["properties"]["lap_time_s"]
    number = lap_time["anyOf"][0] if "anyOf" in lap_time else lap_time  # required: no null
    assert (number["minimum"], number["maximum"]) == (30.0, 600.0)
    assert "Unit: s" in lap_time["description"]
    assert doc["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"


@pytest.mark.parametrize("name", MODELS)
def test_openapi_examples_are_accepted(make_client: Any, name: str) -> None:
    client = make_client()
    doc = client.get("/openapi.json").json()
    example = doc["components"]["schemas"][f"{name.capitalize()}Instance"]["examples"][0]
    response = client.post(f"/v1/predict/{name}", json=example)
    assert response.status_code == 200, response.text
