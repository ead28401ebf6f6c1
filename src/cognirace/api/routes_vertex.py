"""The Vertex AI custom-container contract: ``{"instances": [...]}`` -> ``{"predictions": [...]}``.

Vertex AI sends every prediction to one route (``AIP_PREDICT_ROUTE``) and probes one
health route (``AIP_HEALTH_ROUTE``); both are added when those variables are set, beside
the fixed ``/vertex/predict`` and ``/vertex/health``. The model is chosen by the
request's ``parameters.model`` (default ``COGNIRACE_VERTEX_MODEL``); instances have
the same shape as on ``/v1/predict/<model>``.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cognirace.api.problems import ProblemError
from cognirace.api.routes_meta import json_response
from cognirace.api.routes_v1 import ERROR_RESPONSES, SECURITY, predict_rows
from cognirace.api.schemas import RouteSchemas
from cognirace.api.service import Service, get_service, validate
from cognirace.api.settings import ServeSettings

PREDICT_ROUTE = "/vertex/predict"
HEALTH_ROUTE = "/vertex/health"


class VertexParameters(BaseModel):
    """Request parameters: which model answers."""

    model_config = ConfigDict(extra="ignore")
    model: str | None = Field(default=None, max_length=50, description="Model name; "
                              "default COGNIRACE_VERTEX_MODEL.")


class VertexRequest(BaseModel):
    """A Vertex AI prediction request."""

    model_config = ConfigDict(extra="ignore")
    instances: list[dict[str, Any]] = Field(description="Instances as on /v1/predict/<model>.")
    parameters: VertexParameters | None = None


async def predict(request: Request) -> Response:
    """Predict every instance with the model named in ``parameters`` (one vectorised call)."""
    service: Service = get_service(request)
    await service.admit(request)
    body = await request.body()
    parsed: VertexRequest = validate(VertexRequest, body)
    name = (parsed.parameters.model if parsed.parameters else None) or \
        service.settings.vertex_model
    served = service.served(request, name)
    schemas: dict[str, RouteSchemas] = service.schemas
    if name not in schemas:
        raise ProblemError(404, f"no model named {name!r}", kind="unknown-model")

    async def compute() -> bytes:
        instances = validate(schemas[name].batch, body).instances
        service.check_batch(len(instances))
        rows = await predict_rows(service, served, instances)
        return orjson.dumps({"predictions": rows, "model": name, "version": served.version})

    return await service.respond(request, served, body, compute)


async def health(request: Request) -> Response:
    """200 when every model serves, 503 otherwise (Vertex routes no traffic until 200)."""
    ok, report = await run_in_threadpool(get_service(request).store.readiness)
    return json_response({"ready": ok, "reasons": report["reasons"]}, 200 if ok else 503)


def build_router(settings: ServeSettings) -> APIRouter:
    """The fixed Vertex routes, plus those ``AIP_*`` variables name."""
    router = APIRouter(tags=["vertex ai"])
    predict_routes = {PREDICT_ROUTE, settings.aip_predict_route or PREDICT_ROUTE}
    health_routes = {HEALTH_ROUTE, settings.aip_health_route or HEALTH_ROUTE}
    extra = {"security": SECURITY, "requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/VertexRequest"}}}}}
    for path in sorted(predict_routes):
        router.add_api_route(path, predict, methods=["POST"], summary="Predict (Vertex AI)",
                             openapi_extra=extra, responses=ERROR_RESPONSES,
                             response_class=Response)
    for path in sorted(health_routes):
        router.add_api_route(path, health, methods=["GET"], summary="Health (Vertex AI)",
                             response_class=Response)
    return router


__all__ = ["HEALTH_ROUTE", "PREDICT_ROUTE", "VertexRequest", "build_router"]
