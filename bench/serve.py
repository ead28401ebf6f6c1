"""Benchmark: the prediction service over loopback HTTP, against the same models in process.

The script starts ``cognirace serve`` on a free port of 127.0.0.1 (open access, response
cache off, rate limits out of the way, so every request is a real prediction), waits for
``/ready`` and measures:

* single-request latency of every model: N requests (default 2,000) of one instance each,
  one after the other over one keep-alive connection with ``TCP_NODELAY``, cycling
  through up to 256 different rows; p50 and p99 in ms;
* the overhead of HTTP: the same rows through ``model.predict`` in this process (the
  production version, loaded from the same registry), and HTTP p50 minus in-process p50;
* throughput of the cheapest routes, ``GET /health`` and ``POST /v1/predict/pitloss``:
  32 clients, each on its own keep-alive connection, sending their next request as soon
  as the last one is answered, for 5 s; requests per second.

The client is written for low overhead, since on a 2-core machine it shares the CPU with
the server: prebuilt request bytes over raw sockets (blocking for latency, one asyncio
event loop for throughput). Targets, printed next to each figure with PASS or FAIL: p99
under 10 ms for a tree model (the LightGBM models: laptime, anomaly), overhead under 2 ms
at p50, 1,000 requests/s or more.

Without ``--registry`` the script simulates a small season, ingests it and trains every
task into a temporary registry first, as ``bench/predict.py`` does; without ``--lake`` the
requests are built from that season. The server's log goes to a file in the temporary
folder. The server and the in-process calls share this process's environment: the
container image sets ``OMP_NUM_THREADS=1 POLARS_MAX_THREADS=1``; set them here too to
measure what it runs.

    python bench/serve.py [--registry DIR_OR_URL --lake DIR] [--calls 2000] [--seconds 5]
                          [--clients 32] [--workers 1] [-m laptime]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import cast

import numpy as np
import polars as pl

from cognirace.api.instances import instances
from cognirace.errors import CogniraceError
from cognirace.lake import open_lake
from cognirace.models.base import Model
from cognirace.registry import Registry
from cognirace.training import (
    all_tasks,
    load_production,
    open_registry,
    select_tasks,
    task_examples,
    train,
)
from predict import DISTINCT_ROWS, WARMUP_CALLS, small_season, time_calls

HOST = "127.0.0.1"
KINDS = {"laptime": "tree", "anomaly": "tree", "traffic": "GNN"}
"""laptime and anomaly are LightGBM boosters, traffic a small PyTorch graph network; the
others are linear (fuel, pitloss and tire regressions, fcy's logistic hazard, driver's
discriminant projection)."""
TREE_MODELS = frozenset(name for name, kind in KINDS.items() if kind == "tree")
THROUGHPUT_MODEL = "pitloss"
P99_TARGET_MS = 10.0
OVERHEAD_TARGET_MS = 2.0
THROUGHPUT_TARGET = 1_000.0
READY_TIMEOUT_S = 300.0
NOT_READY_GRACE_S = 5.0
STOP_TIMEOUT_S = 20.0
WARMUP_S = 0.5


# --- request bodies ---------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    """One model's requests and the same inputs as frames for the in-process calls."""

    name: str
    path: str
    bodies: list[bytes]
    frames: list[pl.DataFrame]


def workload(name: str, model: Model, rows: pl.DataFrame) -> Workload:
    """Up to ``DISTINCT_ROWS`` request bodies of ``name`` from its example rows."""
    bodies, frames = [], []
    for instance, frame in instances(name, rows, model.input_schema()):
        bodies.append(json.dumps(instance, allow_nan=False).encode())
        frames.append(frame)
        if len(bodies) == DISTINCT_ROWS:
            break
    if not bodies:
        raise SystemExit(f"no row of {name!r} has every input present and in range")
    return Workload(name, f"/v1/predict/{name}", bodies, frames)


def http_request(method: str, path: str, body: bytes = b"") -> bytes:
    """The bytes of one HTTP/1.1 keep-alive request to the benchmark server."""
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n"
    if method == "POST":
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


def body_length(head: bytes) -> int:
    """Content-Length of a response head (the service sends no chunked bodies)."""
    lower = head.lower()
    at = lower.find(b"content-length:")
    if at < 0:
        raise ValueError(f"response without Content-Length: {head[:200]!r}")
    return int(lower[at + 15:lower.index(b"\r\n", at)])


# --- latency: one blocking keep-alive connection ------------------------------------------

