"""One local Ray with 2 CPUs for every engine test, shut down at the end.

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
