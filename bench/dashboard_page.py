"""Benchmark: the live dashboard page in headless Chromium following a 25-car race at 20x.

A 25-car race (Barber, 10 Hz telemetry with GPS) is simulated and ingested, ``cognirace
serve`` starts on the demo's registry, and ``cognirace replay`` streams the race into it
at 20 times real time. The page (``/dashboard?race=...``) is opened in Debian's headless
``chromium`` through Playwright as the race appears and followed to the flag. Printed:

* frames per second, counted in the page with ``requestAnimationFrame``: over the
  replay, its slowest 1-second window, and its longest frame; goal at least 30 on the
  machine's cores (the baseline: the same page after the race, nothing left to draw);
* the page's JavaScript heap (Chrome DevTools Protocol ``Performance.getMetrics``,
  after a garbage collection) when the stream opens and at the flag: flat over a race;
* the age of the newest data the page shows (``#stream-status``), largest seen.

    python bench/dashboard_page.py [--registry data/demo/registry] [--minutes 20]
                                   [--out docs/results/dashboard-page.txt]
    python bench/dashboard_page.py --screenshot docs/dashboard.png

``--screenshot`` replays the same race without measuring and saves the page half-way
through it (the README's picture). Run ``cognirace demo`` first for its registry.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from playwright.sync_api import Page, sync_playwright

from cognirace.ingest import ingest
from cognirace.lake import open_lake
from cognirace.sim import RaceConfig, season_roster, simulate_one
from serve import free_port, running_server, serve_command

CARS, HZ, SPEED = 25, 10.0, 20.0
GOAL_FPS = 30.0
IDLE_S = 5.0
"""How long the baseline watches the page after the race, s."""
VIEWPORT = {"width": 1600, "height": 1000}
MAX_SCREENSHOT_BYTES = 300_000
COUNTER = """
window.__frames = { n: 0, last: 0, longest: 0 };
(function tick(now) {
  const f = window.__frames;
  if (f.last) f.longest = Math.max(f.longest, now - f.last);
  f.last = now;
  f.n += 1;
  requestAnimationFrame(tick);
})(0);
"""
"""Counts animation frames from the page's first script on; `longest` is in ms."""


@dataclass
class Sample:
    at_s: float
    frames: int
    age_ms: int | None


def simulate(root: Path, minutes: float, seed: int) -> tuple[Path, str]:
    config = RaceConfig("barber", n_cars=CARS, duration_s=minutes * 60, telemetry_hz=HZ)
    simulate_one(root / "races", config, season_roster(seed), seed)
    ingest(root / "races", root / "lake")
    race_id = str(open_lake(root / "lake").summary()["race_id"][0])
    return root / "lake", race_id


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise SystemExit("no chromium: apt-get install -y chromium fonts-liberation")
    return found


