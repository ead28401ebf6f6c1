"""The Open Inference Protocol's published clients against the service, unmodified.

``tritonclient[http]`` with its defaults (inputs set with ``set_data_from_numpy`` go in
binary, and with no outputs named every output comes back in binary) and with JSON on
both sides; KServe's ``InferenceRESTClient`` (protocol v2) with JSON and binary inputs.
Every answer is compared with the v1 route's for the same rows, and every error path is
checked as the client sees it: the client raises, carrying the server's message.
"""

from __future__ import annotations

import asyncio
import warnings
from typing import Any

import httpx
import numpy as np
import orjson
import pytest

with warnings.catch_warnings():  # gevent and the SDK's imports warn about their own deps
    warnings.simplefilter("ignore")
    import kserve
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException

MODELS = ("laptime", "tire", "fuel", "pitloss", "fcy", "driver", "anomaly")
"""Every model that takes rows (traffic takes field snapshots on v1: compared apart)."""
NO_MISSING = ("tire", "fuel", "pitloss", "fcy", "driver")
"""Models whose test rows have no missing input, which JSON numbers from numpy cannot say."""


def metadata(address: str, name: str) -> dict[str, Any]:
    meta: dict[str, Any] = httpx.get(f"http://{address}/v2/models/{name}").json()
    return meta


