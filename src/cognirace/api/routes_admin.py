"""``POST /v1/admin/reload``: serve the registry's current production versions, live.

The reload runs in a worker thread while requests keep flowing; each model is swapped
whole once its new version is loaded and verified, and a request in flight finishes on
the version it started with. A version that fails to load leaves the previous one
serving. The worker the request reaches reloads at once and signals the machine's
other workers, which follow within about a second (``reload_signal``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cognirace.api.routes_meta import json_response
from cognirace.api.routes_v1 import ERROR_RESPONSES, SECURITY
from cognirace.api.service import ServiceDep

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/reload", summary="Load the registry's production versions (admin key)",
             openapi_extra={"security": SECURITY},
             responses={k: ERROR_RESPONSES[k] for k in (401, 403, 429)})
async def reload(request: Request, service: ServiceDep) -> Response:
    """Per model: ``loaded`` (new version), ``unchanged`` or ``failed`` (previous kept)."""
    await service.admit(request, "admin")
    outcomes = await run_in_threadpool(service.store.reload)
    if service.reload_signal is not None:
        service.reload_signal.notify()
    failed = [name for name, o in outcomes.items() if o.status == "failed"]
    return json_response({"ok": not failed, "failed": failed,
                          "models": {name: o.to_dict() for name, o in outcomes.items()}})


__all__ = ["router"]
