"""``cognirace serve``: its help, its refusal of unsafe binds, and a real start and stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from cognirace.cli.main import _register, app


def run(*args: str) -> Any:
    _register()
    return CliRunner().invoke(app, list(args))


def test_help_explains_options_and_settings() -> None:
    result = run("serve", "--help")
    assert result.exit_code == 0
    for text in ("--host", "--port", "--workers", "--registry", "--reload",
                 "COGNIRACE_BATCH_LIMIT", "COGNIRACE_PREDICT_TIMEOUT_S",
                 "COGNIRACE_CACHE_TTL_S", "COGNIRACE_CORS_ORIGINS", "AIP_PREDICT_ROUTE"):
        assert text in result.output, text


def test_public_bind_without_keys_is_refused(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COGNIRACE_KEYS_FILE", str(tmp_path / "none.json"))
    result = run("serve", "--host", "0.0.0.0", "--port", "8099")
    assert result.exit_code != 0
    assert "cognirace keys create" in str(result.exception)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
def test_serves_in_the_foreground_and_stops_on_sigterm(trained: Any, tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COGNIRACE_", "AIP_"))}
    env["COGNIRACE_KEYS_FILE"] = str(tmp_path / "none.json")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cognirace.cli.main", "serve", "--port", str(port),
         "--registry", str(trained.registry)], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, proc.poll()
        assert ready.headers["x-request-id"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    # uvicorn finishes the shutdown, then re-raises the signal so the exit status says so
    assert proc.returncode in (0, -signal.SIGTERM), err.decode()[-2000:]
    assert b"Application shutdown complete" in err
    assert b'"severity"' in err  # JSON-line logs


@pytest.mark.slow
def test_two_workers_share_one_metrics_view(trained: Any, tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COGNIRACE_", "AIP_", "PROMETHEUS_"))}
    env["COGNIRACE_KEYS_FILE"] = str(tmp_path / "none.json")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cognirace.cli.main", "serve", "--port", str(port),
         "--workers", "2", "--registry", str(trained.registry)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        instance = trained.instances("pitloss")[0]
        for i in range(20):  # a new connection each time: both workers answer some
            assert httpx.post(f"{base}/v1/predict/pitloss", json={**instance, "n": i},
                              timeout=10).status_code == 200
        for _ in range(4):  # whichever worker answers the scrape counts all of them
            text = httpx.get(f"{base}/metrics", timeout=10).text
            counted = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                          if line.startswith("cognirace_http_requests_total{")
                          and "/v1/predict/pitloss" in line)
            assert counted == 20
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
