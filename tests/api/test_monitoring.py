"""Monitoring as shipped: a live scrape, the OpenAPI document, and ``deploy/``'s Grafana
dashboard and Prometheus alert rules, each checked by the tools that will read them.

``promtool`` comes from Debian's ``prometheus`` package. When it is not on the PATH the
fixture fetches the package with ``apt-get download`` and unpacks it into a folder of
its own (``dpkg-deb -x``): the binary is all the tests need, and unpacking neither
starts the Prometheus service nor touches the system. Where apt cannot fetch it, the
tests that need it skip, saying why.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families

from cognirace.api.metrics import Metrics

from .promql_names import dashboard_exprs, exported_names, metric_names

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "cognirace.json"
RULES = DEPLOY / "prometheus" / "cognirace-alerts.yml"
RULE_TESTS = DEPLOY / "prometheus" / "cognirace-alerts.test.yml"
PROMETHEUS_OWN = {"up"}
"""Series Prometheus makes itself for every target (not the service's to export)."""
TOOLS = Path(tempfile.gettempdir()) / "cognirace-promtool"


def _unpacked_promtool() -> Path:
    """``promtool`` from Debian's package, unpacked under ``TOOLS`` (once per machine)."""
    binary = TOOLS / "root" / "usr" / "bin" / "promtool"
    TOOLS.mkdir(parents=True, exist_ok=True)
    with (TOOLS / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other test worker may be here too
        if binary.exists():
            return binary
        for attempt in ("download", "update-then-download"):
            if attempt != "download":
                subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=300)
            done = subprocess.run(["apt-get", "download", "-q", "prometheus"], cwd=TOOLS,
                                  capture_output=True, text=True, timeout=600)
            debs = sorted(TOOLS.glob("prometheus_*.deb"))
            if done.returncode == 0 and debs:
                subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(TOOLS / "root")],
                               check=True, timeout=300)
                return binary
        raise RuntimeError(done.stderr.strip()[-300:])


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        pytest.skip("promtool is not installed and this machine has no apt-get/dpkg-deb "
                    "to fetch Debian's prometheus package")
    try:
        return str(_unpacked_promtool())
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"promtool is not installed and Debian's prometheus package could not "
                    f"be fetched: {exc}")


@pytest.fixture(scope="module")
def scrape(live_service: str, trained: Any) -> Iterator[str]:
    """``/metrics`` after a little of everything: predictions (one cached), errors on v1
    and v2, binary inference, and a live race's frames (applied, duplicate, refused)."""
    base = f"http://{live_service}"
    with httpx.Client(base_url=base) as client:
        for _ in range(2):
            assert client.post("/v1/predict/pitloss", json=trained.instances("pitloss")[0]
                               ).status_code == 200
        assert client.post("/v1/predict/nope", json={}).status_code == 404
        assert client.post("/v2/models/fcy/infer", json={"inputs": []}).status_code == 422
        start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        declared = client.put("/v1/races/scrape-R1", json={
            "track": "barber", "start": start.isoformat(),
            "entries": [{"car_number": "21"}, {"car_number": "46"}]})
        assert declared.status_code == 201, declared.text
        frames = [
            {"seq": 1, "flags": [{"time": start.isoformat(), "flag": "GF"}]},
            {"seq": 2, "laps": [{"car_number": car, "lap": 1,
                                 "lap_end": (start + dt.timedelta(seconds=s)).isoformat()}
                                for car, s in (("21", 98.0), ("46", 99.1))]},
            {"seq": 3, "flags": [{"time": (start + dt.timedelta(seconds=100)).isoformat(),
                                  "flag": "FCY"}]},
            {"seq": 3, "flags": []},
            {"laps": []}]
        codes = [client.post("/v1/races/scrape-R1/frames", json=f).status_code
                 for f in frames]
        assert codes == [200, 200, 200, 200, 422]
        yield client.get("/metrics").text


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_a_live_scrape_parses_and_holds_every_series(scrape: str) -> None:
    got = samples(scrape)
    race = ("race", "scrape-R1")

    def value(name: str, **labels: str) -> float:
        return got[(name, frozenset({race, *labels.items()}))]

    assert value("cognirace_race_frames_total", outcome="applied") == 3
    assert value("cognirace_race_frames_total", outcome="duplicate") == 1
    assert value("cognirace_race_frames_total", outcome="refused") == 1
    assert value("cognirace_race_frame_seconds_count") == 5
    assert value("cognirace_race_events_total", type="CAUTION_START") >= 1
    lag = value("cognirace_race_lag_seconds")
    assert 3_600 - 100 - 5 < lag < 3_600 - 100 + 300  # an hour old, clock at +100 s
    assert got[("cognirace_ready", frozenset())] == 1
    assert got[("cognirace_worker_resident_memory_bytes", frozenset())] > 50e6
    assert got[("cognirace_cache_hits_total", frozenset({("model", "pitloss")}))] == 1
    route = frozenset({("route", "/v2/models/{name}/infer"), ("method", "POST"),
                       ("status", "422")})
    assert got[("cognirace_http_requests_total", route)] == 1


