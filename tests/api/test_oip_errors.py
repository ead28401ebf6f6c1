"""Errors on ``/v2`` are ``{"error": "<message>"}`` wherever they are made; ``/v1`` keeps
RFC 9457 problems."""

from __future__ import annotations

from typing import Any

from cognirace.api.auth import create_key
from cognirace.api.oip_errors import error_message


def test_handler_errors_on_v2(make_client: Any, keys: Any, oip_error: Any) -> None:
    feed, _ = create_key(keys.file, "timing feed", ["stream"])
    client = make_client(keys_file=keys.file)
    assert oip_error(client.get("/v2/models/fcy"), 401).startswith("missing or unknown API key")
    response = client.get("/v2/models/fcy", headers={"X-API-Key": feed})
    assert oip_error(response, 403) == "this key lacks the 'predict' scope"
    predict = {"X-API-Key": keys.predict}
    assert oip_error(client.get("/v2/models/nope/ready", headers=predict), 404) == (
        "no model named 'nope'")
    assert oip_error(client.get("/v2/models/fcy/versions/v2", headers=predict), 404) == (
        "model 'fcy' has no version 'v2' serving; it serves 'v1'")
    many = oip_error(client.post("/v2/models/pitloss/infer", headers=predict,
                                 json={"inputs": [{"name": "track", "shape": [1],
                                                   "datatype": "BYTES", "data": ["x"]}]}), 422)
    assert many == ("field 'inputs.caution' is required (and 2 more): inputs.caution is "
                    "required; inputs.tire_change is required; inputs.repair is required")


def test_router_and_middleware_errors_on_v2(make_client: Any, oip_error: Any) -> None:
    client = make_client(max_body_bytes=2_000, rate_limit_per_s=0.001, rate_limit_burst=2)
    assert oip_error(client.get("/v2/models/fcy/infer"), 405) == (
        "GET is not allowed on /v2/models/fcy/infer")
    assert oip_error(client.get("/v2/nothing/here"), 404).startswith("no route /v2/nothing")
    too_big = client.post("/v2/models/fcy/infer", content=b"x" * 3_000,
                          headers={"content-type": "application/json"})
    assert oip_error(too_big, 413) == "request body over 2000 bytes"
    assert oip_error(client.post("/v2/models/fcy/infer", content=b"{"), 422).startswith(
        "field '(body)' ")
    assert oip_error(client.post("/v2/models/fcy/infer", content=b"{}"), 422) == (
        "field 'inputs' is required")
    limited = client.post("/v2/models/fcy/infer", content=b"{}")
    assert oip_error(limited, 429).startswith("rate limit of 2 requests reached")
    assert int(limited.headers["retry-after"]) >= 1


def test_v1_keeps_problems(make_client: Any, problem: Any) -> None:
    client = make_client()
    body = problem(client.get("/v1/models/nope"), 404)
    assert body["detail"] == "no model named 'nope'"
    problem(client.get("/v2x/models"), 404)  # only /v2 and below speak the protocol


def test_the_message_is_the_detail() -> None:
    assert error_message(b'{"detail": "no model named \'x\'", "status": 404}') == (
        "no model named 'x'")
    assert error_message(b"not json") == "not json"
