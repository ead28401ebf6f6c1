"""``POST /v1/predict/<model>`` and ``/v1/predict/<model>/batch`` for each of the eight models.

Each model gets its own path operations, so the OpenAPI document shows its own request
and response schema and example. The body is validated by pydantic-core straight from
the raw bytes (one pass, no ``json.loads``), after the cache lookup: a hit costs a hash
and a lookup, nothing more. Responses are ``orjson`` bytes; the response models are
declared for the docs only, never run on the hot path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from cognirace.api.frames import (
    instances_frame,
    prediction_rows,
    snapshots_frame,
    traffic_predictions,
)
from cognirace.api.problems import ProblemError
from cognirace.api.schemas import TRAFFIC, RouteSchemas
from cognirace.api.service import Service, get_service, validate
from cognirace.api.store import Served

Endpoint = Callable[[Request], Awaitable[Response]]

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/problem+json": {
        "schema": {"$ref": "#/components/schemas/Problem"}}}}
    for status, text in ((401, "Missing or unknown API key"), (403, "Key lacks the scope"),
                         (404, "Unknown model"), (413, "Body or batch too large"),
                         (422, "Invalid input: names the field and why"),
                         (429, "Rate limited; see Retry-After"),
                         (503, "Model not loaded"), (504, "Prediction timed out"))
}
SECURITY: list[dict[str, list[str]]] = [{"APIKeyHeader": []}]


async def predict_rows(service: Service, served: Served, instances: list[Any]
                       ) -> list[dict[str, Any]]:
    """Predictions for validated instances, in one vectorised ``predict`` call."""
    if served.name == TRAFFIC:
        frame, sizes = snapshots_frame(served, instances)
        result = await service.predict(served, frame)
        return traffic_predictions(served, frame, result, sizes)
    frame = instances_frame(served, [instance.__dict__ for instance in instances])
    return prediction_rows(served, await service.predict(served, frame))


async def answer(request: Request, name: str, schemas: RouteSchemas | None, *,
                 batch: bool) -> Response:
    """The shared body of the single and batch routes (auth, limit, cache, predict)."""
    service = get_service(request)
    await service.admit(request, model=name)
    served = service.served(request, name)
    if schemas is None:  # a model served by the store but without generated schemas
        raise ProblemError(404, f"no model named {name!r}", kind="unknown-model")
    body = await request.body()

    async def compute() -> bytes:
        if batch:
            instances = validate(schemas.batch, body).instances
            service.check_batch(len(instances))
            rows = await predict_rows(service, served, instances)
            return orjson.dumps({"model": name, "version": served.version,
                                 "predictions": rows})
        rows = await predict_rows(service, served, [validate(schemas.instance, body)])
        return orjson.dumps({"model": name, "version": served.version,
                             "prediction": rows[0]})

    return await service.respond(request, served, body, compute)


class DirectRoute(APIRoute):
    """An ``APIRoute`` whose endpoint takes the bare ``Request``: no dependency solving.

    The predict routes read and validate the body themselves (straight from bytes, after
    the cache lookup), so FastAPI's per-request dependency and body machinery would only
    add time; the route still appears in the OpenAPI document with its schemas.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint

        async def handler(request: Request) -> Response:
            response: Response = await endpoint(request)
            return response

        return handler


def _endpoint(name: str, schemas: RouteSchemas, *, batch: bool) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        return await answer(request, name, schemas, batch=batch)

    endpoint.__name__ = f"predict_{name}{'_batch' if batch else ''}"
    return endpoint


def _operation(schemas: RouteSchemas, *, batch: bool) -> dict[str, Any]:
    request_model = schemas.batch if batch else schemas.instance
    response_model = schemas.batch_response if batch else schemas.response
    return {
        "openapi_extra": {
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{request_model.__name__}"}}}},
            "security": SECURITY},
        "responses": {200: {"description": "Prediction", "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{response_model.__name__}"}}}},
            **ERROR_RESPONSES},
    }


def build_router(all_schemas: dict[str, RouteSchemas]) -> APIRouter:
    """The predict routes: one explicit pair per model, then a catch-all that answers 404."""
    router = APIRouter(prefix="/v1/predict", tags=["predict"], route_class=DirectRoute)
    for name, schemas in all_schemas.items():
        router.add_api_route(
            f"/{name}", _endpoint(name, schemas, batch=False), methods=["POST"],
            summary=f"Predict one {name} instance", response_class=Response,
            description=f"{schemas.instance.__doc__} Cached per model version "
            "(header X-Cache).", **_operation(schemas, batch=False))
        router.add_api_route(
            f"/{name}/batch", _endpoint(name, schemas, batch=True), methods=["POST"],
            summary=f"Predict many {name} instances at once", response_class=Response,
            description="One vectorised prediction; more instances than "
            "COGNIRACE_BATCH_LIMIT give 413. Costs one rate-limit token.",
            **_operation(schemas, batch=True))

    async def unknown(request: Request) -> Response:
        model = request.path_params["model"]
        return await answer(request, model, all_schemas.get(model), batch=False)

    async def unknown_batch(request: Request) -> Response:
        model = request.path_params["model"]
        return await answer(request, model, all_schemas.get(model), batch=True)

    router.add_api_route("/{model}", unknown, methods=["POST"], include_in_schema=False)
    router.add_api_route("/{model}/batch", unknown_batch, methods=["POST"],
                         include_in_schema=False)
    return router


def components(all_schemas: dict[str, RouteSchemas]) -> dict[str, Any]:
    """OpenAPI component schemas of every request and response model (with nested ones)."""
    found: dict[str, Any] = {}
    for schemas in all_schemas.values():
        for model in (schemas.instance, schemas.batch, schemas.response,
                      schemas.batch_response):
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            found.update(schema.pop("$defs", {}))
            found[model.__name__] = schema
    return found


__all__ = ["ERROR_RESPONSES", "SECURITY", "answer", "build_router", "components",
           "predict_rows"]
