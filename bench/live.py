"""Benchmark: the live engine taking a full-size race at max speed, in one worker.

A race of 25 cars at 20 Hz (the field and rate of a real GR Cup logger feed) is
simulated, ingested, and replayed through ``parse_frame`` and ``RaceEngine.apply`` as
the service runs them for each frame (without the HTTP hop), in 1-second frames, each
second as two frames from two sources as a pit wall gets them: the loggers' samples,
then the timing feed's crossings, flags and weather. Twice,
interleaved: with the production models of a registry answering every lap, with no
models (the baseline: parsing, the tower and the lap features alone), and, to show
where the difference goes, with every model but ``driver`` and ``anomaly`` (whose
inputs, a lap's style and the windows' rows, are the side thread's costliest queries).
Printed:

* sustained samples per second (a sample is one car's wide row); goal at least 50,000,
  a hundred times what a 25-car field at 20 Hz sends;
* a lap completion to its events published: the time to apply a timing frame holding
  lap crossings (their features, every model and the events), per crossing, p50 and p99
  (goal p99 at most 50 ms);
* the process's resident memory at the start and the end of each replay (flat over a
  race).

    python bench/live.py [--registry data/demo/registry] [--minutes 45] [--out FILE]

Run ``cognirace demo`` first for its registry. ``--minutes`` shortens the race.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from cognirace.ingest import ingest
from cognirace.lake import open_lake
from cognirace.realtime import RaceEngine, parse_frame, race_frames, race_info
from cognirace.registry import Registry
from cognirace.registry.production import production_models
from cognirace.sim import QuirkRates, RaceConfig, season_roster, simulate_one
from cognirace.training import all_tasks, open_registry

FRAME_S = 1.0
CARS, HZ = 25, 20.0
SIDE_MODELS = ("driver", "anomaly")
"""The models whose inputs are the side thread's costliest queries (a lap's style, the
windows' rows): left out in a third case, to show what they cost (not the goal's case)."""
SIDE_CASE = "all but driver, anomaly"


def _models(registry: Registry | None) -> Any:
    if registry is None:
        return lambda _name: None
    production = production_models(registry, all_tasks())
    for name, why in production.missing.items():  # a model the registry lacks runs without
        print(f"  {name}: not loaded ({why.splitlines()[0][:80]})")
    return production


def _without(models: Any, names: tuple[str, ...]) -> Any:
    """``models`` with ``names`` not loaded."""
    return lambda name: None if name in names else models(name)


def _by_source(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each second's frame as the loggers' frame, then the timing feed's, each source
    with its own ``seq``."""
    out: list[dict[str, Any]] = []
    seq = {"telemetry": 0, "timing": 0}
    for body in frames:
        timing = {k: v for k, v in body.items() if k in ("laps", "flags", "weather")}
        for source, part in (("telemetry", {"samples": body.get("samples", [])}),
                             ("timing", timing)):
            if any(part.values()):
                out.append({"seq": seq[source], "source": source, **part})
                seq[source] += 1
    return out


def _replay(frames: list[dict[str, Any]], info: Any, models: Any) -> dict[str, float]:
    process = psutil.Process()
    gc.collect()
    rss_start = process.memory_info().rss / 2**20
    engine = RaceEngine(info, models)
    crossing_ms: list[float] = []
    samples = 0
    started = time.perf_counter()
    for body in frames:
        tick = time.perf_counter()
        frame = parse_frame(body)
        engine.apply(frame)
        spent = (time.perf_counter() - tick) * 1000
        samples += frame.samples.height
        if frame.laps.height:
            crossing_ms.append(spent / frame.laps.height)
    engine.settle()  # the last windows' answers
    elapsed = time.perf_counter() - started
    rss_end = process.memory_info().rss / 2**20
    crossing_ms.sort()
    return {"seconds": elapsed, "samples": samples, "samples_per_s": samples / elapsed,
            "crossing_p50_ms": statistics.median(crossing_ms),
            "crossing_p99_ms": crossing_ms[int(0.99 * (len(crossing_ms) - 1))],
            "rss_start_mb": rss_start, "rss_end_mb": rss_end,
            "events": len(engine.log.events), "laps": engine.tower.leader_laps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registry", default="data/demo/registry")
    parser.add_argument("--minutes", type=float, default=45.0)
    parser.add_argument("--out", default="",
                        help="also write the table here (docs/results/live.txt for the README)")
    args = parser.parse_args()
    registry = open_registry(args.registry) if Path(args.registry).exists() else None
    if registry is None:
        print(f"no registry at {args.registry}: run `cognirace demo` first; "
              "measuring without models only")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = RaceConfig("vir", n_cars=CARS, duration_s=args.minutes * 60,
                            telemetry_hz=HZ, quirks=QuirkRates())
        simulate_one(root / "races", config, season_roster(0), seed=0)
        (report,) = ingest(root / "races", root / "lake")
        lake = open_lake(root / "lake")
        race_id = report.race_id
        info = race_info(lake, race_id, duration_s=args.minutes * 60)
        frames = _by_source(list(race_frames(lake, race_id, frame_s=FRAME_S)))
        print(f"{race_id}: {CARS} cars, {args.minutes:g} min at {HZ:g} Hz, "
              f"{len(frames):,} frames ({FRAME_S:g} s of telemetry or timing each)")
        models = _models(registry)
        runs: dict[str, list[dict[str, float]]] = {
            "no models (baseline)": [], "all models": [], SIDE_CASE: []}
        for _ in range(2):
            runs["no models (baseline)"].append(_replay(frames, info, lambda _n: None))
            if registry is not None:
                runs["all models"].append(_replay(frames, info, models))
                runs[SIDE_CASE].append(_replay(frames, info, _without(models, SIDE_MODELS)))
    table = [f"{'case':24} {'samples/s':>10} {'cross p50 ms':>13} {'cross p99 ms':>13} "
             f"{'RSS start MB':>13} {'RSS end MB':>11} {'events':>7}"]
    best: dict[str, dict[str, float]] = {}
    for case, results in runs.items():
        if not results:
            continue
        top = max(results, key=lambda r: r["samples_per_s"])
        best[case] = top
        table.append(f"{case:24} {top['samples_per_s']:>10,.0f} "
                     f"{top['crossing_p50_ms']:>13.2f} {top['crossing_p99_ms']:>13.2f} "
                     f"{top['rss_start_mb']:>13.0f} {top['rss_end_mb']:>11.0f} "
                     f"{top['events']:>7.0f}")
    if "all models" in best:
        on, off = best["all models"], best["no models (baseline)"]
        table += ["", f"all models: {on['samples_per_s']:,.0f} samples/s (goal >= 50,000), "
                  f"{on['samples_per_s'] / off['samples_per_s']:.2f} of the baseline's; "
                  f"crossing p99 {on['crossing_p99_ms']:.1f} ms (goal <= 50); memory "
                  f"{on['rss_end_mb'] - on['rss_start_mb']:+.0f} MB over the race"]
        if SIDE_CASE in best:
            table.append(f"without {' and '.join(SIDE_MODELS)}: "
                         f"{best[SIDE_CASE]['samples_per_s'] / off['samples_per_s']:.2f} of "
                         "the baseline's (what their side-thread queries cost)")
    print("\n" + "\n".join(table))
    if args.out:
        Path(args.out).write_text("\n".join(table) + "\n")
        print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
