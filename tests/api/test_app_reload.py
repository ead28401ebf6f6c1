"""``POST /v1/admin/reload``: new versions swap in whole, corrupt ones never do."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from cognirace.api.store import ModelStore, describe
from cognirace.training import open_registry

from .test_app_errors import SlowModel


def publish_again(registry: Path, store: ModelStore, name: str) -> str:
    """Publish the served model of ``name`` as a new production version."""
    served = store.get(name)
    assert served is not None
    reg = open_registry(registry)
    version = reg.publish(served.model, name, metrics={"races.mae_l": 0.1},
                          data_fingerprint=served.model.data_fingerprint_)
    reg.set_alias(name, "production", version)
    return version


@pytest.fixture
def private(make_client: Any, registry_copy: Path) -> tuple[Any, ModelStore]:
    store = ModelStore.open(str(registry_copy), None)
    return make_client(registry_url=str(registry_copy), store=store), store


def test_reload_serves_the_new_version_and_never_old_cache(private: tuple[Any, ModelStore],
                                                           registry_copy: Path,
                                                           trained: Any) -> None:
    client, store = private
    instance = trained.instances("fuel")[0]
    assert client.post("/v1/predict/fuel", json=instance).headers["x-cache"] == "miss"
    assert client.post("/v1/predict/fuel", json=instance).headers["x-cache"] == "hit"
    assert publish_again(registry_copy, store, "fuel") == "v2"
    outcome = client.post("/v1/admin/reload").json()
    assert outcome["ok"] is True
    assert outcome["models"]["fuel"] == {"status": "loaded", "version": "v2",
                                         "previous": "v1", "error": None}
    assert outcome["models"]["laptime"]["status"] == "unchanged"
    after = client.post("/v1/predict/fuel", json=instance)
    assert (after.headers["x-cache"], after.headers["x-model-version"]) == ("miss", "v2")
    assert after.json()["version"] == "v2"
    assert client.post("/v1/predict/fuel", json=instance).headers["x-cache"] == "hit"
    assert client.get("/v1/models/fuel").json()["metrics"] == {"races.mae_l": 0.1}
    metrics = client.get("/metrics").text
    assert 'cognirace_model_info{model="fuel",version="v2"} 1.0' in metrics
    assert 'model="fuel",version="v1"' not in metrics


def test_corrupt_artifact_keeps_the_previous_version(private: tuple[Any, ModelStore],
                                                     registry_copy: Path, trained: Any,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    client, store = private
    publish_again(registry_copy, store, "fuel")
    artifact = next(p for p in (registry_copy / "fuel" / "v2" / "model").iterdir()
                    if p.name != "model.json")
    artifact.write_bytes(artifact.read_bytes() + b"tampered")
    outcome = client.post("/v1/admin/reload").json()
    assert outcome["ok"] is False and outcome["failed"] == ["fuel"]
    fuel = outcome["models"]["fuel"]
    assert (fuel["status"], fuel["previous"]) == ("failed", "v1")
    assert artifact.name in fuel["error"]
    response = client.post("/v1/predict/fuel", json=trained.instances("fuel")[0])
    assert response.json()["version"] == "v1"  # still serving
    ready = client.get("/ready")
    assert ready.status_code == 200  # every model serves...
    assert any("fuel v2" in p for p in ready.json()["problems"])  # ...but it says so
    assert ready.json()["models"]["fuel"] == {"version": "v1", "error": fuel["error"]}
    assert any(r.getMessage().startswith("model load failed") for r in caplog.records)
    assert 'cognirace_model_load_failures_total{model="fuel"} 1.0' in client.get(
        "/metrics").text


def test_in_flight_request_keeps_the_model_it_started_with(make_client: Any,
                                                          shared_store: ModelStore,
                                                          trained: Any) -> None:
    store = ModelStore(shared_store.registry)
    for served in shared_store.served().values():
        store.put(served)
    fuel = shared_store.get("fuel")
    assert fuel is not None
    store.put(describe("fuel", "v1", SlowModel(inner=fuel.model, seconds=0.4)))
    client = make_client(store=store)
    answers: list[Any] = []
    request = threading.Thread(target=lambda: answers.append(
        client.post("/v1/predict/fuel", json=trained.instances("fuel")[0])))
    request.start()
    time.sleep(0.15)
    store.put(describe("fuel", "v9", fuel.model))  # what a reload does, mid-request
    request.join()
    assert answers[0].status_code == 200
    assert answers[0].json()["version"] == "v1"
    now = client.post("/v1/predict/fuel", json=trained.instances("fuel")[0])
    assert now.json()["version"] == "v9"


def test_remote_registry_models_are_cached_on_local_disk(make_client: Any, trained: Any,
                                                         memory_url: str, tmp_path: Path) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.put(str(trained.registry), memory_url, recursive=True)
    cache = tmp_path / "model-cache"
    store = ModelStore.open(memory_url, cache)
    client = make_client(registry_url=memory_url, model_cache_dir=cache, store=store)
    assert client.get("/ready").status_code == 200, client.get("/ready").text
    cached = list(cache.rglob("model.json"))
    assert len(cached) == 8  # one verified copy per model: a restart reads them from disk
    for path in fs.find(memory_url):  # the remote artifacts go; manifests and aliases stay
        if "/model/" in path:
            fs.rm(path)
    again = ModelStore.open(memory_url, cache)
    assert all(o.status == "loaded" for o in again.reload().values())


def test_a_reload_reaches_the_other_workers_of_the_machine(make_client: Any,
                                                          registry_copy: Path,
                                                          trained: Any) -> None:
    workers = []
    for _ in range(2):  # two apps on one registry and cache folder: two uvicorn workers
        store = ModelStore.open(str(registry_copy), None)
        workers.append((make_client(registry_url=str(registry_copy), store=store), store))
    (first, first_store), (second, _) = workers
    instance = trained.instances("fuel")[0]
    assert second.post("/v1/predict/fuel", json=instance).json()["version"] == "v1"
    publish_again(registry_copy, first_store, "fuel")
    assert first.post("/v1/admin/reload").json()["models"]["fuel"]["status"] == "loaded"
    deadline = time.monotonic() + 10
    version = "v1"
    while version == "v1" and time.monotonic() < deadline:
        time.sleep(0.2)
        version = second.post("/v1/predict/fuel", json=instance).json()["version"]
    assert version == "v2"
