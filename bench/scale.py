"""Benchmark: simulate, ingest and backtest with ``--engine local`` against ``--engine ray``.

A demo season (7 tracks, 6 races each: 42 races, telemetry at 2 Hz for one race per
track) is simulated and ingested by the ``cognirace`` command itself, once per
contender: the local engine (this process, as ever), then a local Ray with 1 CPU and
with 2 CPUs. The backtest runs held-out races against models trained once on the
season of its own (not timed), locally with ``--workers 1`` and on Ray with 1 and 2 CPUs.

Each run is a fresh process. For Ray, a local cluster with the CPU count asked is
started first (``ray start --head --num-cpus K``) and each command joins it
(``RAY_ADDRESS``), as on a cluster that is already up: the commands' times hold their
connection to Ray, the start of their workers and the import of CogniRace in them,
not the cluster's own start-up, which is timed apart and printed under the table (with
``--start-ray``, each command starts its own Ray instead, and pays it).
The driver's peak memory is its own resident set (sampled every 20 ms with psutil,
workers and Ray's daemons not counted): it should stay flat as races grow, which
``--sizes`` shows by running several season sizes (races per track).

With ``--telemetry-hz``, every race of the timed seasons carries telemetry at that rate
(a season as a series logs it, where the demo's logs one race per track): each race is
then a task of some seconds, where the demo season's are mostly a fraction of one.
Each contender's season and lake are deleted once measured, so the disk holds one at a
time (42 races at 2 Hz are about 8 GB of files).

Goal (the issue's): at least 1.7x the local wall time on 2 CPUs for simulate and
backtest. Only a quiet machine gives figures worth keeping.

    python bench/scale.py [--sizes 6] [--backtest-races 14] [--telemetry-hz HZ] [--out FILE]
    python bench/scale.py --sizes 1 --backtest-races 2     (a quick check)
    python bench/scale.py --sizes 6 --telemetry-hz 2 --backtest-races 0   (no backtest)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

CONTENDERS: tuple[tuple[str, int | None], ...] = (("local", None), ("ray", 1), ("ray", 2))
"""(engine, CPUs of the local Ray); the local engine uses one process."""
SEED = 0
BACKTEST_SEED = 5001
SNAPSHOT_MODELS = ("laptime", "tire", "fuel", "pitloss", "fcy", "traffic")
_RAY_THEN_CLI = (
    "import sys, ray\n"
    "ray.init(num_cpus=int(sys.argv[1]), include_dashboard=False, log_to_driver=False)\n"
    "from cognirace.cli.main import main\n"
    "sys.argv = ['cognirace', *sys.argv[2:]]\n"
    "main()\n"
)


STARTUPS: dict[int, list[float]] = {}
"""Seconds ``ray start --head`` took, by CPU count."""
_JOINED: dict[str, str] = {}
"""The environment that makes a command join the running cluster (empty: none runs)."""


@contextlib.contextmanager
def _cluster(cpus: int | None, start_own: bool) -> Iterator[None]:
    """A local Ray cluster of ``cpus`` CPUs that the commands join while the block runs
    (nothing for the local engine, or when each command starts its own Ray)."""
    if cpus is None or start_own:
        yield
        return
    ray = str(Path(sys.executable).with_name("ray"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    subprocess.run([ray, "start", "--head", f"--num-cpus={cpus}", f"--port={port}",
                    "--include-dashboard=false", "--disable-usage-stats"],
                   check=True, capture_output=True,
                   env={**os.environ, "RAY_AUTH_MODE": "disabled"})  # on loopback only
    STARTUPS.setdefault(cpus, []).append(time.perf_counter() - started)
    _JOINED["RAY_ADDRESS"] = f"127.0.0.1:{port}"
    try:
        yield
    finally:
        _JOINED.clear()
        subprocess.run([ray, "stop", "--force"], check=False, capture_output=True)


def _measure(args: list[str], cpus: int | None) -> tuple[float, float]:
    """Wall time (s) and the driver's peak resident memory (MB) of one command line."""
    command = [str(Path(sys.executable).with_name("cognirace")), *args] \
        if cpus is None or _JOINED else [sys.executable, "-c", _RAY_THEN_CLI, str(cpus), *args]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env={**os.environ, **_JOINED})
    process, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        try:
            peak = max(peak, process.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    _, err = child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{err.decode(errors='replace')}")
    return elapsed, peak / 2**20


def _engine_args(engine: str) -> list[str]:
    return [] if engine == "local" else ["--engine", engine]


def _season(work: Path, per_track: int, telemetry_hz: float | None, start_own: bool
            ) -> list[tuple[str, str, int | None, float, float]]:
    """Simulate and ingest per contender; rows of (step, engine, cpus, seconds, MB)."""
    rows = []
    for engine, cpus in CONTENDERS:
        with _cluster(cpus, start_own):
            rows += _simulate_ingest(work, per_track, telemetry_hz, engine, cpus)
    return rows


def _simulate_ingest(work: Path, per_track: int, telemetry_hz: float | None, engine: str,
                     cpus: int | None) -> list[tuple[str, str, int | None, float, float]]:
    """One contender's simulate, then ingest, of the season (deleted once measured)."""
    out, lake = work / f"season-{engine}-{cpus}", work / f"lake-{engine}-{cpus}"
    rate = [] if telemetry_hz is None else ["--telemetry-hz", f"{telemetry_hz:g}"]
    simulate = _measure(["simulate", "--out", str(out), "--races", str(per_track),
                         "--seed", str(SEED), *rate, *_engine_args(engine)], cpus)
    ingest = _measure(["ingest", str(out), "--lake", str(lake), "-q",
                       *_engine_args(engine)], cpus)
    shutil.rmtree(out)
    shutil.rmtree(lake)
    return [("simulate", engine, cpus, *simulate), ("ingest", engine, cpus, *ingest)]


def _backtest(work: Path, races: int, start_own: bool
              ) -> list[tuple[str, str, int | None, float, float]]:
    """Train the snapshot models once on a season of their own (untimed: two races per
    track, so each track has a race with telemetry), then the backtest per contender."""
    season, lake, registry = work / "train-season", work / "train-lake", work / "registry"
    _measure(["simulate", "--out", str(season), "--races", "2", "--seed", str(SEED)], None)
    _measure(["ingest", str(season), "--lake", str(lake), "-q"], None)
    models = [arg for name in SNAPSHOT_MODELS for arg in ("-m", name)]
    _measure(["train", "--lake", str(lake), "--registry", str(registry), "-q", *models], None)
    rows = []
    for engine, cpus in CONTENDERS:
        with _cluster(cpus, start_own):
            seconds, mb = _measure(["backtest", "--registry", str(registry), "--races", str(races),
                                    "--seed", str(BACKTEST_SEED), "--workers", "1",
                                    *_engine_args(engine)], cpus)
        rows.append(("backtest", engine, cpus, seconds, mb))
    return rows


def _table(rows: list[tuple[int, str, str, int | None, float, float]]) -> list[str]:
    local = {(size, step): s for size, step, engine, _, s, _ in rows if engine == "local"}
    lines = [f"{'races':>5}  {'step':<9} {'engine':<7} {'CPUs':>4} {'wall s':>8} "
             f"{'speed-up':>8} {'driver MB':>10}"]
    for size, step, engine, cpus, seconds, mb in rows:
        lines.append(f"{size:>5}  {step:<9} {engine:<7} {cpus or 1:>4} {seconds:>8.1f} "
                     f"{local[size, step] / seconds:>7.2f}x {mb:>10.0f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="6", help="races per track, comma-separated "
                        "(6: the 42-race demo season)")
    parser.add_argument("--backtest-races", type=int, default=14,
                        help="held-out races of the timed backtest; 0 times simulate and "
                        "ingest alone")
    parser.add_argument("--telemetry-hz", type=float, default=None,
                        help="telemetry for every race of the timed seasons at this rate "
                        "(default: the demo season's, one race per track at 2 Hz)")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument("--start-ray", action="store_true",
                        help="each Ray command starts its own Ray (and its time holds it)")
    args = parser.parse_args()
    rows: list[tuple[int, str, str, int | None, float, float]] = []
    work = Path(tempfile.mkdtemp(prefix="cognirace-scale-"))
    try:
        for per_track in (int(s) for s in args.sizes.split(",")):
            size_dir = work / f"size-{per_track}"
            size_dir.mkdir()
            n_races = 7 * per_track
            rows += [(n_races, *row) for row in _season(size_dir, per_track, args.telemetry_hz,
                                                         args.start_ray)]
            if args.backtest_races > 0 and per_track == int(args.sizes.split(",")[-1]):
                rows += [(args.backtest_races, *row)
                         for row in _backtest(size_dir, args.backtest_races, args.start_ray)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cpus = psutil.cpu_count(logical=True)
    load = ", ".join(f"{x:.1f}" for x in psutil.getloadavg())
    rate = "" if args.telemetry_hz is None else f"--telemetry-hz {args.telemetry_hz:g} "
    lines = [f"bench/scale.py --sizes {args.sizes} --backtest-races {args.backtest_races} "
             f"{rate}{'--start-ray ' if args.start_ray else ''}on {cpus} logical CPUs, load "
             f"average {load}", "", *_table(rows)]
    if STARTUPS:
        lines += ["", "Ray's own start-up (ray start --head; once per cluster, not per "
                  "command): " + ", ".join(f"{n} CPU{'s' if n > 1 else ''} "
                                           f"{min(t):.1f}-{max(t):.1f} s"
                                           for n, t in sorted(STARTUPS.items()))]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
