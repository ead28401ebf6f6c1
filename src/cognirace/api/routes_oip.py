"""The Open Inference Protocol v2 (KServe, Triton, Seldon): columnar tensors in and out.

The routes of the protocol's REST form, as its published clients call them
(``tritonclient.http``, KServe's ``InferenceRESTClient``): health, server and model
metadata, model readiness and inference, each model route also under
``/versions/{version}`` (the version being served; any other is a 404). Inference takes
JSON tensors or the binary tensor extension and answers in kind (``oip_tensors``,
``oip_binary``). Errors on these routes are ``{"error": "<message>"}`` (``oip_errors``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cognirace import __version__
from cognirace.api.oip_binary import BINARY_MEDIA_TYPE, HEADER, split_body
from cognirace.api.oip_errors import OIP_ERRORS
from cognirace.api.oip_tensors import (
    InferRequest,
    InferTensor,
    answer,
    datatype,
    tensor_columns,
    tensor_meta,
    tensors_frame,
    wanted_outputs,
)
from cognirace.api.problems import ProblemError
from cognirace.api.routes_meta import json_response
from cognirace.api.routes_v1 import SECURITY
from cognirace.api.service import Service, ServiceDep, validate
from cognirace.api.store import Served

router = APIRouter(prefix="/v2", tags=["open inference protocol v2"])

EXTENSIONS = ["binary_tensor_data"]
"""Protocol extensions served (Triton's name for the binary tensor extension)."""
_MODEL: dict[str, Any] = {"openapi_extra": {"security": SECURITY},
                          "responses": {k: OIP_ERRORS[k] for k in (401, 403, 404, 503)}}
_INFER_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/InferRequest"}},
    BINARY_MEDIA_TYPE: {"schema": {
        "type": "string", "format": "binary", "description": "Binary tensor extension: "
        "the JSON request, its length in the Inference-Header-Content-Length header, then "
        "each binary input's bytes in input order."}}}}}


@router.get("/health/live", summary="Liveness (OIP)")
async def live() -> Response:
    """Always live while the process answers."""
    return json_response({"live": True})


@router.get("/health/ready", summary="Readiness (OIP)",
            responses={503: {"description": "Not ready"}})
async def ready(service: ServiceDep) -> Response:
    """Ready when every model serves and the registry answers."""
    ok, _ = await run_in_threadpool(service.store.readiness)
    return json_response({"ready": ok}, 200 if ok else 503)


@router.get("", summary="Server metadata (OIP)")
async def server_metadata() -> Response:
    """Name, version and protocol extensions."""
    return json_response({"name": "cognirace", "version": __version__,
                          "extensions": EXTENSIONS})


@router.get("/models/{name}", summary="Model metadata (OIP)", **_MODEL)
async def model_metadata(request: Request, name: str, service: ServiceDep) -> Response:
    """Name, versions, platform and the tensors the model reads and writes."""
    return json_response(_metadata(_served(request, service, name)))


@router.get("/models/{name}/versions/{version}", summary="Model version metadata (OIP)",
            **_MODEL)
async def version_metadata(request: Request, name: str, version: str,
                           service: ServiceDep) -> Response:
    """As ``/v2/models/{name}``, for the version being served."""
    return json_response(_metadata(_served(request, service, name, version)))


@router.get("/models/{name}/ready", summary="Model readiness (OIP)", **_MODEL)
async def model_ready(request: Request, name: str, service: ServiceDep) -> Response:
    """200 when ``name`` serves."""
    served = _served(request, service, name)
    return json_response({"name": name, "ready": True, "version": served.version})


@router.get("/models/{name}/versions/{version}/ready", summary="Model version readiness "
            "(OIP)", **_MODEL)
async def version_ready(request: Request, name: str, version: str,
                        service: ServiceDep) -> Response:
    """200 when ``version`` of ``name`` serves."""
    served = _served(request, service, name, version)
    return json_response({"name": name, "ready": True, "version": served.version})


@router.post("/models/{name}/infer", summary="Inference (OIP)", openapi_extra={
    "security": SECURITY, **_INFER_BODY}, responses=OIP_ERRORS)
async def infer(request: Request, name: str, service: ServiceDep) -> Response:
    """Columnar tensors in, one tensor per output column out (rows in input order)."""
    await service.admit(request, model=name)
    return await _infer(request, service, service.served(request, name))


@router.post("/models/{name}/versions/{version}/infer", summary="Inference on a version "
             "(OIP)", openapi_extra={"security": SECURITY, **_INFER_BODY},
             responses=OIP_ERRORS)
async def infer_version(request: Request, name: str, version: str,
                        service: ServiceDep) -> Response:
    """As ``/v2/models/{name}/infer``, for the version being served."""
    await service.admit(request, model=name)
    return await _infer(request, service, _version(service.served(request, name), version))


def _served(request: Request, service: Service, name: str, version: str | None = None
            ) -> Served:
    service.authenticate(request, "predict")
    served = service.served(request, name)
    return served if version is None else _version(served, version)


def _version(served: Served, version: str) -> Served:
    """``served`` when it is ``version``.

    Raises:
        ProblemError: 404 naming the version that does serve.
    """
    if version != served.version:
        raise ProblemError(404, f"model {served.name!r} has no version {version!r} "
                           f"serving; it serves {served.version!r}", kind="unknown-model")
    return served


def _metadata(served: Served) -> dict[str, Any]:
    return {"name": served.name, "versions": [served.version], "platform": "cognirace",
            "inputs": [tensor_meta(s) for s in served.inputs],
            "outputs": [tensor_meta(s) for s in served.outputs]}


async def _infer(request: Request, service: Service, served: Served) -> Response:
    """Parse, predict and answer, through the response cache.

    The cache holds bytes only, so a cached answer carries the length of its JSON part
    in its first 4 bytes (big-endian) to rebuild the binary extension's header on a hit.
    """
    body = await request.body()
    header_length = request.headers.get(HEADER)

    async def compute() -> bytes:
        head, binary = split_body(body, header_length)
        parsed: InferRequest = validate(InferRequest, head)
        wanted = wanted_outputs(served, parsed)
        columns = tensor_columns(served, parsed.inputs, binary)
        frame = tensors_frame(served, columns, service.check_batch)
        content, json_size = answer(served, parsed.id, wanted,
                                    await service.predict(served, frame))
        return json_size.to_bytes(4, "big") + content

    key = body if header_length is None else f"{header_length}\n".encode() + body
    framed = await service.respond(request, served, key, compute)
    return _unframe(framed)


def _unframe(framed: Response) -> Response:
    """The answer to send from a framed one (see ``_infer``), its headers kept."""
    content = bytes(framed.body)
    json_size, payload = int.from_bytes(content[:4], "big"), content[4:]
    headers = {k: v for k, v in framed.headers.items() if k.startswith("x-")}
    if json_size == len(payload):
        return Response(payload, media_type="application/json", headers=headers)
    headers[HEADER] = str(json_size)
    return Response(payload, media_type=BINARY_MEDIA_TYPE, headers=headers)


__all__ = ["EXTENSIONS", "InferRequest", "InferTensor", "datatype", "router", "tensor_meta"]
