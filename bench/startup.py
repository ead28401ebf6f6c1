"""Benchmark: how long the ``cognirace`` command takes to answer ``--help``.

Every command imports only what it runs, so help and usage errors come back at the cost
of Python, Typer and Rich, and ``cognirace ingest`` never loads the models or the
service. Each case runs as its own process, ``ROUNDS`` times interleaved; the fastest
wall time counts. Baselines in the same run: a bare interpreter, and one importing
Polars (what every command loaded at start before).

    python bench/startup.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

ROUNDS = 15

CASES: tuple[tuple[str, list[str]], ...] = (
    ("python -c pass (floor)", [sys.executable, "-c", "pass"]),
    ("python -c 'import polars'", [sys.executable, "-c", "import polars"]),
    ("cognirace --help", ["cognirace", "--help"]),
    ("cognirace ingest --help", ["cognirace", "ingest", "--help"]),
    ("cognirace serve --help", ["cognirace", "serve", "--help"]),
)


def _command(argv: list[str]) -> list[str]:
    if argv[0] != "cognirace":
        return argv
    found = shutil.which("cognirace")
    if found is None:
        raise SystemExit("cognirace is not on PATH: install the package first")
    return [found, *argv[1:]]


def main() -> None:
    best = {name: float("inf") for name, _ in CASES}
    for _ in range(ROUNDS):
        for name, argv in CASES:
            started = time.perf_counter()
            subprocess.run(_command(argv), check=True, capture_output=True)
            best[name] = min(best[name], time.perf_counter() - started)
    floor = best[CASES[0][0]]
    print(f"{'case':28s} {'best s':>7s} {'over floor s':>13s}")
    for name, seconds in best.items():
        print(f"{name:28s} {seconds:7.3f} {seconds - floor:13.3f}")


if __name__ == "__main__":
    main()
