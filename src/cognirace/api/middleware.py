"""The one ASGI middleware around every request: id, body limit, errors, metrics, log line.

Written against raw ASGI rather than Starlette's ``BaseHTTPMiddleware``, which costs a
task and a stream per request: this runs on the hot path of every prediction. It sits
inside Starlette's own error middleware, so it turns any unexpected exception into a
500 problem itself, with the request id and without the traceback (which is logged).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cognirace.api.metrics import Metrics
from cognirace.api.problems import PROBLEM_JSON, problem_body

logger = logging.getLogger("cognirace.api.access")
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class BodyTooLargeError(Exception):
    """The streamed body passed the limit although ``Content-Length`` did not say so."""


class RequestMiddleware:
    """Request id, body size limit, 500 problems, metrics and one JSON log line per request.

    Handlers put ``model`` and ``headers`` (e.g. rate-limit headers) in ``scope["state"]``;
    they are added to the response whatever its status.
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state: dict[str, Any] = scope.setdefault("state", {})
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        state["request_id"] = request_id
        status = {"code": 500, "started": False}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["started"] = message["status"], True
                headers = message.setdefault("headers", [])
                headers.append((b"x-request-id", request_id.encode()))
                for name, value in state.get("headers", {}).items():
                    headers.append((name.lower().encode(), value.encode()))
            await send(message)

        try:
            if _content_length(scope) > self.max_body_bytes:
                raise BodyTooLargeError
            await self.app(scope, self._limited(receive), send_with_headers)
        except BodyTooLargeError:
            await self._problem(scope, send_with_headers, status, 413,
                                f"request body over {self.max_body_bytes} bytes", "too-large")
        except Exception:
            logger.exception("unhandled error", extra={"request_id": request_id})
            await self._problem(scope, send_with_headers, status, 500,
                                "internal error; quote the request_id when reporting it",
                                "internal")
        finally:
            self._record(scope, state, int(status["code"]), time.perf_counter() - started)

    def _limited(self, receive: Receive) -> Receive:
        """``receive`` that counts body bytes and stops past the limit."""
        seen = 0

        async def receive_limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise BodyTooLargeError
            return message

        return receive_limited

    async def _problem(self, scope: Scope, send: Send, status: dict[str, Any], code: int,
                       detail: str, kind: str) -> None:
        if status["started"]:
            return  # too late for another response; the log line says what happened
        body = problem_body(code, detail, path=scope["path"],
                            request_id=scope["state"]["request_id"], kind=kind)
        await send({"type": "http.response.start", "status": code, "headers": [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    def _record(self, scope: Scope, state: dict[str, Any], status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        model = str(state.get("model", ""))
        self.metrics.observe_request(template, scope["method"], model, status, seconds)
        logger.info("request", extra={
            "request_id": state["request_id"], "method": scope["method"],
            "path": scope["path"], "route": template, "model": model, "status": status,
            "duration_ms": round(seconds * 1e3, 3), "key_id": state.get("key_id")})


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _ID.match(text) else None
    return None


def _content_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


__all__ = ["BodyTooLargeError", "RequestMiddleware"]