def test_promtool_accepts_the_scrape(scrape: str, promtool: str) -> None:
    checked = subprocess.run([promtool, "check", "metrics"], input=scrape, text=True,
                             capture_output=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_openapi_document_validates(live_service: str) -> None:
    doc = httpx.get(f"http://{live_service}/openapi.json").json()
    validate(doc)
    infer = doc["paths"]["/v2/models/{name}/infer"]["post"]
    assert set(infer["requestBody"]["content"]) == {"application/json",
                                                     "application/octet-stream"}
    assert infer["responses"]["404"]["content"]["application/json"]["schema"][
        "required"] == ["error"]
    assert "application/problem+json" in doc["paths"]["/v1/models/{name}"]["get"][
        "responses"]["404"]["content"]


def test_alert_rules_pass_promtool_and_fire_as_their_tests_say(promtool: str) -> None:
    checked = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 5 rules found" in checked.stdout
    tested = subprocess.run([promtool, "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent,
                            capture_output=True, text=True, timeout=120)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def _rule_exprs() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def test_the_dashboard_and_rules_read_only_what_the_service_exports(scrape: str) -> None:
    exported = exported_names(text_string_to_metric_families(scrape)) | PROMETHEUS_OWN
    dashboard = json.loads(DASHBOARD.read_text())
    for where, exprs in (("dashboard", dashboard_exprs(dashboard)),
                         ("rules", _rule_exprs())):
        read = set().union(*map(metric_names, exprs))
        assert read, where
        assert read <= exported, f"{where} reads {sorted(read - exported)}, not exported"


def test_the_dashboard_shows_what_an_operator_watches() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    read = set().union(*map(metric_names, dashboard_exprs(dashboard)))
    assert read >= {
        "cognirace_http_requests_total", "cognirace_http_request_duration_seconds_bucket",
        "cognirace_cache_hits_total", "cognirace_cache_misses_total",
        "cognirace_rate_limited_total", "cognirace_model_info",
        "cognirace_model_load_failures_total", "cognirace_worker_resident_memory_bytes",
        "cognirace_ready", "cognirace_race_frames_total", "cognirace_race_lag_seconds",
        "cognirace_race_events_total", "cognirace_race_frame_seconds_bucket"}
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    assert all(p["datasource"]["uid"] == "${datasource}" and p["description"]
               for p in panels)
    quantiles = [t["expr"] for p in panels for t in p["targets"] if "0.99" in t["expr"]]
    assert any("by (le, route, model)" in q for q in quantiles)


def test_the_promql_reader_finds_metrics_and_nothing_else() -> None:
    assert metric_names(
        'histogram_quantile(0.99, sum by (le, model) (rate(a_bucket{model!="",'
        ' job=~"$job"}[$__rate_interval]))) / ignoring(x) b_total offset 5m > bool 0.01'
        ' and on(job) up{job="c"} == 0 or sum(c:d) without (pid)') == {
            "a_bucket", "b_total", "up", "c:d"}
    assert dashboard_exprs({"templating": {"list": [{"type": "query", "query": {
        "query": "label_values(m_info, job)"}}]}}) == ["m_info"]


def test_readiness_and_memory_are_read_at_each_render() -> None:
    metrics = Metrics()
    state = {"ready": False}
    metrics.readiness = lambda: state["ready"]
    assert samples(metrics.render()[0].decode())[("cognirace_ready", frozenset())] == 0
    state["ready"] = True
    got = samples(metrics.render()[0].decode())
    assert got[("cognirace_ready", frozenset())] == 1
    assert got[("cognirace_worker_resident_memory_bytes", frozenset())] > 1e6
