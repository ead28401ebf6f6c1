"""The Grafana dashboard's panels drawn from a live scrape, by a real Prometheus.

``deploy/grafana/cognirace.json`` holds PromQL that only a Prometheus can answer, so
this script runs one: it starts ``cognirace serve`` on a free port (demo registry,
response cache on, a rate limit low enough for bursts to meet it) and Prometheus
(Debian's ``prometheus`` package: ``/usr/bin/prometheus``, or the copy the tests unpack)
scraping it every second with ``deploy/prometheus``'s alert rules loaded. It then drives
a mixed workload for ``--seconds``: predictions on ``/v1`` and ``/v2`` from lake rows,
some repeated (cache hits), a share of bad requests (unknown model, invalid input),
a burst of 300 requests past the rate limit (100/s) every 15 s, and one race replayed
into the live engine. Last, it asks
Prometheus every panel's queries over the run (``$job`` = all, ``$__rate_interval`` =
15 s, ``$__range`` = the run) and prints each panel: its series, their last value and
a sparkline of the run; then the alerts firing. ``--png`` also draws the panels.

    python bench/dashboard.py [--registry data/demo/registry] [--lake data/demo/lake]
                              [--race barber-2025-03-30-R1] [--seconds 60] [--png FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import httpx
import orjson

from cognirace.api.instances import instances
from cognirace.lake import open_lake
from cognirace.training import select_tasks, task_examples

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "grafana" / "cognirace.json"
RULES = ROOT / "deploy" / "prometheus" / "cognirace-alerts.yml"
PROMETHEUS = ("/usr/bin/prometheus",
              str(Path(tempfile.gettempdir()) / "cognirace-promtool/root/usr/bin/prometheus"))
MODELS = ("laptime", "fuel", "fcy", "pitloss")
RATE_LIMIT = ("100", "150")
"""The service's rate limit for the run: tokens per second and burst (above the steady
workload's rate, below a burst's)."""
BURST_EVERY_S = 15.0
BARS = "▁▂▃▄▅▆▇█"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer 200 within {seconds:.0f} s")


@contextlib.contextmanager
def running(cmd: list[str], log: Path, env: dict[str, str] | None = None
            ) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def workload(base: str, rows: dict[str, list[dict[str, Any]]], until: float,
             seed: int) -> dict[str, int]:
    """Requests until ``until``: mostly good predictions, some repeated, some bad."""
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    burst_at = time.monotonic() + BURST_EVERY_S
    with httpx.Client(base_url=base, timeout=10) as client:
        while time.monotonic() < until:
            name = rng.choice(MODELS)
            row = rng.choice(rows[name][:20] if rng.random() < 0.5 else rows[name])
            roll = rng.random()
            if roll < 0.03:
                answer = client.post("/v1/predict/nope", json=row)
            elif roll < 0.06:
                answer = client.post(f"/v1/predict/{name}", json={**row, "track": 7})
            elif roll < 0.5:
                answer = client.post(f"/v2/models/{name}/infer", json={"inputs": [
                    {"name": k, "shape": [1], "datatype": "BYTES" if isinstance(v, str)
                     else "FP64", "data": [v]} for k, v in row.items()]})
            else:
                answer = client.post(f"/v1/predict/{name}", json=row)
            counts[str(answer.status_code)] = counts.get(str(answer.status_code), 0) + 1
            if time.monotonic() > burst_at:  # a burst past the rate limit
                burst_at += BURST_EVERY_S
                for _ in range(300):
                    code = client.post(f"/v1/predict/{name}", json=row).status_code
                    counts[str(code)] = counts.get(str(code), 0) + 1
            time.sleep(0.01)
    return counts


def query_range(prom: str, expr: str, start: float, end: float) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prom}/api/v1/query_range", params={
        "query": expr, "start": start, "end": end, "step": 2}, timeout=30).json()
    if answer["status"] != "success":
        raise SystemExit(f"Prometheus refused {expr!r}: {answer.get('error')}")
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def fill(expr: str, seconds: float) -> str:
    return (expr.replace("$__rate_interval", "15s").replace("$__range", f"{int(seconds)}s")
            .replace('=~"$job"', '=~".*"'))


def legend(template: str, labels: dict[str, str]) -> str:
    text = template or ",".join(f"{k}={v}" for k, v in labels.items() if k != "__name__")
    for key, value in labels.items():
        text = text.replace("{{" + key + "}}", value)
    while "{{" in text:
        text = text[:text.index("{{")] + text[text.index("}}") + 2:]
    return " ".join(text.split()) or "(all)"


def show(value: float, unit: str) -> str:
    if value != value:
        return "-"
    if unit == "percentunit":
        return f"{value:.1%}"
    if unit == "s":
        if value >= 2 * 86_400:
            return f"{value / 86_400:,.0f} days"
        return f"{value * 1e3:.1f} ms" if value < 1 else f"{value:,.1f} s"
    if unit == "bytes":
        return f"{value / 2**20:,.0f} MiB"
    if unit == "reqps":
        return f"{value:,.2f}/s"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def sparkline(values: list[float], width: int = 30) -> str:
    finite = [v for v in values if v == v]
    if not finite:
        return ""
    step = max(1, len(values) // width)
    picked = values[::step][-width:]
    low, high = min(finite), max(finite)
    span = (high - low) or 1.0
    return "".join(" " if v != v else BARS[int((v - low) / span * (len(BARS) - 1))]
                   for v in picked)


def render(prom: str, start: float, end: float) -> tuple[list[str], list[dict[str, Any]]]:
    """Each panel as text lines, and its series for drawing."""
    dashboard = json.loads(DASHBOARD.read_text())
    lines, drawn = [], []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            lines += ["", f"== {panel['title']} " + "=" * (70 - len(panel["title"]))]
            continue
        unit = panel["fieldConfig"]["defaults"].get("unit", "short")
        series = []
        for target in panel["targets"]:
            for found in query_range(prom, fill(target["expr"], end - start), start, end):
                values = [float(v) for _, v in found["values"]]
                series.append((legend(target.get("legendFormat", ""), found["metric"]),
                               [float(t) - start for t, _ in found["values"]], values))
        series.sort(key=lambda s: -(s[2][-1] if s[2][-1] == s[2][-1] else -1e300))
        lines.append(f"-- {panel['title']} ({panel['type']})")
        for name, _, values in series[:8]:
            lines.append(f"   {name[:40]:<40} {show(values[-1], unit):>12}  {sparkline(values)}")
        if len(series) > 8:
            lines.append(f"   ... and {len(series) - 8} more series")
        if not series:
            lines.append("   (no data)")
        drawn.append({"title": panel["title"], "unit": unit, "series": series[:8]})
    return lines, drawn


def draw(panels: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 3
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(15, 2.6 * rows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        for name, times, values in panel["series"]:
            ax.plot(times, values, label=name[:28], linewidth=1.2)
        ax.set_title(panel["title"], fontsize=9)
        ax.tick_params(labelsize=7)
        if panel["series"]:
            ax.legend(fontsize=5, loc="upper left")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("CogniRace prediction service (deploy/grafana/cognirace.json, live run)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", default=str(ROOT / "data/demo/registry"))
    parser.add_argument("--lake", default=str(ROOT / "data/demo/lake"))
    parser.add_argument("--race", default="barber-2025-03-30-R1")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--out", type=Path, help="also write the text here")
    parser.add_argument("--png", type=Path, help="also draw the panels here")
    args = parser.parse_args()
    binary = next((p for p in PROMETHEUS if Path(p).exists()), shutil.which("prometheus"))
    if binary is None:
        raise SystemExit("no prometheus binary: apt-get install prometheus (Debian), or run "
                         "tests/api/test_monitoring.py once to unpack one")
    tasks = select_tasks(list(MODELS))
    examples = task_examples(open_lake(args.lake), tasks)
    rows = {task.name: [orjson.loads(orjson.dumps(instance)) for instance, _ in islice(
        instances(task.name, examples[task.name], task.model().input_schema()), 500)]
        for task in tasks}
    port, prom_port = free_port(), free_port()
    base, prom = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{prom_port}"
    with tempfile.TemporaryDirectory(prefix="cognirace-dashboard-") as folder:
        tmp = Path(folder)
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "rule_files": [str(RULES)],
                  "scrape_configs": [{"job_name": "cognirace",
                                      "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}]}
        (tmp / "prometheus.yml").write_text(json.dumps(config))
        env = {**os.environ, "COGNIRACE_RATE_LIMIT_PER_S": RATE_LIMIT[0],
               "COGNIRACE_RATE_LIMIT_BURST": RATE_LIMIT[1],
               "COGNIRACE_KEYS_FILE": str(tmp / "none")}
        serve = [sys.executable, "-m", "cognirace.cli.main", "serve", "--registry",
                 args.registry, "--port", str(port)]
        prometheus = [binary, f"--config.file={tmp / 'prometheus.yml'}",
                      f"--storage.tsdb.path={tmp / 'tsdb'}",
                      f"--web.listen-address=127.0.0.1:{prom_port}"]
        with running(serve, tmp / "serve.log", env), \
                running(prometheus, tmp / "prometheus.log"):
            wait_for(f"{base}/ready")
            wait_for(f"{prom}/-/ready")
            start = time.time()
            until = time.monotonic() + args.seconds
            replay = [sys.executable, "-m", "cognirace.cli.main", "replay", args.race,
                      "--lake", args.lake, "--to", base, "--speed", "60", "-q"]
            with running(replay, tmp / "replay.log"):
                counts = workload(base, rows, until, seed=7)
            time.sleep(3)  # two more scrapes
            end = time.time()
            lines, panels = render(prom, start, end)
            alerts = httpx.get(f"{prom}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    head = [f"{args.seconds:.0f} s of workload ({statuses}) and race {args.race} replayed "
            "at 60x; scraped every 1 s"]
    firing = sorted({a["labels"]["alertname"] for a in alerts})
    tail = ["", f"alerts pending or firing at the end: {', '.join(firing) or 'none'}"]
    text = "\n".join(head + lines + tail)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    if args.png:
        draw(panels, args.png)


if __name__ == "__main__":
    main()