def replay(url: str, lake: Path, race_id: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([*serve_command(), "replay", race_id, "--lake", str(lake),
                                 "--to", url, "--speed", str(SPEED), "--quiet"],
                                stdout=out, stderr=subprocess.STDOUT)


def wait_for_race(url: str, race_id: str, proc: subprocess.Popen[bytes], log: Path) -> float:
    """Wait until the replay has declared the race (it reads the lake first); returns
    how long that took, s."""
    start = time.monotonic()
    while httpx.get(f"{url}/v1/races/{race_id}/state", timeout=5).status_code != 200:
        if proc.poll() is not None or time.monotonic() - start > 300:
            raise SystemExit(f"the replay did not declare {race_id} (exit {proc.poll()}):\n"
                             f"{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    return time.monotonic() - start


def heap_mb(cdp: Any) -> float:
    """The page's used JS heap after a full garbage collection, MB."""
    cdp.send("HeapProfiler.collectGarbage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return float(metrics["JSHeapUsedSize"]) / 1e6


def sample(page: Page, start: float) -> Sample:
    got = page.evaluate("() => [window.__frames.n, "
                        "document.querySelector('#stream-status').dataset.ageMs]")
    return Sample(time.monotonic() - start, int(got[0]), int(got[1]) if got[1] else None)


def follow(page: Page, proc: subprocess.Popen[bytes]) -> list[Sample]:
    """One sample a second until the replay ends."""
    start = time.monotonic()
    samples = [sample(page, start)]
    while proc.poll() is None:
        time.sleep(1.0)
        samples.append(sample(page, start))
    return samples


def fps(samples: list[Sample]) -> tuple[float, float]:
    """Frames per second over the samples, and in their slowest 1-second window."""
    total = (samples[-1].frames - samples[0].frames) / (samples[-1].at_s - samples[0].at_s)
    windows = [(b.frames - a.frames) / (b.at_s - a.at_s) for a, b in pairwise(samples)]
    return total, min(windows)


def table(load: float, minutes: float, race: list[Sample], idle: list[Sample],
          longest_ms: float, heap: tuple[float, float]) -> list[str]:
    race_fps, race_min = fps(race)
    idle_fps, idle_min = fps(idle)
    ages = [s.age_ms for s in race if s.age_ms is not None]
    lines = [f"dashboard page in headless Chromium ({chromium_version()}, {os.cpu_count()} cores, "
             f"load average {load:.1f} at the start): {CARS} cars, {minutes:.0f} min at "
             f"{HZ:.0f} Hz, replayed at {SPEED:.0f}x ({race[-1].at_s:.0f} s)", "",
             f"{'phase':<28}{'seconds':>8}{'fps':>8}{'min 1 s':>9}",
             f"{'replay (20x)':<28}{race[-1].at_s:>8.0f}{race_fps:>8.1f}{race_min:>9.1f}",
             f"{'after the flag (baseline)':<28}{idle[-1].at_s:>8.0f}{idle_fps:>8.1f}"
             f"{idle_min:>9.1f}", "",
             f"longest frame during the replay: {longest_ms:.0f} ms",
             f"JS heap after GC: {heap[0]:.1f} MB when the stream opened, {heap[1]:.1f} MB at "
             f"the flag ({heap[1] - heap[0]:+.1f} MB)",
             f"newest data's age on the page: max {max(ages) / 1000:.1f} s" if ages else
             "newest data's age on the page: never shown",
             f"goal >= {GOAL_FPS:.0f} fps over the replay: "
             f"{'met' if race_fps >= GOAL_FPS else 'not met'}"]
    return lines


def chromium_version() -> str:
    out = subprocess.run([chromium(), "--version"], capture_output=True, text=True, check=False)
    return " ".join(out.stdout.split()[:2]) or "chromium"


def shrink_png(png: bytes) -> bytes:
    """The screenshot as a palette PNG (256 colours): a dark page stays sharp and small."""
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registry", default="data/demo/registry")
    parser.add_argument("--minutes", type=float, default=20.0, help="the race's length")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", default="", help="also write the table here")
    parser.add_argument("--screenshot", default="", help="save the page half-way instead")
    args = parser.parse_args()
    if not Path(args.registry).exists():
        raise SystemExit(f"no registry at {args.registry}: run `cognirace demo` first")
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as scratch:
        tmp = Path(scratch)
        lake, race_id = simulate(tmp, args.minutes, args.seed)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with running_server(args.registry, port, 1, tmp), sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium(), headless=True,
                                         args=["--no-sandbox", "--disable-dev-shm-usage"])
            page = browser.new_page(viewport=VIEWPORT)
            page.add_init_script(COUNTER)
            proc = replay(url, lake, race_id, tmp / "replay.log")
            waited = wait_for_race(url, race_id, proc, tmp / "replay.log")
            print(f"race declared after {waited:.1f} s")
            page.goto(f"{url}/dashboard?race={race_id}")
            page.wait_for_selector("body[data-stream='open']", timeout=30_000)
            if args.screenshot:
                time.sleep(args.minutes * 60 / SPEED / 2)
                shot = shrink_png(page.screenshot())
                Path(args.screenshot).write_bytes(shot)
                over = len(shot) > MAX_SCREENSHOT_BYTES
                print(f"{args.screenshot}: {len(shot) / 1000:.0f} kB"
                      f"{f' (over {MAX_SCREENSHOT_BYTES // 1000} kB)' if over else ''}")
                proc.kill()
                proc.wait()
                return
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            page.evaluate("() => { window.__frames.longest = 0; }")
            heap_start = heap_mb(cdp)
            race = follow(page, proc)
            longest_ms = float(page.evaluate("() => window.__frames.longest"))
            heap_end = heap_mb(cdp)
            if proc.returncode != 0:
                print((tmp / "replay.log").read_text(errors="replace")[-2000:], file=sys.stderr)
            start = time.monotonic()
            idle = [sample(page, start)]
            while time.monotonic() - start < IDLE_S:
                time.sleep(1.0)
                idle.append(sample(page, start))
            browser.close()
    lines = table(load, args.minutes, race, idle, longest_ms, (heap_start, heap_end))
    print("\n".join(lines))
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
