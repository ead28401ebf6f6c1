"""API keys (401/403), the open localhost mode, and rate limits with their headers."""

from __future__ import annotations

from typing import Any

import pytest

from cognirace.api.app import create_app
from cognirace.api.auth import hash_key
from cognirace.api.settings import ServeSettings, is_local_host
from cognirace.errors import ConfigError

LIMIT_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")


def test_missing_or_unknown_key_is_401(make_client: Any, keys: Any, trained: Any,
                                       problem: Any, oip_error: Any) -> None:
    client = make_client(keys_file=keys.file)
    instance = trained.instances("fuel")[0]
    body = problem(client.post("/v1/predict/fuel", json=instance), 401)
    assert "X-API-Key" in body["detail"]
    problem(client.post("/v1/predict/fuel", json=instance, headers={"X-API-Key": "cr_nope"}),
            401)
    problem(client.get("/v1/models"), 401)
    assert "X-API-Key" in oip_error(client.post("/v2/models/fuel/infer",
                                                json={"inputs": []}), 401)
    problem(client.post("/vertex/predict", json={"instances": []}), 401)
    ok = client.post("/v1/predict/fuel", json=instance, headers={"X-API-Key": keys.predict})
    assert ok.status_code == 200


def test_predict_key_cannot_reload_but_admin_can(make_client: Any, keys: Any,
                                                 trained: Any, problem: Any) -> None:
    client = make_client(keys_file=keys.file)
    problem(client.post("/v1/admin/reload", headers={"X-API-Key": keys.predict}), 403)
    problem(client.post("/v1/admin/reload"), 401)
    response = client.post("/v1/admin/reload", headers={"X-API-Key": keys.admin})
    assert response.status_code == 200, response.text
    admin_predicts = client.post("/v1/predict/fuel", json=trained.instances("fuel")[0],
                                 headers={"X-API-Key": keys.admin})
    assert admin_predicts.status_code == 200  # admin implies predict


def test_keys_from_the_environment(make_client: Any, trained: Any) -> None:
    key = "cr_" + "k" * 43
    client = make_client(api_keys=f"{hash_key(key)}:predict")
    instance = trained.instances("pitloss")[0]
    assert client.post("/v1/predict/pitloss", json=instance).status_code == 401
    ok = client.post("/v1/predict/pitloss", json=instance, headers={"X-API-Key": key})
    assert ok.status_code == 200


def test_health_ready_and_metrics_stay_open(make_client: Any, keys: Any) -> None:
    client = make_client(keys_file=keys.file)
    for path in ("/", "/health", "/ready", "/metrics", "/v2/health/live", "/openapi.json"):
        assert client.get(path).status_code == 200, path


def test_no_keys_on_a_public_address_refuses_to_start(trained: Any, tmp_path: Any) -> None:
    settings = ServeSettings(host="0.0.0.0", registry_url=str(trained.registry),
                             keys_file=tmp_path / "none.json")
    with pytest.raises(ConfigError, match="cognirace keys create"):
        create_app(settings)


def test_open_mode_says_so_at_start(make_client: Any, caplog: pytest.LogCaptureFixture
                                    ) -> None:
    make_client()
    assert any("no API keys configured" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("host", "local"), [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("0.0.0.0", False), ("10.0.0.5", False), ("example.com", False)])
def test_local_hosts(host: str, local: bool) -> None:
    assert is_local_host(host) is local


def test_rate_limit_429_with_retry_after_and_headers(make_client: Any, keys: Any,
                                                      trained: Any, problem: Any) -> None:
    client = make_client(keys_file=keys.file, rate_limit_per_s=0.01, rate_limit_burst=3)
    instance = trained.instances("fuel")[0]
    auth = {"X-API-Key": keys.predict}
    remaining = []
    for _ in range(3):
        response = client.post("/v1/predict/fuel", json=instance, headers=auth)
        assert response.status_code == 200
        assert all(h in response.headers for h in LIMIT_HEADERS)
        remaining.append(int(response.headers["ratelimit-remaining"]))
    assert remaining == [2, 1, 0]
    refused = client.post("/v1/predict/fuel", json=instance, headers=auth)
    body = problem(refused, 429)
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-limit"] == "3"
    assert "rate limit" in body["detail"]
    # another key has its own bucket
    other = client.post("/v1/predict/fuel", json=instance, headers={"X-API-Key": keys.admin})
    assert other.status_code == 200
    metrics = client.get("/metrics").text
    assert f'cognirace_rate_limited_total{{key_id="{keys.predict_id}"}} 1.0' in metrics


def test_limit_headers_also_on_errors_and_every_predict_route(make_client: Any, trained: Any,
                                                              problem: Any) -> None:
    client = make_client(rate_limit_burst=50)
    invalid = problem(client.post("/v1/predict/fuel", json={"lap": 1}), 422)
    assert invalid
    response = client.post("/v1/predict/fuel", json={"lap": 1})
    assert all(h in response.headers for h in LIMIT_HEADERS)
    for method, path, body in (
            ("post", "/v1/predict/fuel/batch", {"instances": trained.instances("fuel", 2)}),
            ("post", "/vertex/predict", {"instances": trained.instances("laptime", 1)}),
            ("post", "/v1/admin/reload", None)):
        response = getattr(client, method)(path, json=body)
        assert response.status_code == 200, response.text
        assert all(h in response.headers for h in LIMIT_HEADERS), path


def test_refused_requests_count_under_their_model(make_client: Any, keys: Any,
                                                  trained: Any) -> None:
    client = make_client(keys_file=keys.file)
    client.post("/v1/predict/fuel", json=trained.instances("fuel")[0])
    client.post("/v1/predict/nosuchmodel", json={})
    metrics = client.get("/metrics").text
    assert 'cognirace_http_requests_total{method="POST",route="/v1/predict/fuel",status="401"}' \
        in metrics
    fuel_401 = [line for line in metrics.splitlines()
                if line.startswith("cognirace_http_request_duration_seconds_count")
                and 'model="fuel"' in line]
    assert fuel_401, "the refused request is timed under model fuel"
    assert 'model="nosuchmodel"' not in metrics  # unknown names never become labels