class Connection:
    """A keep-alive HTTP/1.1 connection with Nagle off: send bytes, read one response."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((HOST, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def send(self, request: bytes) -> tuple[int, bytes, bytes]:
        """Send one request and return (status, head, body) of its response."""
        self.sock.sendall(request)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._receive()
        head = self.buffer[:end]
        stop = end + 4 + body_length(head)
        while len(self.buffer) < stop:
            self._receive()
        body, self.buffer = self.buffer[end + 4:stop], self.buffer[stop:]
        return int(head[9:12]), head, body

    def _receive(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def close(self) -> None:
        self.sock.close()


@dataclass(frozen=True)
class Latency:
    """Single-request figures of one model, in ms."""

    http_p50: float
    http_p99: float
    local_p50: float
    errors: int
    cache_hits: int


def check_bodies(conn: Connection, load: Workload) -> Workload | None:
    """Send every body once (the warm-up); keep those answered 200 and say why others fail.

    Returns None when the server refuses them all (a model it could not load, say).
    """
    kept, frames, refused = [], [], []
    for body, frame in zip(load.bodies, load.frames, strict=True):
        status, _, answer = conn.send(http_request("POST", load.path, body))
        if status == 200:
            kept.append(body)
            frames.append(frame)
        else:
            refused.append((status, answer))
    if refused:
        status, answer = refused[0]
        print(f"  {load.name}: {len(refused)} of {len(load.bodies)} rows refused, first "
              f"with {status}: {answer[:300].decode(errors='replace')}")
    return None if not kept else Workload(load.name, load.path, kept, frames)


def measure_latency(port: int, load: Workload, model: Model, n_calls: int) -> Latency | None:
    """HTTP p50/p99 over one connection and the in-process p50 of the same rows.

    None when the server answers no request of this model with a prediction.
    """
    conn = Connection(port)
    try:
        checked = check_bodies(conn, load)
        if checked is None:
            return None
        load = checked
        requests = [http_request("POST", load.path, body) for body in load.bodies]
        for i in range(WARMUP_CALLS):
            conn.send(requests[i % len(requests)])
        times, errors, hits = [], 0, 0
        for i in range(n_calls):
            started = time.perf_counter_ns()
            status, head, _ = conn.send(requests[i % len(requests)])
            times.append((time.perf_counter_ns() - started) / 1e6)
            errors += status != 200
            hits += b"x-cache: hit" in head.lower()
    finally:
        conn.close()
    local = time_calls(lambda i: model.predict(load.frames[i % len(load.frames)]), n_calls)
    return Latency(statistics.median(times), float(np.percentile(times, 99)),
                   statistics.median(local), errors, hits)


# --- throughput: many keep-alive connections on one event loop ---------------------------

class LoadClient(asyncio.Protocol):
    """One closed-loop client: sends its next request as soon as a response is complete."""

    def __init__(self, requests: Sequence[bytes], offset: int) -> None:
        self.requests = requests
        self.next = offset
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.loop = asyncio.get_running_loop()
        self.stop_at = 0.0
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.ok = 0
        self.errors = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def start(self, stop_at: float) -> asyncio.Future[None]:
        """Send requests until the loop's clock reaches ``stop_at``; resolves when idle."""
        self.stop_at, self.ok, self.errors = stop_at, 0, 0
        self.done = self.loop.create_future()
        self._send()
        return self.done

    def _send(self) -> None:
        assert self.transport is not None
        self.transport.write(self.requests[self.next % len(self.requests)])
        self.next += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            stop = end + 4 + body_length(bytes(self.buffer[:end]))
            if len(self.buffer) < stop:
                return
            if self.buffer[9:12] == b"200":
                self.ok += 1
            else:
                self.errors += 1
            del self.buffer[:stop]
            if self.loop.time() < self.stop_at:
                self._send()
            elif not self.done.done():
                self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or ConnectionError("the server closed a connection"))


@dataclass(frozen=True)
class Throughput:
    """Closed-loop load on one route."""

    requests: int
    errors: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds


async def load_route(port: int, requests: Sequence[bytes], clients: int,
                     seconds: float) -> Throughput:
    """Connect ``clients`` clients, warm them up, then count responses for ``seconds``."""
    loop = asyncio.get_running_loop()
    conns = []
    for i in range(clients):
        _, client = await loop.create_connection(partial(LoadClient, requests, i), HOST, port)
        conns.append(client)
    try:
        for duration in (WARMUP_S, seconds):
            started = loop.time()
            await asyncio.gather(*(c.start(started + duration) for c in conns))
            elapsed = loop.time() - started
        return Throughput(sum(c.ok for c in conns), sum(c.errors for c in conns), elapsed)
    finally:
        for client in conns:
            if client.transport is not None:
                client.transport.close()


