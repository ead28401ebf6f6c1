"""What every route shares: models, keys, limiter, cache, metrics, and the predict call.

One ``Service`` per app (so per worker), built by ``create_app`` and kept in
``app.state.service``. Routes reach it through ``ServiceDep``. It owns the steps every
predict route takes in the same order: authenticate, rate-limit, find the model, then
run the CPU-bound ``predict`` in a worker thread under a time limit, so the event loop
keeps serving other requests and a slow prediction ends in a 504, not a hung client.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any

import polars as pl
from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from cognirace.api.auth import Principal
from cognirace.api.cache import ResponseCache, cache_key
from cognirace.api.keywatch import WatchedKeys
from cognirace.api.metrics import Metrics
from cognirace.api.problems import ProblemError, field_errors, invalid_input
from cognirace.api.ratelimit import RateLimiter, rate_limit_headers
from cognirace.api.reload_signal import ReloadSignal
from cognirace.api.schemas import RouteSchemas
from cognirace.api.settings import ServeSettings
from cognirace.api.store import ModelStore, Served
from cognirace.errors import CogniraceError

PREDICT_THREADS = 4
"""Prediction threads per worker: LightGBM and PyTorch release the GIL while they work."""


@dataclass
class Service:
    """The state of one app; see the module docstring."""

    settings: ServeSettings
    store: ModelStore
    keys: WatchedKeys
    limiter: RateLimiter
    cache: ResponseCache | None
    metrics: Metrics
    schemas: dict[str, RouteSchemas]
    reload_signal: ReloadSignal | None = None
    executor: ThreadPoolExecutor = field(default_factory=lambda: _threads())

    @property
    def open_access(self) -> bool:
        """True when no key is configured: every caller is let in (localhost only)."""
        return self.keys.open_access

    def authenticate(self, request: Request, scope: str) -> Principal | None:
        """The caller's key, checked for ``scope``; None in open access.

        Raises:
            ProblemError: 401 without a known key, 403 when the key lacks the scope.
        """
        if self.open_access:
            return None
        principal = self.keys.current().authenticate(request.headers.get("x-api-key"))
        if principal is None:
            raise ProblemError(401, "missing or unknown API key; send it in the X-API-Key "
                               "header", kind="unauthorized",
                               headers={"WWW-Authenticate": 'APIKey header="X-API-Key"'})
        request.scope["state"]["key_id"] = principal.key_id
        if not principal.allows(scope):
            raise ProblemError(403, f"this key lacks the {scope!r} scope", kind="forbidden")
        return principal

    async def admit(self, request: Request, scope: str = "predict", *,
                    model: str | None = None) -> Principal | None:
        """Authenticate, then take one token from the caller's bucket.

        The rate-limit headers go on the response whatever its status, and a request
        for ``model`` counts under it in the metrics even when it is refused here.

        Raises:
            ProblemError: 401, 403, or 429 with ``Retry-After``.
        """
        if model is not None:
            self._label(request, model)
        principal = self.authenticate(request, scope)
        if principal is not None:
            bucket = principal.key_id
        else:
            bucket = f"ip:{request.client.host if request.client else 'unknown'}"
        decision = await self.limiter.hit(bucket)
        headers = rate_limit_headers(decision)
        request.scope["state"]["headers"] = headers
        if not decision.allowed:
            self.metrics.rate_limited(bucket)
            raise ProblemError(429, f"rate limit of {decision.limit} requests reached; "
                               f"retry in {headers.get('Retry-After', '1')} s",
                               kind="rate-limited")
        return principal

    def served(self, request: Request, name: str) -> Served:
        """The bundle serving ``name``, taken once for the whole request.

        Raises:
            ProblemError: 404 for an unknown model, 503 when it is not loaded.
        """
        self._label(request, name)
        if self.reload_signal is not None and self.reload_signal.due():
            # another worker reloaded: follow it without holding up this request
            threading.Thread(target=self.store.reload, name="cognirace-reload",
                             daemon=True).start()
        served = self.store.get(name)
        if served is not None:
            return served
        if name not in self.store.names:
            raise ProblemError(404, f"no model named {name!r}", kind="unknown-model",
                               models=list(self.store.names))
        raise ProblemError(503, f"model {name!r} is not loaded; see /ready",
                           kind="model-unavailable", headers={"Retry-After": "30"})

    def check_batch(self, n_rows: int) -> None:
        """Refuse a batch of more than ``batch_limit`` rows, the same on every route.

        Raises:
            ProblemError: 413, with the limit.
        """
        limit = self.settings.batch_limit
        if n_rows > limit:
            raise ProblemError(413, f"{n_rows} instances in one batch; the limit is {limit}",
                               kind="batch-too-large", limit=limit)

    def _label(self, request: Request, name: str) -> None:
        """Name the request's model for metrics and logs; known names only, so a
        client cannot mint label values."""
        if name in self.store.names:
            request.scope["state"]["model"] = name

    async def predict(self, served: Served, frame: pl.DataFrame) -> pl.DataFrame:
        """``served.model.predict(frame)`` in a worker thread, within the time limit.

        Raises:
            ProblemError: 504 past ``predict_timeout_s``; 422 when the model refuses the
                input (a ``CogniraceError``: rows it cannot use).
        """
        if frame.height == 0:  # an empty batch: nothing to compute, and not every model
            return pl.DataFrame(schema={s.name: s.polars_dtype for s in served.outputs})
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, served.model.predict, frame)
        try:
            return await asyncio.wait_for(future, self.settings.predict_timeout_s)
        except TimeoutError:
            raise ProblemError(504, f"prediction took over {self.settings.predict_timeout_s}"
                               " s", kind="timeout") from None
        except CogniraceError as exc:
            raise ProblemError(422, f"the {served.name} model cannot use this input: "
                               f"{exc.message}", kind="invalid-input",
                               errors=[{"field": exc.column or "(body)",
                                        "reason": exc.hint or exc.message}]) from None

    async def respond(self, request: Request, served: Served, body: bytes,
                      compute: Callable[[], Awaitable[bytes]]) -> Response:
        """The cached response for this model version, route and body, else ``compute()``.

        The key includes the version, so a reload never serves an older version's answer.
        """
        headers = {"X-Model-Version": served.version, "X-Cache": "miss"}
        if self.cache is None:
            return Response(await compute(), media_type="application/json", headers=headers)
        key = cache_key(served.name, served.version, request.scope["path"], body)
        hit = await self.cache.get(key)
        if hit is not None:
            self.metrics.cache_hit(served.name)
            headers["X-Cache"] = "hit"
            return Response(hit, media_type="application/json", headers=headers)
        self.metrics.cache_miss(served.name)
        content = await compute()
        await self.cache.set(key, content)
        return Response(content, media_type="application/json", headers=headers)

    def start(self) -> None:
        """Fresh prediction threads when an earlier shutdown released them.

        An app may live through more than one lifespan (test clients start and stop it
        around each session), so start-up must undo what ``close`` did.
        """
        if self.executor._shutdown:
            self.executor = _threads()

    async def close(self) -> None:
        """Release the limiter, the cache and the prediction threads."""
        await self.limiter.close()
        if self.cache is not None:
            await self.cache.close()
        self.executor.shutdown(wait=False, cancel_futures=True)


def _threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(PREDICT_THREADS, thread_name_prefix="cognirace-predict")


def validate(model: type[BaseModel], body: bytes) -> Any:
    """Parse and check ``body`` against ``model`` in one pass (pydantic-core's JSON parser).

    Raises:
        ProblemError: 422 naming each bad field and why.
    """
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise invalid_input(field_errors(exc.errors(include_url=False))) from None


def get_service(request: Request) -> Service:
    """The app's ``Service``."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]

__all__ = ["Service", "ServiceDep", "get_service", "validate"]
