"""Benchmark: does a labelled fault raise ANOMALY within the window it happened in?

Races the demo never trained on (seeds of their own, by default 101 to 106, one track
each) are simulated with telemetry at the demo's 2 Hz and the real files' quirks,
ingested, and replayed through ``parse_frame`` and ``RaceEngine.apply`` in 1-second
frames with every production model of the demo's registry loaded. The detector's answer
for every window is kept (it is wrapped, as the engine sees it), and each fault of the
races' truth is checked with ``realtime.fault_share``: was an ANOMALY event raised for
its car in a window overlapping it, and did the detector flag one of those windows (a
flag without an event: an earlier ANOMALY of that kind on the car was still latched).
Faults in channels the track does not log are left out, as in training.

Printed per fault kind and in all: faults, windows they overlap, the share caught as an
event and the share flagged, each with a 95 % Wilson interval (faults of one race are
not independent, so read them as a guide), beside the baseline measured in the same
run: the share a detector flagging windows at random, at the rate it flags fault-free
windows, would catch by chance (``1 - (1 - p)^n`` over a fault's ``n`` windows). Then
the false alarms: the share of fault-free windows flagged and the ANOMALY events in
them per car-hour.

    python bench/live_faults.py [--registry data/demo/registry] [--minutes 15]
        [--seeds 101 102 103 104 105 106] [--out docs/results/live-faults.txt]

Run ``cognirace demo`` first for its registry.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
from scipy.stats import binomtest

from cognirace.domain.tracks import TRACKS
from cognirace.ingest import ingest
from cognirace.lake import Lake, open_lake
from cognirace.realtime import RaceEngine, parse_frame, race_frames, race_info
from cognirace.realtime.fault_share import CleanWindows, FaultShare, Recorded, fault_share
from cognirace.registry import Registry
from cognirace.registry.production import production_models
from cognirace.sim import QuirkRates, RaceConfig, season_roster, simulate_one
from cognirace.training import all_tasks, load_truth, open_registry

FRAME_S = 1.0
HZ = 2.0
"""The demo season's telemetry rate, the one the detector learned from."""
DEMO_SEEDS = "7, 1007, 2022-2031, 3012-3021"
"""The seeds the demo simulates: its season, the held-out one and their histories."""


def _models(registry: Registry) -> dict[str, Any]:
    production = production_models(registry, all_tasks())
    for name, why in production.missing.items():  # a model the registry lacks runs without
        print(f"  {name}: not loaded ({why.splitlines()[0][:80]})")
    loaded = production.models
    if "anomaly" not in loaded:
        raise SystemExit("the registry has no production anomaly model: run `cognirace demo`")
    return loaded


def _simulate(root: Path, seeds: list[int], minutes: float, cars: int) -> Lake:
    """One race per seed, each at its own track and round, ingested into one lake."""
    tracks = list(TRACKS)
    for i, seed in enumerate(seeds):
        config = RaceConfig(tracks[i % len(tracks)], session="R2", event_number=i + 1,
                            event_date=dt.date(2025, 5, 4) + dt.timedelta(days=14 * i),
                            n_cars=cars, duration_s=minutes * 60, telemetry_hz=HZ,
                            quirks=QuirkRates())
        simulate_one(root / "races", config, season_roster(seed), seed=seed)
    ingest(root / "races", root / "lake")
    return open_lake(root / "lake")


def _replay(lake: Lake, race_id: str, models: dict[str, Any], minutes: float
            ) -> tuple[FaultShare, int]:
    """The race through the engine; its faults checked; faults not in telemetry."""
    detector = Recorded(models["anomaly"])
    engine = RaceEngine(race_info(lake, race_id, duration_s=minutes * 60),
                        {**models, "anomaly": detector}.get)
    for body in race_frames(lake, race_id, frame_s=FRAME_S):
        engine.apply(parse_frame(body))
    engine.settle()
    truth = load_truth(lake, [race_id])
    start = truth["race"]["start_utc"][0]
    faults = truth["faults"]
    hidden = faults.filter(~pl.col("in_telemetry")).height if faults.height else 0
    if faults.is_empty():
        faults = pl.DataFrame(schema={"car_number": pl.String, "kind": pl.String,
                                      "start_s": pl.Float64, "end_s": pl.Float64})
    return fault_share(faults, start, engine.log.events, detector.windows()), hidden