def measure_throughput(port: int, requests: Sequence[bytes], clients: int,
                       seconds: float) -> Throughput:
    """``load_route`` on uvloop when it is installed (it comes with uvicorn[standard])."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:
        import uvloop
        factory = uvloop.new_event_loop
    except ImportError:
        pass
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(load_route(port, requests, clients, seconds))


# --- the server ------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def serve_command() -> list[str]:
    """``cognirace`` of this interpreter's environment, else the module's entry point."""
    script = Path(sys.executable).with_name("cognirace")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from cognirace.cli.main import main; main()"]


def server_env(tmp: Path) -> dict[str, str]:
    """The environment of an open, cache-free server that reads no local keys or Redis."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AIP_") and k not in {
               "COGNIRACE_API_KEYS", "COGNIRACE_REDIS_URL", "PORT"}}
    env.update(COGNIRACE_HOST=HOST, COGNIRACE_CACHE_TTL_S="0",
               COGNIRACE_RATE_LIMIT_PER_S="1e9", COGNIRACE_RATE_LIMIT_BURST="1000000000",
               COGNIRACE_KEYS_FILE=str(tmp / "no-api-keys.json"),
               COGNIRACE_MODEL_CACHE_DIR=str(tmp / "model-cache"))
    return env


@contextmanager
def running_server(registry: str, port: int, workers: int, tmp: Path) -> Iterator[None]:
    """``cognirace serve`` in the background until the block ends; SIGTERM stops it."""
    log_path = tmp / "serve.log"
    command = [*serve_command(), "serve", "--host", HOST, "--port", str(port),
               "--workers", str(workers), "--registry", registry]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                env=server_env(tmp), start_new_session=True)
    try:
        wait_ready(proc, port, log_path)
        yield
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
                print(f"server ignored SIGTERM for {STOP_TIMEOUT_S:.0f} s and was killed")
            clean = "Application shutdown complete" in log_path.read_text(errors="replace")
            # uvicorn re-raises the SIGTERM it handled, so -15 is its normal exit status
            how = "graceful shutdown" if clean else "no clean shutdown in its log"
            print(f"server stopped by SIGTERM ({how}, exit status {code})")


def log_tail(log_path: Path, lines: int = 20) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


def wait_ready(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    """Wait for ``/ready``; go on with the models it serves when it stays 503.

    The models load before the server accepts connections, so a 503 that lasts
    ``NOT_READY_GRACE_S`` after the first answer names models that will not come.
    """
    started = time.perf_counter()
    answered: float | None = None
    while time.perf_counter() - started < READY_TIMEOUT_S:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}:\n"
                             f"{log_tail(log_path)}")
        try:
            conn = Connection(port)
        except OSError:
            time.sleep(0.2)
            continue
        try:
            status, _, body = conn.send(http_request("GET", "/ready"))
        finally:
            conn.close()
        if status == 200:
            print(f"server ready in {time.perf_counter() - started:.1f} s")
            return
        answered = answered or time.perf_counter()
        if time.perf_counter() - answered > NOT_READY_GRACE_S:
            print(f"server answers but is not ready ({status}): {body[:500].decode()}\n"
                  "measuring the models it serves")
            return
        time.sleep(0.5)
    raise SystemExit(f"the server did not answer within {READY_TIMEOUT_S:.0f} s:\n"
                     f"{log_tail(log_path)}")


# --- report ----------------------------------------------------------------------------

def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_latency(n_calls: int, results: Mapping[str, Latency | None]) -> list[bool]:
    """The single-request table; returns each target's outcome."""
    print(f"\nsingle requests, {n_calls:,} per model over one keep-alive connection "
          "(cache off); overhead = HTTP p50 - in-process p50")
    print(f"{'model':<10}{'kind':<7}{'HTTP p50 ms':>12}{'HTTP p99 ms':>12}"
          f"{'in-proc p50':>12}{'overhead ms':>12}{'errors':>8}  "
          f"{'p99 < 10 ms':<13}{'overhead < 2 ms'}")
    outcomes = []
    for name, r in results.items():
        tree, kind = name in TREE_MODELS, KINDS.get(name, "linear")
        if r is None:
            outcomes.append(False)
            print(f"{name:<10}{kind:<7}  FAIL: not measured (see above)")
            continue
        overhead = r.http_p50 - r.local_p50
        p99_ok = r.http_p99 < P99_TARGET_MS and r.errors == 0
        over_ok = overhead < OVERHEAD_TARGET_MS and r.errors == 0
        outcomes += [p99_ok, over_ok] if tree else [over_ok]
        print(f"{name:<10}{kind:<7}{r.http_p50:>12.3f}"
              f"{r.http_p99:>12.3f}{r.local_p50:>12.3f}{overhead:>12.3f}{r.errors:>8}  "
              f"{verdict(p99_ok) if tree else '-':<13}{verdict(over_ok)}")
        if r.cache_hits:
            print(f"  warning: {r.cache_hits} responses of {name} came from the cache")
    return outcomes


