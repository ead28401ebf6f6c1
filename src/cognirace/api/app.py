"""The app factory: ``create_app(settings)`` builds a complete, independent service.

Nothing happens at import time. ``create_app`` reads the keys, refuses an unsafe bind,
picks the limiter and cache (Redis when ``COGNIRACE_REDIS_URL`` is set), generates the
schemas of the eight predict routes and wires routes, error handlers and middleware;
the models load in the lifespan, once per worker. ``app_from_env`` is the factory
uvicorn calls in each worker (``cognirace serve`` passes its options as ``COGNIRACE_*``).

Middleware, outermost first: the Open Inference Protocol's error shape on ``/v2``, the
request middleware (request id, body limit, 500s, metrics, log line), then CORS, then
FastAPI's routing with the problem handlers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool

from cognirace import __version__
from cognirace.api import (
    problems,
    routes_admin,
    routes_dashboard,
    routes_meta,
    routes_oip,
    routes_races,
    routes_strategy,
    routes_v1,
    routes_vertex,
)
from cognirace.api.cache import MemoryCache, RedisCache, ResponseCache
from cognirace.api.keywatch import WatchedKeys
from cognirace.api.logs import configure_logging
from cognirace.api.metrics import Metrics
from cognirace.api.middleware import RequestMiddleware
from cognirace.api.oip_errors import OipErrorMiddleware
from cognirace.api.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from cognirace.api.redis_client import connect_redis, redact_url
from cognirace.api.reload_signal import ReloadSignal, signal_path
from cognirace.api.schemas import RouteSchemas, route_schemas
from cognirace.api.service import Service
from cognirace.api.settings import ServeSettings
from cognirace.api.store import ModelStore
from cognirace.realtime.dashboard_feed import DashboardFeeds
from cognirace.realtime.framelog import RedisFrameLog
from cognirace.realtime.hub import RaceHub
from cognirace.strategy.allocator import tune_allocator
from cognirace.training.catalogue import all_tasks

logger = logging.getLogger("cognirace.api")

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem", "type": "object", "description": "RFC 9457 problem details.",
    "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                   "status": {"type": "integer"}, "detail": {"type": "string"},
                   "instance": {"type": "string"}, "request_id": {"type": "string"},
                   "errors": {"type": "array", "items": {"type": "object"}}}}


def create_app(settings: ServeSettings, *, store: ModelStore | None = None) -> FastAPI:
    """A complete prediction service for ``settings``.

    Args:
        settings: How to run (see ``ServeSettings``).
        store: The models to serve; by default the registry at ``settings.registry_url``.
            Its models are (re)loaded from the registry when the app starts.

    Raises:
        ConfigError: Bad keys, a public bind without keys, or Redis unreachable.
    """
    keys = WatchedKeys(settings.keys_file, settings.api_keys)
    settings.check_bind(len(keys))
    metrics = Metrics()
    if store is None:
        store = ModelStore.open(settings.registry_url, settings.model_cache_dir,
                                alias=settings.model_alias)
    store.on_loaded = metrics.set_model_version
    store.on_failed = metrics.model_load_failed
    for served in store.served().values():
        metrics.set_model_version(served.name, served.version)
    limiter, cache = _limiter_and_cache(settings)
    schemas = _route_schemas(store.names)
    signal = ReloadSignal(signal_path(settings.model_cache_dir, settings.registry_url,
                                      settings.model_alias))
    service = Service(settings=settings, store=store, keys=keys, limiter=limiter,
                      cache=cache, metrics=metrics, schemas=schemas, reload_signal=signal)
    metrics.readiness = lambda: service.store.readiness()[0]

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if service.open_access:
            logger.warning("no API keys configured: serving open on %s (localhost only)",
                           settings.host)
        service.start()
        await run_in_threadpool(service.store.reload)
        yield
        await service.close()

    tune_allocator()  # strategy answers keep their arrays' memory between requests
    app = FastAPI(title="CogniRace prediction service", version=__version__,
                  description=_DESCRIPTION, lifespan=lifespan)
    app.state.service = service
    app.include_router(routes_v1.build_router(schemas))  # first: matched first
    app.include_router(routes_meta.router)
    app.include_router(routes_oip.router)
    app.include_router(routes_vertex.build_router(settings))
    app.include_router(routes_admin.router)
    app.include_router(routes_races.router)
    app.include_router(routes_strategy.router)
    dashboards = DashboardFeeds()
    routes_dashboard.install(app, dashboards)
    app.state.races = RaceHub(models=lambda name: (
        served.model if (served := store.get(name)) is not None else None),
        log=RedisFrameLog.connect(settings.redis_url, where=redact_url(settings.redis_url))
        if settings.redis_url else None,  # with Redis, every replica folds one log per race
        on_race=dashboards.attach)
    problems.install(app)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST"], allow_headers=["*"],
                           expose_headers=["X-Request-ID", "X-Cache", "X-Model-Version"])
    app.add_middleware(RequestMiddleware, metrics=metrics,
                       max_body_bytes=settings.max_body_bytes)
    app.add_middleware(OipErrorMiddleware)  # outermost: sees every problem /v2 answers
    _install_openapi(app, schemas)
    return app


def app_from_env() -> FastAPI:
    """The app of one uvicorn worker, from ``COGNIRACE_*`` (used with ``factory=True``)."""
    settings = ServeSettings()
    configure_logging(settings.log_level)
    return create_app(settings)


def _limiter_and_cache(settings: ServeSettings) -> tuple[RateLimiter, ResponseCache | None]:
    """Redis-backed when ``redis_url`` is set (shared by replicas), else in process."""
    rate, burst = settings.rate_limit_per_s, settings.rate_limit_burst
    cache: ResponseCache | None
    if settings.redis_url:
        client = connect_redis(settings.redis_url)
        logger.info("rate limits and cache in Redis at %s", redact_url(settings.redis_url))
        cache = RedisCache(client, settings.cache_ttl_s) if settings.cache_ttl_s > 0 else None
        return RedisRateLimiter(client, rate, burst), cache
    cache = (MemoryCache(settings.cache_ttl_s, settings.cache_max_entries)
             if settings.cache_ttl_s > 0 else None)
    return MemoryRateLimiter(rate, burst), cache


def _route_schemas(names: tuple[str, ...]) -> dict[str, RouteSchemas]:
    """Request and response models of each served task, from its model class's contract."""
    tasks = all_tasks()
    out = {}
    for name in names:
        if name in tasks:
            model = tasks[name].model()
            out[name] = route_schemas(name, model.input_schema(), model.output_schema(),
                                      tasks[name].title)
    return out


def _install_openapi(app: FastAPI, schemas: dict[str, RouteSchemas]) -> None:
    """Add the generated request/response models and the API-key scheme to the document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version,
                              description=app.description, routes=app.routes)
            found = doc.setdefault("components", {}).setdefault("schemas", {})
            found.update(routes_v1.components(schemas))
            for model in (routes_oip.InferRequest, routes_vertex.VertexRequest):
                schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                found.update(schema.pop("$defs", {}))
                found[model.__name__] = schema
            found["Problem"] = PROBLEM_SCHEMA
            doc["components"]["securitySchemes"] = {"APIKeyHeader": {
                "type": "apiKey", "in": "header", "name": "X-API-Key"}}
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_DESCRIPTION = """Real-time predictions of CogniRace's eight models (lap time, tire
degradation, fuel burn, pit loss, caution hazard, driver style, traffic, telemetry
anomalies), served from the model registry's production versions.

Send the key in `X-API-Key`. Errors are RFC 9457 problem details, except on the Open
Inference Protocol's `/v2` routes, which answer `{"error": "<message>"}` as its clients
expect. Every response carries `X-Request-ID`; predictions carry `X-Model-Version` and
`X-Cache`."""

__all__ = ["app_from_env", "create_app"]
