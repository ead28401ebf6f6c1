"""Errors as RFC 9457 problem details (``application/problem+json``), and nothing else.

Every failure a client can meet leaves the service in one shape: ``type``, ``title``,
``status``, ``detail``, the ``instance`` path and the ``request_id`` (to find the
server's log line), plus ``errors`` for invalid input, each naming the field and why.
This is the one module that maps errors to HTTP status. A 500 carries the request id
only: the traceback stays in the server's log.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://cognirace.dev/problems/"
"""Base of the ``type`` URIs, one per kind of problem (documented in the README)."""

_REASONS = {
    "finite_number": "must be a finite number (NaN and infinity are refused)",
    "missing": "is required",
    "greater_than_equal": "is below its physical range",
    "less_than_equal": "is above its physical range",
    "greater_than": "is below its physical range",
    "less_than": "is above its physical range",
}


class ProblemError(Exception):
    """Raised anywhere in a request to answer with a problem.

    Args:
        status: HTTP status.
        detail: What went wrong for this request, in the client's terms.
        kind: Slug of the problem type (``invalid-input``, ``unknown-model``...).
        headers: Extra response headers (``Retry-After``, ``WWW-Authenticate``...).
        extra: Further members of the problem object (``errors``, ``limit``...).
    """

    def __init__(self, status: int, detail: str, *, kind: str | None = None,
                 headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.headers = dict(headers or {})
        self.extra = extra


def problem_body(status: int, detail: str, *, path: str, request_id: str | None,
                 kind: str | None = None, **extra: Any) -> bytes:
    """The JSON bytes of a problem object."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body = {"type": PROBLEM_BASE + kind if kind else "about:blank", "title": phrase,
            "status": status, "detail": detail, "instance": path, "request_id": request_id,
            **extra}
    return orjson.dumps(body, default=str)


def problem_response(status: int, detail: str, *, path: str, request_id: str | None,
                     kind: str | None = None, headers: Mapping[str, str] | None = None,
                     **extra: Any) -> Response:
    """A problem+json response."""
    return Response(problem_body(status, detail, path=path, request_id=request_id,
                                 kind=kind, **extra),
                    status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_errors(errors: Iterable[Mapping[str, Any]], *, skip: int = 0) -> list[dict[str, Any]]:
    """Pydantic errors as ``{"field", "reason", "type", "value"}``, fields in dotted form.

    Args:
        errors: ``ValidationError.errors()``.
        skip: Leading ``loc`` parts to drop (``("body",)`` from FastAPI's own errors).
    """
    out = []
    for error in errors:
        loc = list(error.get("loc", ()))[skip:]
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        kind = str(error.get("type", "invalid"))
        value = None if kind == "missing" else _echo(error.get("input"))
        out.append({"field": field or "(body)", "reason": _REASONS.get(kind, error["msg"]),
                    "type": kind, "value": value})
    return out


def _echo(value: Any) -> Any:
    """The offending value, if it is a short scalar that JSON can carry; else None."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # NaN and inf are not JSON
    if isinstance(value, str):
        return value[:100].encode("utf-8", "replace").decode("utf-8")
    return None  # objects, lists, raw bodies: the field name says enough


def invalid_input(errors: list[dict[str, Any]]) -> ProblemError:
    """A 422 naming each bad field and why."""
    first = errors[0] if errors else {"field": "(body)", "reason": "is invalid"}
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ProblemError(422, f"field {first['field']!r} {first['reason']}{more}",
                        kind="invalid-input", errors=errors)


def _request_id(request: Request) -> str | None:
    state = request.scope.get("state") or {}
    rid = state.get("request_id")
    return rid if isinstance(rid, str) else None


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.status, exc.detail, path=request.url.path,
                            request_id=_request_id(request), kind=exc.kind,
                            headers=exc.headers, **exc.extra)


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(exc.errors(), skip=1)
    problem = invalid_input(errors)
    return await _on_problem(request, problem)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.url.path}; see /docs for the API"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
    return problem_response(exc.status_code, detail, path=request.url.path,
                            request_id=_request_id(request), headers=exc.headers)


def install(app: FastAPI) -> None:
    """Route every error of ``app`` to a problem response."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)


__all__ = ["PROBLEM_JSON", "ProblemError", "field_errors", "install", "invalid_input",
           "problem_body", "problem_response"]
