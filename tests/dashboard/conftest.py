"""A small simulated race, models trained on it, a real browser, and the service serving them.

The browser is Debian's ``chromium``, installed here when missing (``apt-get install -y
chromium fonts-liberation``; the tests run as root in CI) and launched by Playwright
through ``executable_path``: Playwright's own browser download is never used.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from cognirace.lake import Lake, open_lake

CHROMIUM = ("chromium", "chromium-browser")
APT_PACKAGES = ("chromium", "fonts-liberation")
SCREENSHOTS = Path(__file__).parent / "screenshots"
"""Where each run's screenshots go (``*.png`` is git-ignored)."""
RACE_S = 900.0
"""The replayed race's timed length, s: nine laps of Barber, 50 s at 20x."""
REPLAY_HZ = 10.0
"""The replayed race's telemetry rate, Hz: above about 5 Hz the logger sends lap distance
and rpm on one sample and speed on the next, as the real ECU does (at 2 Hz every sample
carries every channel), so the traces must place each channel by its own samples' times."""
TRAINING_RACE_S = 1800.0
"""The race the models learn from, s: long enough for the tire model's stints."""
MODELS = ("laptime", "tire", "fuel", "pitloss", "fcy")
"""What the strategy needs (lap-time quantiles, pit loss, the caution hazard) and the
tire and fuel card reads."""


def _chromium() -> str | None:
    return next((found for name in CHROMIUM if (found := shutil.which(name))), None)


@contextmanager
def _installing() -> Iterator[None]:
    """One test process at a time installs the browser; the others then find it."""
    import fcntl
    import tempfile

    with (Path(tempfile.gettempdir()) / "cognirace-chromium.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium, installed when missing; skips only when it cannot be."""
    found = _chromium()
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        with _installing():  # test workers take turns: apt-get holds one lock at a time
            found = _chromium()
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            wait = ["-o", "DPkg::Lock::Timeout=600"]  # another apt-get on the machine
            for command in (["apt-get", *wait, "install", "-y", "-q", *APT_PACKAGES],
                            ["apt-get", *wait, "update", "-q"],  # stale lists on a new machine
                            ["apt-get", *wait, "install", "-y", "-q", *APT_PACKAGES]):
                if found is not None:
                    break
                subprocess.run(command, check=False, stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT, timeout=900, env=env)
                found = _chromium()
    if found is None:
        pytest.skip("no chromium and it cannot be installed here (needs root and apt-get: "
                    "apt-get install -y chromium fonts-liberation)")
    return found


@pytest.fixture(scope="session")
def browser_type_launch_args(chromium_path: str) -> dict[str, Any]:
    """pytest-playwright's launch arguments: Debian's chromium, headless."""
    return {"executable_path": chromium_path, "headless": True,
            "args": ["--no-sandbox", "--disable-dev-shm-usage"]}


@pytest.fixture(scope="module")
def browser(browser_type_launch_args: dict[str, Any]) -> Iterator[Browser]:
    """The browser for one test module, with Playwright stopped after it.

    pytest-playwright's own ``browser`` lives for the whole session, and Playwright's
    synchronous driver keeps an event loop running in the worker until then: a later
    test on the same worker that calls ``asyncio.run`` would fail."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(**browser_type_launch_args)
        try:
            yield launched
        finally:
            launched.close()


@dataclass(frozen=True)
class BuiltRace:
    lake: Lake
    race_id: str
    registry: Path


def build_race(root: Path, *, seed: int = 11, n_cars: int = 12,
               duration_s: float = RACE_S) -> BuiltRace:
    """Barber races with telemetry and GPS, ingested, and the strategy's models trained on
    them: four 30-minute ones at 2 Hz to learn from (the training splits hold whole races
    out), and the one replayed, short, at ``REPLAY_HZ``."""
    from cognirace.ingest import ingest
    from cognirace.sim import RaceConfig, season_roster, simulate_one

    roster = season_roster(seed)
    races = [(event, session, TRAINING_RACE_S, 2.0) for event in (1, 2)
             for session in ("R1", "R2")] + [(3, "R2", duration_s, REPLAY_HZ)]
    for event, session, length_s, hz in races:
        simulate_one(root / "races", RaceConfig(
            "barber", session=session, event_number=event,
            event_date=dt.date(2025, 4, 6) + dt.timedelta(days=14 * event), n_cars=n_cars,
            duration_s=length_s, telemetry_hz=hz), roster, seed)
    ingest(root / "races", root / "lake")
    lake = open_lake(root / "lake")
    models = [arg for name in MODELS for arg in ("--models", name)]
    subprocess.run([sys.executable, "-m", "cognirace.cli.main", "train", "--lake",
                    str(root / "lake"), "--registry", str(root / "registry"), *models,
                    "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.STDOUT, timeout=300)
    race_id = str(lake.summary().sort("date", "session")["race_id"][-1])
    return BuiltRace(lake, race_id, root / "registry")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def keys_file_of(registry: Path) -> Path:
    """The keys file ``serving`` points the service at: absent at the start, so the
    service starts open and switches keys on when a key is written there."""
    return registry.parent / "api-keys.json"


@contextmanager
def serving(registry: Path, log: Path) -> Iterator[str]:
    """``cognirace serve`` on ``registry`` in its own process, as a user runs it; yields
    its URL once it answers, and stops it with SIGTERM."""
    port = free_port()
    env = {**os.environ, "COGNIRACE_CACHE_TTL_S": "0", "COGNIRACE_RATE_LIMIT_PER_S": "10000",
           "COGNIRACE_RATE_LIMIT_BURST": "10000", "COGNIRACE_MODEL_CACHE_DIR":
           str(registry.parent / "model-cache"), "COGNIRACE_KEYS_FILE":
           str(keys_file_of(registry))}
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cognirace.cli.main", "serve",
                                 "--host", "127.0.0.1", "--port", str(port), "--registry",
                                 str(registry)], stdout=out, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield url
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def built_race(tmp_path_factory: pytest.TempPathFactory) -> BuiltRace:
    return build_race(tmp_path_factory.mktemp("dashboard"))