def rows_of(trained: Any, name: str, n: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = orjson.loads(orjson.dumps(trained.rows[name].head(n)
                                                           .to_dicts()))
    return rows


def as_array(tensor: dict[str, Any], values: list[Any]) -> np.ndarray:
    """A column as the numpy array a client would hold (missing floats as NaN)."""
    kind = tensor["datatype"]
    if kind == "BYTES":
        return np.array(values, dtype=np.object_)
    if kind == "BOOL":
        return np.array(values, dtype=np.bool_)
    if kind.startswith("INT"):
        return np.array(values, dtype=np.int32 if kind == "INT32" else np.int64)
    if tensor["shape"] == [-1, -1]:
        return np.array(values, dtype=np.float64)
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def triton_inputs(meta: dict[str, Any], rows: list[dict[str, Any]], *, binary: bool
                  ) -> list[triton.InferInput]:
    inputs = []
    for tensor in meta["inputs"]:
        array = as_array(tensor, [row[tensor["name"]] for row in rows])
        one = triton.InferInput(tensor["name"], list(array.shape), tensor["datatype"])
        one.set_data_from_numpy(array, binary_data=binary)
        inputs.append(one)
    return inputs


def v1_columns(address: str, trained: Any, name: str, n: int) -> dict[str, np.ndarray]:
    """The v1 batch route's predictions as columns, as the OIP tensors give them."""
    body = httpx.post(f"http://{address}/v1/predict/{name}/batch",
                      json={"instances": trained.instances(name, n)}).json()
    predictions = body["predictions"]
    out = {}
    for key in predictions[0]:
        values = [p[key] for p in predictions]
        if key == "fallbacks":
            out[key] = np.array([",".join(v) for v in values], dtype=np.object_)
        elif isinstance(values[0], str) or any(isinstance(v, str) for v in values):
            out[key] = np.array(values, dtype=np.object_)
        else:
            out[key] = np.array([np.nan if v is None else v for v in values])
    return out


def same(got: np.ndarray, expected: np.ndarray) -> None:
    if got.dtype == np.object_:
        got = np.array([v.decode() if isinstance(v, bytes) else v for v in got],
                       dtype=np.object_)
        assert got.tolist() == expected.tolist()
    else:
        np.testing.assert_array_equal(got.astype(np.float64), expected.astype(np.float64))


@pytest.fixture(scope="module")
def triton_client(live_service: str) -> Any:
    client = triton.InferenceServerClient(live_service)
    yield client
    client.close()


@pytest.mark.parametrize("name", MODELS)
def test_tritonclient_defaults_binary_both_ways(live_service: str, trained: Any,
                                                triton_client: Any, name: str) -> None:
    n = 3
    meta = metadata(live_service, name)
    result = triton_client.infer(name, triton_inputs(meta, rows_of(trained, name, n),
                                                     binary=True))
    response = result.get_response()
    assert (response["model_name"], response["model_version"]) == (name, "v1")
    assert all("binary_data_size" in t["parameters"] for t in response["outputs"]
               if t["datatype"] in ("FP64", "BOOL"))
    expected = v1_columns(live_service, trained, name, n)
    assert [t["name"] for t in response["outputs"]] == list(expected)
    for key, values in expected.items():
        same(result.as_numpy(key), values)


@pytest.mark.parametrize("name", NO_MISSING)
def test_tritonclient_json_both_ways(live_service: str, trained: Any, triton_client: Any,
                                     name: str) -> None:
    n = 2
    meta = metadata(live_service, name)
    outputs = [triton.InferRequestedOutput(t["name"], binary_data=False)
               for t in meta["outputs"]]
    result = triton_client.infer(name, triton_inputs(meta, rows_of(trained, name, n),
                                                     binary=False), outputs=outputs,
                                 request_id="json-1")
    response = result.get_response()
    assert response["id"] == "json-1"
    assert all("data" in t and "parameters" not in t for t in response["outputs"])
    for key, values in v1_columns(live_service, trained, name, n).items():
        same(result.as_numpy(key), values)


def test_tritonclient_picks_outputs_and_their_form(live_service: str, trained: Any,
                                                   triton_client: Any) -> None:
    meta = metadata(live_service, "fcy")
    outputs = [triton.InferRequestedOutput("p_fcy_start_3", binary_data=True),
               triton.InferRequestedOutput("fallbacks", binary_data=False)]
    result = triton_client.infer("fcy", triton_inputs(meta, rows_of(trained, "fcy", 2),
                                                      binary=True), outputs=outputs)
    tensors = result.get_response()["outputs"]
    assert [t["name"] for t in tensors] == ["p_fcy_start_3", "fallbacks"]
    assert tensors[0]["parameters"]["binary_data_size"] == 2 * 8
    assert tensors[1]["data"] == ["", ""]
    expected = v1_columns(live_service, trained, "fcy", 2)
    same(result.as_numpy("p_fcy_start_3"), expected["p_fcy_start_3"])


def test_a_cached_binary_answer_keeps_its_header(live_service: str, trained: Any) -> None:
    """The second identical request is a cache hit and still a well-formed binary answer."""
    meta = metadata(live_service, "pitloss")
    inputs = triton_inputs(meta, rows_of(trained, "pitloss", 2), binary=True)
    body, json_size = triton._utils._get_inference_request(
        inputs=inputs, request_id="", outputs=None, sequence_id=0, sequence_start=False,
        sequence_end=False, priority=0, timeout=None, custom_parameters=None)
    headers = {"Inference-Header-Content-Length": str(json_size)}
    url = f"http://{live_service}/v2/models/pitloss/versions/v1/infer"
    answers = [httpx.post(url, content=body, headers=headers) for _ in range(2)]
    assert [a.headers["x-cache"] for a in answers] == ["miss", "hit"]
    for answer in answers:
        assert answer.headers["content-type"] == "application/octet-stream"
        size = int(answer.headers["inference-header-content-length"])
        result = triton.InferResult.from_response_body(answer.content, header_length=size)
        same(result.as_numpy("pit_loss_pred_s"),
             v1_columns(live_service, trained, "pitloss", 2)["pit_loss_pred_s"])
    assert answers[0].content == answers[1].content


def test_tritonclient_health_metadata_and_versions(live_service: str,
                                                   triton_client: Any) -> None:
    assert triton_client.is_server_live() and triton_client.is_server_ready()
    assert triton_client.is_model_ready("tire")
    assert triton_client.is_model_ready("tire", model_version="v1")
    assert not triton_client.is_model_ready("tire", model_version="v7")
    server = triton_client.get_server_metadata()
    assert "binary_tensor_data" in server["extensions"]
    meta = triton_client.get_model_metadata("tire", model_version="v1")
    assert {t["name"]: t["shape"] for t in meta["inputs"]}["lap_times_s"] == [-1, -1]


def _raises(call: Any) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as caught:
        call()
    return caught.value


def test_tritonclient_sees_each_error_with_its_message(live_service: str, trained: Any,
                                                       triton_client: Any) -> None:
    meta = metadata(live_service, "laptime")
    rows = rows_of(trained, "laptime", 2)
    unknown = _raises(lambda: triton_client.infer("nope", triton_inputs(meta, rows,
                                                                         binary=True)))
    assert (unknown.status(), unknown.message()) == ("404", "no model named 'nope'")
    version = _raises(lambda: triton_client.infer(
        "laptime", triton_inputs(meta, rows, binary=True), model_version="v9"))
    assert version.status() == "404" and "serves 'v1'" in version.message()
    inputs = triton_inputs(meta, rows, binary=True)
    bad = next(i for i in inputs if i.name() == "lap_time_s")
    bad.set_data_from_numpy(np.array([98.0, 1e9]))
    out_of_range = _raises(lambda: triton_client.infer("laptime", inputs))
    assert out_of_range.status() == "422"
    assert out_of_range.message() == ("field 'inputs.lap_time_s' 1 value(s) outside the "
                                      "physical range")
    missing = _raises(lambda: triton_client.infer("laptime", inputs[1:]))
    assert missing.message() == "field 'inputs.pace_median3_s' is required"
    inf = triton_inputs(meta, rows, binary=True)
    next(i for i in inf if i.name() == "best_green_s").set_data_from_numpy(
        np.array([np.inf, 80.0]))
    assert "must be finite numbers" in _raises(
        lambda: triton_client.infer("laptime", inf)).message()
    unknown_output = _raises(lambda: triton_client.infer(
        "laptime", triton_inputs(meta, rows, binary=True),
        outputs=[triton.InferRequestedOutput("lap_time_p42_s")]))
    assert unknown_output.message().startswith("field 'outputs.lap_time_p42_s' is not an "
                                               "output of laptime")


def test_malformed_binary_bodies_are_422_in_the_protocols_shape(live_service: str) -> None:
    url = f"http://{live_service}/v2/models/pitloss/infer"
    head = orjson.dumps({"inputs": [
        {"name": "track", "shape": [1], "datatype": "BYTES", "data": ["barber"]},
        {"name": "caution", "shape": [1], "datatype": "BOOL",
         "parameters": {"binary_data_size": 1}},
        {"name": "tire_change", "shape": [1], "datatype": "BOOL",
         "parameters": {"binary_data_size": 1}},
        {"name": "repair", "shape": [1], "datatype": "BOOL",
         "parameters": {"binary_data_size": 1}}]})
    cases = {
        (head + b"\x01", len(head)): "'inputs.tire_change' says 1 bytes of binary data",
        (head + b"\x01\x00", len(head)): "'inputs.repair' says 1 bytes of binary data",
        (head + b"\x01\x00\x00\x07", len(head)): "1 bytes after the last binary input",
        (head + b"\x01\x00\x00", len(head) + 5): "Inference-Header-Content-Length",
        (head[:-3] + b"\x01\x00\x00", len(head) - 3): "Invalid JSON",
    }
    for (body, size), words in cases.items():
        answer = httpx.post(url, content=body,
                            headers={"Inference-Header-Content-Length": str(size)})
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert list(answer.json()) == ["error"] and words in answer.json()["error"]
    good = httpx.post(url, content=head + b"\x01\x00\x00",
                      headers={"Inference-Header-Content-Length": str(len(head))})
    assert good.status_code == 200, good.text
    assert good.json()["outputs"][0]["name"] == "pit_loss_pred_s"


def test_traffic_rows_go_through_tritonclient(live_service: str, trained: Any,
                                              triton_client: Any) -> None:
    meta = metadata(live_service, "traffic")
    rows = rows_of(trained, "traffic", 12)
    result = triton_client.infer("traffic", triton_inputs(meta, rows, binary=True))
    p_pass = result.as_numpy("p_pass_ahead")
    assert p_pass.shape == (12,) and np.all((p_pass >= 0) & (p_pass <= 1))


async def _kserve_session(address: str, trained: Any) -> dict[str, Any]:
    base = f"http://{address}"
    meta = metadata(address, "fuel")
    rows = rows_of(trained, "fuel", 3)
    seen: dict[str, Any] = {}
    async with kserve.InferenceRESTClient(kserve.RESTConfig(protocol="v2")) as client:
        seen["live"] = await client.is_server_live(base)
        seen["ready"] = await client.is_server_ready(base)
        seen["model_ready"] = await client.is_model_ready(base, "fuel")
        seen["unknown_ready"] = await client.is_model_ready(base, "nope")
        for binary in (False, True):
            inputs = []
            for tensor in meta["inputs"]:
                array = as_array(tensor, [row[tensor["name"]] for row in rows])
                one = kserve.InferInput(tensor["name"], list(array.shape),
                                        tensor["datatype"])
                one.set_data_from_numpy(array, binary_data=binary)
                inputs.append(one)
            request = kserve.InferRequest(model_name="fuel", infer_inputs=inputs,
                                          request_id=f"k-{binary}")
            response = await client.infer(base, request, model_name="fuel")
            seen[f"infer_{binary}"] = {o.name: o.as_numpy() for o in response.outputs}
            seen[f"id_{binary}"] = response.id
        with pytest.raises(httpx.HTTPStatusError) as caught:
            await client.infer(base, request, model_name="nope")
        seen["unknown"] = caught.value
        bad = kserve.InferRequest(model_name="fuel", infer_inputs=inputs[1:])
        with pytest.raises(httpx.HTTPStatusError) as caught:
            await client.infer(base, bad, model_name="fuel")
        seen["missing"] = caught.value
    return seen


def test_kserve_rest_client(live_service: str, trained: Any) -> None:
    seen = asyncio.run(_kserve_session(live_service, trained))
    assert seen["live"] is True and seen["ready"] is True
    assert seen["model_ready"] is True and seen["unknown_ready"] is False
    expected = v1_columns(live_service, trained, "fuel", 3)
    for binary in (False, True):
        assert seen[f"id_{binary}"] == f"k-{binary}"
        assert list(seen[f"infer_{binary}"]) == list(expected)
        for key, values in expected.items():
            same(seen[f"infer_{binary}"][key], values)
    assert seen["unknown"].response.status_code == 404
    assert str(seen["unknown"]).startswith("no model named 'nope', '404 Not Found'")
    assert seen["missing"].response.status_code == 422
    assert str(seen["missing"]).startswith("field 'inputs.engine_krev' is required")
