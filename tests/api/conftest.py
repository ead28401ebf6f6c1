"""Fixtures of the prediction service tests: a registry trained once, apps over HTTP.

The registry is trained on a tiny simulated season (2 tracks x 2 races x 12 cars,
telemetry at 2 Hz) once per session, which takes about 30 s on two cores; every test
then builds its own app around it (``make_client``), with the settings it needs, and
talks to it over HTTP through ``TestClient``. A session-wide ``ModelStore`` holds the
loaded models, so an app starts in milliseconds; tests that change the registry
(reload, corrupt artifact, missing model) take a private copy (``registry_copy``).
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from cognirace.api.app import create_app
from cognirace.api.auth import create_key
from cognirace.api.settings import ServeSettings
from cognirace.api.store import ModelStore
from cognirace.lake import open_lake
from cognirace.training import open_registry, select_tasks, task_examples, train

from .live_server import serving

with warnings.catch_warnings():  # Starlette's notice about its httpx-based client
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

MODELS = ("laptime", "tire", "fuel", "pitloss", "fcy", "driver", "traffic", "anomaly")
N_ROWS = 6
"""Real rows kept per model for the tests."""


@dataclass(frozen=True)
class Trained:
    """The session's registry and some real rows of each model, as JSON instances."""

    registry: Path
    rows: dict[str, pl.DataFrame]

    def instances(self, name: str, n: int = 1) -> list[dict[str, Any]]:
        """``n`` real instances for ``name`` (traffic: field snapshots of one lap each)."""
        rows = self.rows[name]
        if name == "traffic":
            return [snapshot(rows, i) for i in range(n)]
        return [_jsonable(r) for r in rows.head(n).to_dicts()]


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-ready: NaN becomes null and times become ISO text (as a client would send)."""
    value: dict[str, Any] = orjson.loads(orjson.dumps(row))
    return value


def snapshot(rows: pl.DataFrame, index: int) -> dict[str, Any]:
    """The ``index``-th (race, lap) field of the traffic rows as one instance."""
    groups = rows.select("race_id", "lap").unique(maintain_order=True)
    race_id, lap = groups.row(index)
    cars = rows.filter((pl.col("race_id") == race_id) & (pl.col("lap") == lap))
    shared = {"race_id": race_id, "lap": lap}
    if "track" in cars.columns:
        shared["track"] = cars["track"][0]
        cars = cars.drop("track")
    return {**shared, "cars": [_jsonable(r) for r in cars.drop("race_id", "lap").to_dicts()]}


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """Simulate, ingest and train all eight tasks into a registry, once per session.

    The simulator and the ingest are imported here, so tests that build their models
    in code collect and run without them.
    """
    from cognirace.ingest import ingest
    from cognirace.sim import simulate_season

    root = tmp_path_factory.mktemp("season")
    simulate_season(root / "races", tracks=["barber", "sonoma"], races=2, cars=12,
                    telemetry_hz=2.0, seed=11)
    ingest(root / "races", root / "lake")
    lake = open_lake(root / "lake")
    tasks = select_tasks(list(MODELS))
    train(lake, open_registry(root / "registry", tasks), tasks, seed=0)
    examples = task_examples(lake, tasks)
    rows = {}
    for name, frame in examples.items():
        if name == "traffic":
            keep = frame.select("race_id", "lap").unique(maintain_order=True).head(N_ROWS)
            rows[name] = frame.join(keep, on=["race_id", "lap"], how="semi")
        else:
            rows[name] = frame.head(N_ROWS)
    return Trained(root / "registry", rows)


@pytest.fixture(scope="session")
def shared_store(trained: Trained) -> ModelStore:
    """The eight production models, loaded once for every app that does not change them."""
    store = ModelStore.open(str(trained.registry), None)
    outcomes = store.reload()
    assert all(o.status == "loaded" for o in outcomes.values()), outcomes
    return store


@pytest.fixture
def registry_copy(trained: Trained, tmp_path: Path) -> Path:
    """A private copy of the trained registry, for tests that change it."""
    target = tmp_path / "registry"
    shutil.copytree(trained.registry, target)
    return target


ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(trained: Trained, shared_store: ModelStore, tmp_path: Path
                ) -> Iterator[ClientFactory]:
    """Build an app with settings overrides and return a started ``TestClient``.

    ``make_client(store=..., **settings)``; the default store is the shared one and the
    default keys file is empty (open access on localhost).
    """
    clients: list[TestClient] = []

    def factory(*, store: ModelStore | None = None, **overrides: Any) -> TestClient:
        values: dict[str, Any] = {"registry_url": str(trained.registry),
                                  "keys_file": tmp_path / "no-keys.json",
                                  "model_cache_dir": tmp_path / "model-cache"}
        values.update(overrides)
        app = create_app(ServeSettings(**values), store=store or shared_store)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def live_service(trained: Trained, shared_store: ModelStore,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service with the session's models behind a real socket (open access, limits
    out of the way); yields its ``host:port``. One per test module."""
    folder = tmp_path_factory.mktemp("live")
    with pytest.MonkeyPatch.context() as env:  # no COGNIRACE_* left by an earlier test
        for key in [k for k in os.environ if k.startswith("COGNIRACE_")]:
            env.delenv(key)
        app = create_app(ServeSettings(registry_url=str(trained.registry),
                                       keys_file=folder / "no-keys.json",
                                       model_cache_dir=folder / "model-cache",
                                       rate_limit_per_s=1e6, rate_limit_burst=1_000_000),
                         store=shared_store)
    with serving(app) as address:
        yield address


@dataclass(frozen=True)
class Keys:
    """A keys file with one key of each scope."""

    file: Path
    predict: str
    admin: str
    predict_id: str


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    """A predict key and an admin key in a fresh keys file."""
    path = tmp_path / "api-keys.json"
    predict, principal = create_key(path, "pit wall", ["predict"])
    admin, _ = create_key(path, "ops", ["admin"])
    return Keys(path, predict, admin, principal.key_id)


def check_problem(response: Any, status: int) -> dict[str, Any]:
    """Assert ``response`` is a problem+json of ``status`` and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


@pytest.fixture
def problem() -> Callable[[Any, int], dict[str, Any]]:
    """``problem(response, status)``: checks a problem+json answer, returns its body."""
    return check_problem


def check_oip_error(response: Any, status: int) -> str:
    """Assert ``response`` is an Open Inference Protocol error of ``status`` (``{"error":
    "<message>"}``, nothing else) and return its message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"] and isinstance(body["error"], str), body
    assert response.headers["x-request-id"]
    assert "Traceback" not in response.text
    message: str = body["error"]
    return message


@pytest.fixture
def oip_error() -> Callable[[Any, int], str]:
    """``oip_error(response, status)``: checks an OIP error answer, returns its message."""
    return check_oip_error
