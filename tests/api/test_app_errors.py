"""Every error leaves as a problem+json with the request id, and never with a traceback."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
import polars as pl
import pytest

from cognirace.api.store import ModelStore, describe
from cognirace.models.base import Model

JSON = {"content-type": "application/json"}


@pytest.fixture
def laptime(trained: Any) -> dict[str, Any]:
    instance: dict[str, Any] = trained.instances("laptime")[0]
    return instance


@pytest.mark.parametrize(("value", "reason"), [
    (b"NaN", "finite"), (b"Infinity", "finite"), (b"-Infinity", "finite"), (b"1e999", "finite"),
    (b"5000.0", "physical range"), (b"-1.0", "physical range"),
    (b'"fast"', "valid number"), (b"true", "valid number")])
def test_bad_float_is_422_naming_the_field(make_client: Any, laptime: dict[str, Any],
                                            problem: Any, value: bytes, reason: str) -> None:
    client = make_client()
    data = orjson.dumps(dict(laptime, lap_time_s=12345.0)).replace(b"12345.0", value)
    result = problem(client.post("/v1/predict/laptime", content=data, headers=JSON), 422)
    assert result["errors"][0]["field"] == "lap_time_s"
    assert reason in result["errors"][0]["reason"]
    assert "lap_time_s" in result["detail"]


@pytest.mark.parametrize(("field", "value", "kind"), [
    ("lap", 1.5, "int_type"), ("lap", "3", "int_type"), ("lap", 0, "greater_than_equal"),
    ("lap", 2**40, "less_than_equal"), ("track", 7, "string_type"),
    ("tire_age_laps", None, "int_type")])
def test_wrong_type_or_range_is_422(make_client: Any, laptime: dict[str, Any], problem: Any,
                                    field: str, value: Any, kind: str) -> None:
    client = make_client()
    result = problem(client.post("/v1/predict/laptime", json=dict(laptime, **{field: value})),
                     422)
    assert (result["errors"][0]["field"], result["errors"][0]["type"]) == (field, kind)


def test_missing_field_is_422(make_client: Any, laptime: dict[str, Any], problem: Any) -> None:
    client = make_client()
    del laptime["pace_median3_s"]
    result = problem(client.post("/v1/predict/laptime", json=laptime), 422)
    assert result["errors"] == [{"field": "pace_median3_s", "reason": "is required",
                                 "type": "missing", "value": None}]


def test_batch_errors_name_the_instance(make_client: Any, laptime: dict[str, Any],
                                        problem: Any) -> None:
    client = make_client()
    bad = dict(laptime, position=0)
    result = problem(client.post("/v1/predict/laptime/batch",
                                 json={"instances": [laptime, bad]}), 422)
    assert result["errors"][0]["field"] == "instances[1].position"


@pytest.mark.parametrize("data", [b"{not json", b"[]", b"", b'"text"'])
def test_malformed_body_is_422(make_client: Any, problem: Any, data: bytes) -> None:
    client = make_client()
    problem(client.post("/v1/predict/fuel", content=data, headers=JSON), 422)


def test_unknown_model_is_404(make_client: Any, problem: Any, oip_error: Any) -> None:
    client = make_client()
    body = problem(client.post("/v1/predict/warp-drive", json={}), 404)
    assert "warp-drive" in body["detail"] and "laptime" in body["models"]
    problem(client.post("/v1/predict/warp-drive/batch", json={"instances": []}), 404)
    problem(client.get("/v1/models/warp-drive"), 404)
    assert oip_error(client.get("/v2/models/warp-drive"), 404) == (
        "no model named 'warp-drive'")


def test_unknown_route_is_404_and_wrong_method_405(make_client: Any, problem: Any) -> None:
    client = make_client()
    problem(client.get("/v1/nothing-here"), 404)
    response = client.get("/v1/predict/laptime")
    problem(response, 405)
    assert response.headers["allow"] == "POST"
    problem(client.delete("/health"), 405)


def test_body_over_the_limit_is_413_by_length_and_by_stream(make_client: Any,
                                                           problem: Any) -> None:
    client = make_client(max_body_bytes=2048)
    big = b'{"instances": [' + b" " * 4096 + b"]}"
    problem(client.post("/v1/predict/fuel/batch", content=big, headers=JSON), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: only the streamed size tells
        for _ in range(8):
            yield b" " * 512

    problem(client.post("/v1/predict/fuel/batch", content=chunks(), headers=JSON), 413)


class SlowModel(Model):
    """Sleeps, then delegates: a prediction that takes too long."""

    kind = "slow_test"

    def __init__(self, *, inner: Any = None, seconds: float = 0.5) -> None:
        self.inner = inner
        self.seconds = seconds

    def _fit(self, frame: pl.DataFrame) -> None:  # pragma: no cover - never fitted
        raise NotImplementedError

    def predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        time.sleep(self.seconds)
        result: pl.DataFrame = self.inner.predict(frame)
        return result

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:  # pragma: no cover
        raise NotImplementedError

    def metadata(self) -> Any:
        return self.inner.metadata()


class BrokenModel(SlowModel):
    """Fails with an unexpected error, carrying a secret that must not leak."""

    kind = "broken_test"

    def predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        raise RuntimeError("secret internal detail /etc/passwd")


def private_store(shared_store: ModelStore, name: str, wrapper: type[SlowModel],
                  seconds: float = 0.5) -> ModelStore:
    """A store serving the shared models, with ``name`` wrapped."""
    store = ModelStore(shared_store.registry)
    for served in shared_store.served().values():
        store.put(served)
    inner = shared_store.get(name)
    assert inner is not None
    store.put(describe(name, inner.version, wrapper(inner=inner.model, seconds=seconds)))
    return store


def test_slow_prediction_is_504(make_client: Any, shared_store: ModelStore,
                                laptime: dict[str, Any], problem: Any) -> None:
    store = private_store(shared_store, "laptime", SlowModel)
    client = make_client(store=store, predict_timeout_s=0.05)
    started = time.perf_counter()
    body = problem(client.post("/v1/predict/laptime", json=laptime), 504)
    assert time.perf_counter() - started < 0.45  # answered at the limit, not after the model
    assert "0.05" in body["detail"]


def test_unexpected_error_is_500_without_details(make_client: Any, shared_store: ModelStore,
                                                 laptime: dict[str, Any], problem: Any,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    store = private_store(shared_store, "laptime", BrokenModel)
    client = make_client(store=store)
    response = client.post("/v1/predict/laptime", json=laptime, headers={"X-Request-ID": "abc-1"})
    body = problem(response, 500)
    assert body["request_id"] == "abc-1"
    assert "secret" not in response.text and "RuntimeError" not in response.text
    logged = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert logged and logged[0].request_id == "abc-1"  # type: ignore[attr-defined]
    assert logged[0].exc_info is not None


def test_every_response_has_a_request_id(make_client: Any, problem: Any) -> None:
    client = make_client()
    first, second = client.get("/health"), client.get("/health")
    assert len(first.headers["x-request-id"]) == 32
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert client.get("/health", headers={"X-Request-ID": "trace-42"}).headers[
        "x-request-id"] == "trace-42"
    odd = client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    assert odd.headers["x-request-id"] != "bad id\twith spaces"  # not echoed: regenerated
    assert problem(client.get("/missing"), 404)["request_id"]


def test_tire_lists_must_be_parallel(make_client: Any, trained: Any, problem: Any) -> None:
    client = make_client()
    instance = trained.instances("tire")[0]
    instance["fuel_laps"] = instance["fuel_laps"][:-1]
    body = problem(client.post("/v1/predict/tire", json=instance), 422)
    assert "same length" in body["errors"][0]["reason"]


def test_huge_values_of_unbounded_columns_are_422(make_client: Any, trained: Any,
                                                  problem: Any) -> None:
    client = make_client()
    instance = dict(trained.instances("driver")[0], peak_brake_bar=1e300)
    body = problem(client.post("/v1/predict/driver", json=instance), 422)
    assert body["errors"][0]["field"] == "peak_brake_bar"


@pytest.mark.parametrize("name", ["anomaly", "laptime", "traffic"])
def test_empty_batch_is_an_empty_answer(make_client: Any, name: str) -> None:
    response = make_client().post(f"/v1/predict/{name}/batch", json={"instances": []})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == []


def test_echoed_values_are_always_json(make_client: Any, trained: Any, problem: Any) -> None:
    client = make_client()
    body = problem(client.post("/v1/predict/laptime",
                               json=dict(trained.instances("laptime")[0], lap=2**70)), 422)
    assert body["errors"][0]["value"] == str(2**70)
