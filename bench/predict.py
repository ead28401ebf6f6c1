"""Benchmark: in-process prediction latency of every production model and its baseline.

For each task, the production model and the production baseline are loaded from a
registry and timed on rows built from a lake, the way the API will call them:

* one row per call: median and p99 over N calls (default 2,000) after a warm-up,
  cycling through different rows so no call repeats the last one;
* 1,000 rows per call: median over 20 calls, and the rows per second that gives.

Without ``--registry`` the script simulates a small season, ingests it and trains every
task into a temporary registry first; without ``--lake`` it predicts on that season.

    python bench/predict.py [--registry DIR_OR_URL --lake DIR] [--calls 2000] [-m laptime]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from cognirace.ingest import ingest
from cognirace.lake import Lake, open_lake
from cognirace.models.base import Model
from cognirace.registry import Registry
from cognirace.sim import simulate_season
from cognirace.training import (
    baseline_name,
    load_production,
    open_registry,
    select_tasks,
    task_examples,
    train,
)

WARMUP_CALLS = 100
BATCH_ROWS = 1_000
BATCH_CALLS = 20
DISTINCT_ROWS = 256


def small_season(root: Path) -> Lake:
    """Two tracks, two 12-car races each, telemetry at 2 Hz: enough rows for every task."""
    simulate_season(root / "races", tracks=["barber", "sonoma"], races=2, cars=12,
                    telemetry_hz=2.0, seed=11)
    ingest(root / "races", root / "lake")
    return open_lake(root / "lake")


def time_calls(call: Callable[[int], object], n_calls: int) -> list[float]:
    """Wall time of each of ``n_calls`` calls ``call(i)``, in ms, after a warm-up."""
    for i in range(WARMUP_CALLS):
        call(i)
    times = []
    for i in range(n_calls):
        started = time.perf_counter_ns()
        call(i)
        times.append((time.perf_counter_ns() - started) / 1e6)
    return times


def measure(model: Model, rows: pl.DataFrame, n_calls: int) -> tuple[float, float, float]:
    """(single-row median ms, single-row p99 ms, 1,000-row median ms)."""
    singles = [rows.slice(i, 1) for i in range(min(rows.height, DISTINCT_ROWS))]
    single = time_calls(lambda i: model.predict(singles[i % len(singles)]), n_calls)
    batch = rows.sample(BATCH_ROWS, with_replacement=True, seed=0)
    batched = time_calls(lambda _i: model.predict(batch), BATCH_CALLS)
    return (statistics.median(single), float(np.percentile(single, 99)),
            statistics.median(batched))


def print_table(results: list[tuple[str, str, tuple[float, float, float]]]) -> None:
    """One line per model and baseline; the ratios compare each model to its baseline."""
    print(f"\n{'model':<22}{'1 row p50 ms':>14}{'1 row p99 ms':>14}"
          f"{'1,000 rows ms':>15}{'rows/s':>12}{'p50 / base':>12}{'1k / base':>11}")
    base = {task: timing for task, which, timing in results if which == "baseline"}
    for task, which, (p50, p99, batch) in results:
        label = task if which == "model" else f"{task} baseline"
        ratios = (f"{p50 / base[task][0]:>12.1f}{batch / base[task][2]:>11.1f}"
                  if which == "model" and task in base else "")
        print(f"{label:<22}{p50:>14.3f}{p99:>14.3f}{batch:>15.2f}"
              f"{BATCH_ROWS / batch * 1e3:>12,.0f}{ratios}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registry", help="registry with production models (default: "
                        "train on a small simulated season first)")
    parser.add_argument("--lake", type=Path, help="lake to build the rows from")
    parser.add_argument("--calls", type=int, default=2_000, help="single-row calls timed")
    parser.add_argument("-m", "--models", action="append", help="only these models")
    args = parser.parse_args()
    tasks = select_tasks(args.models)
    with tempfile.TemporaryDirectory(prefix="cognirace-bench-") as tmp:
        lake = open_lake(args.lake) if args.lake else small_season(Path(tmp))
        registry: Registry
        if args.registry:
            registry = open_registry(args.registry, tasks)
        else:
            registry = open_registry(Path(tmp) / "registry", tasks)
            started = time.perf_counter()
            train(lake, registry, tasks, seed=0)
            print(f"trained {len(tasks)} models in {time.perf_counter() - started:.0f} s "
                  f"on {len(lake.race_ids)} races")
        examples = task_examples(lake, tasks)
        results = []
        for task in tasks:
            rows = examples[task.name]
            for which, name in (("model", task.name), ("baseline", baseline_name(task))):
                model, _ = load_production(registry, name)
                results.append((task.name, which, measure(model, rows, args.calls)))
        print_table(results)


if __name__ == "__main__":
    main()
