"""Prometheus metrics: names and labels in the exposition, own registries, several workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import mark_process_dead
from prometheus_client.parser import text_string_to_metric_families

from cognirace.api.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    body, _ = metrics.render()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples}


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


def test_render_holds_every_metric_with_its_labels() -> None:
    metrics = Metrics()
    metrics.observe_request("/v1/predict/{model}", "POST", "laptime", 200, 0.0042)
    metrics.observe_request("/v1/predict/{model}", "POST", "laptime", 422, 0.0007)
    metrics.cache_hit("laptime")
    metrics.cache_miss("fuel")
    metrics.rate_limited("key_3f9a0c1b2d4e")
    metrics.set_model_version("laptime", "v0003")
    metrics.model_load_failed("traffic")
    body, content_type = metrics.render()
    assert content_type == CONTENT_TYPE_LATEST
    got = samples(metrics)
    route = "/v1/predict/{model}"
    assert got[("cognirace_http_requests_total",
                labels(route=route, method="POST", status="200"))] == 1
    assert got[("cognirace_http_requests_total",
                labels(route=route, method="POST", status="422"))] == 1
    assert got[("cognirace_http_request_duration_seconds_count",
                labels(route=route, method="POST", model="laptime"))] == 2
    assert got[("cognirace_http_request_duration_seconds_bucket",
                labels(route=route, method="POST", model="laptime", le="0.0005"))] == 0
    assert got[("cognirace_http_request_duration_seconds_bucket",
                labels(route=route, method="POST", model="laptime", le="0.001"))] == 1
    assert got[("cognirace_http_request_duration_seconds_bucket",
                labels(route=route, method="POST", model="laptime", le="10.0"))] == 2
    assert got[("cognirace_cache_hits_total", labels(model="laptime"))] == 1
    assert got[("cognirace_cache_misses_total", labels(model="fuel"))] == 1
    assert got[("cognirace_rate_limited_total", labels(key_id="key_3f9a0c1b2d4e"))] == 1
    assert got[("cognirace_model_info", labels(model="laptime", version="v0003"))] == 1
    assert got[("cognirace_model_load_failures_total", labels(model="traffic"))] == 1
    assert b"# HELP cognirace_http_request_duration_seconds" in body


def test_a_new_version_replaces_the_old_series() -> None:
    metrics = Metrics()
    metrics.set_model_version("fcy", "v0001")
    metrics.set_model_version("tire", "v0007")
    metrics.set_model_version("fcy", "v0002")
    info = {dict(key[1])["model"] + "@" + dict(key[1])["version"]: value
            for key, value in samples(metrics).items() if key[0] == "cognirace_model_info"}
    assert info == {"fcy@v0002": 1, "tire@v0007": 1}


def test_each_instance_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()  # no "duplicated timeseries" error
    first.cache_hit("fuel")
    assert ("cognirace_cache_hits_total", labels(model="fuel")) in samples(first)
    assert ("cognirace_cache_hits_total", labels(model="fuel")) not in samples(second)


WORKER = """
import os, sys
from cognirace.api.metrics import Metrics
metrics = Metrics()
metrics.observe_request("/v1/predict/{model}", "POST", "fuel", 200, 0.003)
metrics.cache_hit("fuel")
metrics.set_model_version("fuel", sys.argv[1])
print(os.getpid())
"""


def test_workers_add_up_in_multiprocess_mode(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Two worker processes (as ``uvicorn --workers 2``), then a scrape that sees both."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    pids = [int(subprocess.run([sys.executable, "-c", WORKER, version], check=True,
                               capture_output=True, text=True, timeout=60).stdout)
            for version in ("v0001", "v0002")]
    scraper = Metrics()
    got = samples(scraper)
    route = "/v1/predict/{model}"
    assert got[("cognirace_http_requests_total",
                labels(route=route, method="POST", status="200"))] == 2
    assert got[("cognirace_cache_hits_total", labels(model="fuel"))] == 2

    def versions() -> set[str]:
        return {dict(key[1])["version"] for key, value in samples(scraper).items()
                if key[0] == "cognirace_model_info" and value == 1}

    assert versions() == {"v0001", "v0002"}
    mark_process_dead(pids[0], str(tmp_path))  # what a process manager does for a gone worker
    assert versions() == {"v0002"}
    assert samples(scraper)[("cognirace_cache_hits_total", labels(model="fuel"))] == 2
