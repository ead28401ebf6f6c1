"""Service description and health: ``/``, ``/health``, ``/ready``, ``/metrics``, ``/v1/models``.

``/health`` says the process answers (liveness: restart me if not); ``/ready`` says every
model serves and the registry answers (readiness: send me traffic), with the reasons
when not. The model listing needs a ``predict`` key when keys are configured; health,
readiness and metrics stay open for probes and scrapers.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cognirace import __version__
from cognirace.api.problems import PROBLEM_JSON, problem_body
from cognirace.api.routes_v1 import ERROR_RESPONSES, SECURITY
from cognirace.api.service import ServiceDep

router = APIRouter()
_PROTECTED: dict[str, Any] = {"openapi_extra": {"security": SECURITY},
                              "responses": {k: ERROR_RESPONSES[k] for k in (401, 403, 404)}}


def json_response(payload: Any, status: int = 200) -> Response:
    """``payload`` as orjson bytes."""
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


@router.get("/", tags=["service"], summary="What this service is, and where to go")
async def root(service: ServiceDep) -> Response:
    """Name, version and links (a client's starting point)."""
    return json_response({
        "name": "cognirace", "service": "prediction", "version": __version__,
        "models": list(service.store.names),
        "links": {"dashboard": "/dashboard", "docs": "/docs", "openapi": "/openapi.json",
                  "health": "/health", "ready": "/ready", "models": "/v1/models",
                  "metrics": "/metrics", "predict": "/v1/predict/{model}",
                  "oip": "/v2/models/{name}"}})


@router.get("/health", tags=["service"], summary="Liveness: the process answers")
async def health() -> Response:
    """Always 200 while the event loop runs."""
    return json_response({"status": "alive"})


@router.get("/ready", tags=["service"], summary="Readiness: models loaded, registry reachable",
            responses={503: {"description": "Not ready; the problem lists the reasons"}})
async def ready(request: Request, service: ServiceDep) -> Response:
    """200 with each model's version, or a 503 problem whose ``reasons`` say what is missing."""
    ok, report = await run_in_threadpool(service.store.readiness)
    if ok:
        return json_response({"status": "ready", **report})
    body = problem_body(503, "; ".join(report["reasons"]), path=request.url.path,
                        request_id=request.scope["state"].get("request_id"),
                        kind="not-ready", **report)
    return Response(body, status_code=503, media_type=PROBLEM_JSON,
                    headers={"Retry-After": "10"})


@router.get("/metrics", tags=["service"], summary="Prometheus metrics")
async def metrics(service: ServiceDep) -> Response:
    """Request latency per route and model, status counts, cache, limits, model versions,
    readiness, worker memory, live races."""
    body, content_type = await run_in_threadpool(service.metrics.render)  # reads readiness
    return Response(body, media_type=content_type)


@router.get("/v1/models", tags=["models"], summary="Every served model", **_PROTECTED)
async def list_models(request: Request, service: ServiceDep) -> Response:
    """Name, version, metrics and input/output schema (with units) of each loaded model."""
    service.authenticate(request, "predict")
    served = service.store.served()
    return json_response({"models": [served[n].info for n in service.store.names
                                     if n in served],
                          "missing": [n for n in service.store.names if n not in served]})


@router.get("/v1/models/{name}", tags=["models"], summary="One served model", **_PROTECTED)
async def get_model(request: Request, name: str, service: ServiceDep) -> Response:
    """Name, version, registry metrics and input/output schema (with units) of ``name``."""
    service.authenticate(request, "predict")
    return json_response(service.served(request, name).info)


__all__ = ["json_response", "router"]
