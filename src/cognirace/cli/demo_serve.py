"""The demo's serve step: the prediction service on the demo registry, asked by a client.

It starts ``cognirace serve`` as its own process, exactly as a user would, waits until
``/ready``, sends each model held-out rows over one keep-alive connection, one batch
too, and stops the service with SIGTERM (the graceful path a container gets). The
service's JSON-line log goes to a file beside the registry. The demo's client is the
only caller, so the rate limit is lifted and the cache turned off: every answer shown
is a prediction.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import orjson
import polars as pl
from rich.console import Console
from rich.table import Table

from cognirace.api.instances import instances
from cognirace.errors import CogniraceError
from cognirace.models.task import Task

PORT = 8005
READY_TIMEOUT_S = 120.0
CALLS = 50
"""Requests per model, each with another held-out row."""
BATCH = 200


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Client:
    """One keep-alive HTTP/1.1 connection to the service."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        """(status, decoded JSON, milliseconds) of one request."""
        data = orjson.dumps(body) if body is not None else None
        headers = {"content-type": "application/json"} if data else {}
        started = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            self.conn.close()  # the server closed an idle keep-alive connection: reopen
            started = time.perf_counter()
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        raw = response.read()
        elapsed = (time.perf_counter() - started) * 1e3
        return response.status, orjson.loads(raw) if raw else None, elapsed


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            status, _, _ = _Client(port).call("GET", "/ready")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-5:])
    raise CogniraceError("the prediction service did not become ready", path=log,
                         hint=f"its log ends with:\n{tail}")


def _summary(prediction: Mapping[str, Any]) -> str:
    """The first two outputs of a prediction, short (traffic: its first car)."""
    if "cars" in prediction:
        prediction = prediction["cars"][0]
    shown = [(k, v) for k, v in prediction.items() if k != "car_number"][:2]
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in shown)


def _ask_every_model(client: _Client, tasks: Sequence[Task],
                     examples: Mapping[str, pl.DataFrame]) -> Table:
    table = Table(title="The prediction service answering held-out rows over HTTP")
    for column in ("model", "version", "requests", "p50 ms", "one answer"):
        table.add_column(column, justify="right" if column in ("requests", "p50 ms")
                         else "left")
    for task in tasks:
        bodies = [body for body, _ in islice(
            instances(task.name, examples[task.name], task.model.inputs), CALLS)]
        if not bodies:
            continue
        answers = [client.call("POST", f"/v1/predict/{task.name}", body) for body in bodies]
        bad = [status for status, _, _ in answers if status != 200]
        if bad:
            raise CogniraceError(f"the service answered {bad[0]} for model {task.name!r}",
                                 value=answers[0][1])
        first = answers[0][1]
        table.add_row(task.name, first["version"], str(len(answers)),
                      f"{statistics.median(ms for _, _, ms in answers):.2f}",
                      _summary(first["prediction"]))
    return table


def serve_demo(console: Console, registry: Path, tasks: Sequence[Task],
               examples: Mapping[str, pl.DataFrame],
               then: Callable[[str], None] | None = None) -> None:
    """Serve ``registry``, ask every model of ``tasks`` held-out ``examples``, run
    ``then`` with the service's URL (the live replay), stop."""
    port = PORT if _port_free(PORT) else _free_port()
    log = registry.parent / "serve.log"
    command = [sys.executable, "-m", "cognirace.cli.main", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--registry", str(registry)]
    env = {**os.environ, "COGNIRACE_CACHE_TTL_S": "0",  # every answer computed
           "COGNIRACE_RATE_LIMIT_PER_S": "10000", "COGNIRACE_RATE_LIMIT_BURST": "10000"}
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            started = time.perf_counter()
            _wait_ready(proc, port, log)
            console.print(f"prediction service ready on 127.0.0.1:{port} in "
                          f"{time.perf_counter() - started:.1f} s (log: {log})")
            client = _Client(port)
            console.print(_ask_every_model(client, tasks, examples))
            first = tasks[0]
            batch = [body for body, _ in islice(
                instances(first.name, examples[first.name], first.model.inputs), BATCH)]
            status, answer, ms = client.call("POST", f"/v1/predict/{first.name}/batch",
                                             {"instances": batch})
            console.print(f"one batch of {len(batch)} {first.name} instances: HTTP {status}, "
                          f"{len(answer['predictions'])} predictions in {ms:.1f} ms")
            if then is not None:
                then(f"http://127.0.0.1:{port}")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    console.print(f"service stopped; serve these models yourself with "
                  f"`cognirace serve --registry {registry}`")


__all__ = ["serve_demo"]
