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

Beside the engines, simulate has a ceiling: two plain processes started together, each
writing half the season's races (largest first, dealt out in turn) with Polars and
OpenMP on one thread as a Ray task runs them, no scheduler and no cluster. Their wall
time is the best any engine could reach with two workers on this machine (its disk
cache and its kernel's write-back included), so the row tells Ray's own cost apart from
the machine's.

With ``--repeats N`` every contender runs N times, a round of each in turn, so that a
slow minute of a shared machine falls on all of them; the table gives each one's median
wall time, the speed-up of the medians and every run's time. The ceiling's memory
column is the larger of its two processes' peaks.

Goal (the issue's): at least 1.7x the local wall time on 2 CPUs for simulate and
backtest.

    python bench/scale.py [--sizes 6] [--backtest-races 14] [--telemetry-hz HZ]
                          [--repeats N] [--out FILE]
    python bench/scale.py --sizes 1 --backtest-races 2     (a quick check)
    python bench/scale.py --sizes 6 --telemetry-hz 2 --backtest-races 0   (no backtest)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

CONTENDERS: tuple[tuple[str, int | None], ...] = (("local", None), ("ray", 1), ("ray", 2))
"""(engine, CPUs of the local Ray); the local engine uses one process."""
CEILING = ("procs", 2)
"""The simulate ceiling's row: two plain processes (see the module docstring)."""
ONE_THREAD = {"POLARS_MAX_THREADS": "1", "OMP_NUM_THREADS": "1"}
"""The environment of a ceiling process: one thread, as Ray runs a task."""
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


_HALF_SEASON = (
    "import sys\n"
    "from pathlib import Path\n"
    "from cognirace.cli.simulate_cmd import _rows_to_write\n"
    "from cognirace.sim import plan_season, season_races, write_season_race\n"
    "part, parts, out, per_track, seed = (int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]),\n"
    "                                     int(sys.argv[4]), int(sys.argv[5]))\n"
    "hz = float(sys.argv[6]) if len(sys.argv) > 6 else None\n"
    "configs = plan_season(races=per_track, telemetry_hz=hz, seed=seed)\n"
    "races = sorted(season_races(configs, seed), key=lambda race: -_rows_to_write(race))\n"
    "for race in races[part::parts]:\n"
    "    write_season_race(out, race)\n"
)
"""One ceiling process: its share of the season the ``simulate`` command writes."""


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
    return _measure_together([command], {**os.environ, **_JOINED})


def _measure_together(commands: list[list[str]], env: dict[str, str]) -> tuple[float, float]:
    """Wall time (s) until every command has ended, all started at once, and the largest
    peak resident memory (MB) of any of them."""
    started = time.perf_counter()
    children = [subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 env=env) for command in commands]
    processes, peak = [psutil.Process(child.pid) for child in children], 0
    while any(child.poll() is None for child in children):
        for child, process in zip(children, processes, strict=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                if child.poll() is None:
                    peak = max(peak, process.memory_info().rss)
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    for command, child in zip(commands, children, strict=True):
        _, err = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed:\n{err.decode(errors='replace')}")
    return elapsed, peak / 2**20


def _engine_args(engine: str) -> list[str]:
    return [] if engine == "local" else ["--engine", engine]


def _season(work: Path, per_track: int, telemetry_hz: float | None, start_own: bool
            ) -> list[tuple[str, str, int | None, float, float]]:
    """Simulate and ingest per contender, then the simulate ceiling; rows of (step,
    engine, cpus, seconds, MB)."""
    rows = []
    for engine, cpus in CONTENDERS:
        with _cluster(cpus, start_own):
            rows += _simulate_ingest(work, per_track, telemetry_hz, engine, cpus)
    return [*rows, _ceiling(work, per_track, telemetry_hz)]


def _ceiling(work: Path, per_track: int, telemetry_hz: float | None
             ) -> tuple[str, str, int | None, float, float]:
    """The season simulated by two plain processes, each writing half its races."""
    engine, parts = CEILING
    out = work / f"season-{engine}"
    out.mkdir()
    rate = [] if telemetry_hz is None else [f"{telemetry_hz:g}"]
    commands = [[sys.executable, "-c", _HALF_SEASON, str(part), str(parts), str(out),
                 str(per_track), str(SEED), *rate] for part in range(parts)]
    seconds, mb = _measure_together(commands, {**os.environ, **ONE_THREAD})
    shutil.rmtree(out)
    return "simulate", engine, parts, seconds, mb


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


def _train(work: Path) -> Path:
    """The snapshot models, trained once on a season of their own (untimed: two races
    per track, so each track has a race with telemetry); their registry."""
    season, lake, registry = work / "train-season", work / "train-lake", work / "registry"
    _measure(["simulate", "--out", str(season), "--races", "2", "--seed", str(SEED)], None)
    _measure(["ingest", str(season), "--lake", str(lake), "-q"], None)
    models = [arg for name in SNAPSHOT_MODELS for arg in ("-m", name)]
    _measure(["train", "--lake", str(lake), "--registry", str(registry), "-q", *models], None)
    return registry


def _backtest(registry: Path, races: int, start_own: bool
              ) -> list[tuple[str, str, int | None, float, float]]:
    """The backtest of ``races`` held-out races per contender."""
    rows = []
    for engine, cpus in CONTENDERS:
        with _cluster(cpus, start_own):
            seconds, mb = _measure(["backtest", "--registry", str(registry), "--races", str(races),
                                    "--seed", str(BACKTEST_SEED), "--workers", "1",
                                    *_engine_args(engine)], cpus)
        rows.append(("backtest", engine, cpus, seconds, mb))
    return rows


def _table(rows: list[tuple[int, str, str, int | None, float, float]]) -> list[str]:
    """One line per contender and step: the median wall time of its runs, the speed-up
    of the medians over the local engine's, the largest peak memory and, with several
    runs, each run's time."""
    runs: dict[tuple[int, str, str, int | None], list[tuple[float, float]]] = {}
    for size, step, engine, cpus, seconds, mb in rows:
        runs.setdefault((size, step, engine, cpus), []).append((seconds, mb))
    median = {key: statistics.median(s for s, _ in found) for key, found in runs.items()}
    several = any(len(found) > 1 for found in runs.values())
    lines = [f"{'races':>5}  {'step':<9} {'engine':<7} {'CPUs':>4} {'wall s':>8} "
             f"{'speed-up':>8} {'driver MB':>10}" + ("  runs (wall s)" if several else "")]
    for (size, step, engine, cpus), found in runs.items():
        seconds = median[size, step, engine, cpus]
        line = (f"{size:>5}  {step:<9} {engine:<7} {cpus or 1:>4} {seconds:>8.1f} "
                f"{median[size, step, 'local', None] / seconds:>7.2f}x "
                f"{max(mb for _, mb in found):>10.0f}")
        if several:
            line += "  " + ", ".join(f"{s:.1f}" for s, _ in found)
        lines.append(line)
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
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs of every contender, a round of each in turn; the table "
                        "gives medians (default 1)")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument("--start-ray", action="store_true",
                        help="each Ray command starts its own Ray (and its time holds it)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be 1 or more")
    rows: list[tuple[int, str, str, int | None, float, float]] = []
    work = Path(tempfile.mkdtemp(prefix="cognirace-scale-"))
    sizes = [int(s) for s in args.sizes.split(",")]
    try:
        for per_track in sizes:
            size_dir = work / f"size-{per_track}"
            size_dir.mkdir()
            for _ in range(args.repeats):
                rows += [(7 * per_track, *row)
                         for row in _season(size_dir, per_track, args.telemetry_hz,
                                            args.start_ray)]
        if args.backtest_races > 0:
            registry = _train(work / f"size-{sizes[-1]}")
            for _ in range(args.repeats):
                rows += [(args.backtest_races, *row)
                         for row in _backtest(registry, args.backtest_races, args.start_ray)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cpus = psutil.cpu_count(logical=True)
    load = ", ".join(f"{x:.1f}" for x in psutil.getloadavg())
    rate = "" if args.telemetry_hz is None else f"--telemetry-hz {args.telemetry_hz:g} "
    repeats = f"--repeats {args.repeats} " if args.repeats > 1 else ""
    lines = [f"bench/scale.py --sizes {args.sizes} --backtest-races {args.backtest_races} "
             f"{rate}{repeats}{'--start-ray ' if args.start_ray else ''}on {cpus} logical "
             f"CPUs, load average {load}", "", *_table(rows)]
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