def wilson(k: int, n: int) -> tuple[float, float]:
    """The 95 % Wilson interval of a share ``k / n`` (NaN without any)."""
    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(k, n).proportion_ci(0.95, method="wilson")
    return float(ci.low), float(ci.high)


def _share(k: int, n: int) -> str:
    low, high = wilson(k, n)
    return f"{k:>3}/{n:<3} {k / n:>4.0%} [{low:>4.0%}-{high:>4.0%}]" if n else "-"


def _chance(n_windows: pl.Series, p: float) -> float:
    """The share of faults a random flag at rate ``p`` a window would catch."""
    return float((1.0 - (1.0 - p) ** n_windows.cast(pl.Float64)).mean() or 0.0)


def _delay(faults: pl.DataFrame) -> str:
    """The median time from a raised fault's start to its first event's window, s."""
    delay = faults["first_event_s"].drop_nulls()
    return f"{round(float(delay.median())) + 0}" if delay.len() else "-"  # never "-0"


def table(faults: pl.DataFrame, clean: CleanWindows) -> list[str]:
    """The printed table: per kind and in all, against chance at the clean rates."""
    p_event = clean.n_events / clean.n_windows if clean.n_windows else 0.0
    lines = [f"{'kind':12} {'faults':>6} {'windows':>7}  {'event raised [95% CI]':<24}"
             f"{'chance':>6}   {'detector flagged [95% CI]':<26}{'chance':>6} {'latched':>7} "
             f"{'delay s':>7}"]
    groups = [(str(k), faults.filter(pl.col("kind") == k))
              for k in sorted(faults["kind"].unique().to_list())]
    for name, part in [*groups, ("all", faults)]:
        n = part.height
        raised, flagged = int(part["event_raised"].sum()), int(part["detector_flagged"].sum())
        lines.append(
            f"{name:12} {n:>6} {int(part['n_windows'].sum()):>7}  {_share(raised, n):<24}"
            f"{_chance(part['n_windows'], p_event):>6.0%}   {_share(flagged, n):<26}"
            f"{_chance(part['n_windows'], clean.p_flagged):>6.0%} "
            f"{int(part['latched'].sum()):>7} {_delay(part):>7}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registry", default="data/demo/registry")
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--cars", type=int, default=25)
    parser.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103, 104, 105, 106])
    parser.add_argument("--out", default="docs/results/live-faults.txt")
    args = parser.parse_args()
    if not Path(args.registry).exists():
        raise SystemExit(f"no registry at {args.registry}: run `cognirace demo` first")
    models = _models(open_registry(args.registry))
    started = time.perf_counter()
    shares, hidden = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        lake = _simulate(Path(tmp), args.seeds, args.minutes, args.cars)
        simulated = time.perf_counter() - started
        for race_id in sorted(lake.race_ids):
            share, left_out = _replay(lake, race_id, models, args.minutes)
            shares.append(share)
            hidden += left_out
    faults = pl.concat([s.faults for s in shares], how="diagonal_relaxed")
    clean = sum((s.clean for s in shares), CleanWindows(0, 0, 0))
    blind = faults.filter(pl.col("n_windows") == 0).height
    lines = [
        f"{len(shares)} unseen races of {args.cars} cars, {args.minutes:g} min at {HZ:g} Hz, "
        f"seeds {' '.join(map(str, args.seeds))} (the demo's: {DEMO_SEEDS})",
        f"faults in telemetry: {faults.height} ({hidden} more in channels the track does "
        f"not log, left out as in training; {blind} with no window scored)", "",
        *table(faults, clean), "",
        f"fault-free windows: {clean.n_windows:,} ({clean.car_hours:.1f} car-hours): "
        f"{clean.n_flagged} flagged ({clean.p_flagged:.2%}), {clean.n_events} ANOMALY "
        f"events ({clean.events_per_car_hour:.2f} per car-hour)",
        "chance: the share of faults random flags at the fault-free windows' rate would catch",
        "latched: flagged but no event (an earlier ANOMALY of that kind was still held)",
        "delay s: median from a fault's start to the window of its first event",
    ]
    text = "\n".join(lines) + "\n"
    print(f"simulated and ingested in {simulated:.0f} s, replayed in "
          f"{time.perf_counter() - started - simulated:.0f} s\n")
    print(text, end="")
    Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