def print_throughput(clients: int, results: Mapping[str, Throughput]) -> list[bool]:
    """The throughput table; returns each target's outcome."""
    print(f"\nthroughput, {clients} concurrent clients on keep-alive connections")
    print(f"{'route':<27}{'seconds':>8}{'requests':>10}{'errors':>8}{'req/s':>9}  "
          f"{'>= 1,000 req/s'}")
    outcomes = []
    for route, r in results.items():
        ok = r.per_s >= THROUGHPUT_TARGET and r.errors == 0
        outcomes.append(ok)
        print(f"{route:<27}{r.seconds:>8.1f}{r.requests:>10,}{r.errors:>8}{r.per_s:>9,.0f}  "
              f"{verdict(ok)}")
    return outcomes


# --- main --------------------------------------------------------------------------------

def build_registry(args: argparse.Namespace, tmp: Path) -> tuple[str, dict[str, pl.DataFrame]]:
    """The registry URL and each measured task's example rows (plus pitloss's)."""
    names = [task.name for task in select_tasks(args.models)]
    wanted = select_tasks(list(dict.fromkeys([*names, THROUGHPUT_MODEL])))
    lake = open_lake(args.lake) if args.lake else small_season(tmp)
    if args.registry:
        url = str(args.registry)
    else:
        url = str(tmp / "registry")
        every = list(all_tasks().values())  # the server is ready only with all eight
        started = time.perf_counter()
        train(lake, open_registry(url, every), every, seed=0)
        print(f"trained {len(every)} models in {time.perf_counter() - started:.0f} s "
              f"on {len(lake.race_ids)} races")
    return url, task_examples(lake, wanted)


def production_models(registry: Registry, names: Sequence[str]) -> dict[str, Model]:
    """Each model's production version for the in-process calls; say which cannot load."""
    models = {}
    for name in names:
        try:
            models[name] = load_production(registry, name)[0]
        except CogniraceError as exc:
            print(f"  {name}: not measured, it does not load here: {exc}")
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", help="registry with production models (default: "
                        "train on a small simulated season first)")
    parser.add_argument("--lake", type=Path, help="lake to build the requests from")
    parser.add_argument("--calls", type=int, default=2_000, help="single requests per model")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each load run")
    parser.add_argument("--clients", type=int, default=32, help="concurrent load clients")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("-m", "--models", action="append", help="only these models")
    args = parser.parse_args()
    # a SIGTERM to the benchmark unwinds like Ctrl-C, so the server is stopped too
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(128 + signal.SIGTERM))
    measured = [task.name for task in select_tasks(args.models)]
    with tempfile.TemporaryDirectory(prefix="cognirace-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        url, examples = build_registry(args, tmp)
        registry: Registry = open_registry(url, select_tasks(list(examples)))
        models = production_models(registry, list(examples))
        loads = {name: workload(name, model, examples[name]) for name, model in models.items()}
        port = free_port()
        load_before = os.getloadavg()[0]
        with running_server(url, port, args.workers, tmp):
            latency = {name: measure_latency(port, loads[name], models[name], args.calls)
                       if name in models else None for name in measured}
            routes = {"GET /health": [http_request("GET", "/health")]}
            if THROUGHPUT_MODEL in loads:
                cheap = loads[THROUGHPUT_MODEL]
                routes[f"POST {cheap.path}"] = [http_request("POST", cheap.path, body)
                                                for body in cheap.bodies]
            throughput = {route: measure_throughput(port, requests, args.clients, args.seconds)
                          for route, requests in routes.items()}
        print(f"{os.cpu_count()} CPUs, server with {args.workers} worker(s); load average "
              f"{load_before:.1f} before the run (other work on the machine skews the figures)")
        outcomes = print_latency(args.calls, latency)
        outcomes += print_throughput(args.clients, throughput)
        failed = outcomes.count(False)
        print(f"\n{len(outcomes) - failed} of {len(outcomes)} targets met"
              + (f", {failed} FAIL" if failed else ""))


if __name__ == "__main__":
    main()
