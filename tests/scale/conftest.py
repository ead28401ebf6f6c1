"""One local Ray with 2 CPUs for every engine test, and one local S3 API (moto's server)
for the tests of seasons and lakes at a URL, both shut down at the end.

Ray's workers import ``scale.faults`` (a piece that kills its worker), so ``tests/`` goes
on their PYTHONPATH. The engine tests form one xdist group: a single worker runs them,
so only one Ray is started.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    """A local Ray (2 CPUs, no dashboard), shut down when the session ends."""
    import ray

    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API on 127.0.0.1 (moto's server, on a free port), stopped at the end."""
    import logging

    pytest.importorskip("s3fs")
    server_module = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


S3_KEYS = {"key": "testing", "secret": "testing"}
"""Credentials moto accepts (any)."""


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh bucket's URL, with the environment set as a user's would be for it."""
    import uuid

    import fsspec

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_KEYS["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_KEYS["secret"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    name = f"cognirace-{uuid.uuid4().hex[:12]}"
    fs = fsspec.filesystem("s3")
    fs.mkdir(name)
    yield f"s3://{name}"
    fs.rm(name, recursive=True)
