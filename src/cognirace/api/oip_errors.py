"""Errors on ``/v2`` in the Open Inference Protocol's shape: ``{"error": "<message>"}``.

The protocol's clients read the message from ``error`` (``tritonclient`` raises it,
KServe's SDK puts it in its exception); a problem object makes them fail while
decoding instead. Every other route answers RFC 9457 problems (``problems``), and the
problems are made in many places: the route handlers, FastAPI's validation, the router
(404, 405), the request middleware (413 for a body over the limit, 500). So rather than
teach each of them which protocol it serves, this middleware, outermost, rewrites a
problem on a ``/v2`` path on its way out: same status and headers (``Retry-After``,
``X-Request-ID``, ...), the body ``{"error": detail}``, the detail followed by every
field error when there are several. Successful answers pass through untouched.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cognirace.api.problems import PROBLEM_JSON

PREFIX = "/v2"

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["error"], "description": "An Open Inference Protocol "
    "error.", "properties": {"error": {"type": "string", "description": "What went "
                                       "wrong, and what to do about it."}}}
OIP_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {"application/json": {"schema": ERROR_SCHEMA}}}
    for status, text in ((401, "Missing or unknown API key"), (403, "Key lacks the scope"),
                         (404, "Unknown model or version"), (413, "Body or batch too large"),
                         (422, "Invalid input: names the tensor and why"),
                         (429, "Rate limited; see Retry-After"),
                         (503, "Model not loaded"), (504, "Prediction timed out"))
}
"""The error responses of the ``/v2`` routes, for the OpenAPI document."""


def error_message(problem: bytes) -> str:
    """The message of a problem body: its detail, then each field error when several."""
    try:
        body = orjson.loads(problem)
    except orjson.JSONDecodeError:
        return problem.decode("utf-8", "replace")
    if not isinstance(body, dict):
        return str(body)
    message = str(body.get("detail") or body.get("title") or "error")
    errors = body.get("errors")
    if isinstance(errors, list) and len(errors) > 1:
        message += ": " + "; ".join(f"{e.get('field')} {e.get('reason')}" for e in errors
                                    if isinstance(e, dict))
    return message


class OipErrorMiddleware:
    """Rewrites problem+json answers on ``/v2`` paths as ``{"error": ...}``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        chunks: list[bytes] = []

        async def send_shaped(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and _is_problem(message):
                held = message
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = orjson.dumps({"error": error_message(b"".join(chunks))})
            headers = [(k, v) for k, v in held.get("headers", [])
                       if k.lower() not in (b"content-type", b"content-length")]
            headers += [(b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode())]
            await send({**held, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, send_shaped)


def _is_problem(start: Message) -> bool:
    for name, value in start.get("headers", []):
        if name.lower() == b"content-type":
            return bool(value.decode("latin-1").startswith(PROBLEM_JSON))
    return False


__all__ = ["ERROR_SCHEMA", "OIP_ERRORS", "OipErrorMiddleware", "error_message"]
