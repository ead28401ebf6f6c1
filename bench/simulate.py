"""Benchmark: one full-size race (25 cars, 45 minutes, 20 Hz) and the demo season, on disk.

Prints the time, the peak memory and the telemetry rows written per second, beside the
baseline of the same race without telemetry (timing files and truth only), then the time
of the demo season ``cognirace simulate`` writes by default (42 races, telemetry at 2 Hz
for one race per track). Rows are fewer per sample than before the logger realism
(``speed``, ``nmot`` and the lap distance on one sample in four at 20 Hz; ``aps`` or
``ath`` and GPS only where the real track logs them), so compare times, not rows.
"""

from __future__ import annotations

import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from cognirace.sim import QuirkRates, RaceConfig, season_roster, simulate_one, simulate_season


def _run(out: Path, hz: float) -> tuple[float, int, int]:
    config = RaceConfig("vir", n_cars=25, duration_s=2700.0, telemetry_hz=hz,
                        quirks=QuirkRates())
    started = time.perf_counter()
    summary = simulate_one(out, config, season_roster(0), seed=0)
    elapsed = time.perf_counter() - started
    size = sum(p.stat().st_size for p in summary.files)
    return elapsed, summary.telemetry_rows, size


def _demo(out: Path) -> tuple[float, int, int]:
    started = time.perf_counter()
    summary = simulate_season(out, season="demo", seed=7)
    elapsed = time.perf_counter() - started
    size = sum(p.stat().st_size for r in summary.races for p in r.files)
    return elapsed, summary.telemetry_rows, size


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="cognirace-bench-"))
    try:
        base_s, _, base_bytes = _run(tmp / "timing", 0.0)
        full_s, rows, full_bytes = _run(tmp / "full", 20.0)
        demo_s, demo_rows, demo_bytes = _demo(tmp / "demo")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak_kb / (1024 * 1024) if sys.platform == "darwin" else peak_kb / 1024
    print(f"{'case':<34}{'time (s)':>10}{'rows':>14}{'rows/s':>14}{'MB written':>12}")
    print(f"{'timing only (baseline)':<34}{base_s:>10.2f}{0:>14,}{'-':>14}"
          f"{base_bytes / 1e6:>12.1f}")
    print(f"{'25 cars, 45 min, 20 Hz':<34}{full_s:>10.2f}{rows:>14,}"
          f"{rows / max(full_s - base_s, 1e-9):>14,.0f}{full_bytes / 1e6:>12.1f}")
    print(f"{'demo season (42 races, seed 7)':<34}{demo_s:>10.2f}{demo_rows:>14,}"
          f"{demo_rows / max(demo_s, 1e-9):>14,.0f}{demo_bytes / 1e6:>12.1f}")
    print(f"peak memory (process): {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
