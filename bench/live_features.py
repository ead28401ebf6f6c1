"""Benchmark: cost of one lap completion in the live feature builder, early and late.

Replays one full-size simulated race (25 cars, 45 minutes, telemetry at 2 Hz by default)
through the live builder the way a stream would: weather rows, samples and lap
completions in time order. Each completion is timed, and the cost of the first 100 is
set beside that of the last 100 (median and p99, ms). The baseline, in the same run, is
the approach before the builder became incremental: keep every lap and recompute the
race's table at each completion (``build_lap_features`` over all laps received), once
with Polars' default engine as it ran, once with the in-memory engine the builder now
uses, so the table shows what the engine gives and what not growing gives. Completions
of the approaches are interleaved, so load on the machine falls on all alike; the race
is replayed ``--repeat`` times with new builders and each completion's cost is its
least over the replays, which takes out pauses caused by other work on the machine.
Garbage collection is frozen after the stream is built: the stream's rows are the
benchmark's, not a builder's.

The goal: the builder's last-100 median within 1.5x its first-100 median (flat), and
below the baseline's at the end. Every row of the builder is checked equal to the
baseline's.

    python bench/live_features.py [--hz 2] [--seed 0] [--track barber] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from cognirace.features import LiveFeatureBuilder, aggregate_telemetry, build_lap_features
from cognirace.ingest import ingest
from cognirace.lake import Lake, open_lake
from cognirace.lake.schema import LAPS, TELEMETRY, WEATHER
from cognirace.sim import RaceConfig, season_roster, simulate_one

WINDOW = 100
"""Completions at each end of the race compared."""

Event = tuple[Any, int, str, dict[str, Any]]
WEATHER_ROW, SAMPLE, LAP = 0, 1, 2


class Builder(Protocol):
    def add_sample(self, sample: Mapping[str, Any]) -> None: ...
    def add_weather(self, row: Mapping[str, Any]) -> None: ...
    def complete_lap(self, lap: Mapping[str, Any]) -> pl.DataFrame: ...


class RecomputeBuilder:
    """The baseline: every lap, weather row and lap aggregate kept, and the race's table
    recomputed at each completion (the live builder before it became incremental)."""

    def __init__(self, race_id: str, track: str, session: str, engine: str) -> None:
        self._race = pl.DataFrame({"race_id": [race_id], "track": [track],
                                   "session": [session]})
        self._engine: Any = engine
        self._laps: list[dict[str, Any]] = []
        self._weather: list[dict[str, Any]] = []
        self._samples: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        self._telemetry: list[pl.DataFrame] = []

    def add_sample(self, sample: Mapping[str, Any]) -> None:
        self._samples[(sample["vehicle_id"], sample["lap"])].append(dict(sample))

    def add_weather(self, row: Mapping[str, Any]) -> None:
        self._weather.append(dict(row))

    def complete_lap(self, lap: Mapping[str, Any]) -> pl.DataFrame:
        self._laps.append(dict(lap))
        samples = self._samples.pop((lap["vehicle_id"], lap["lap"]), [])
        if lap["vehicle_id"] is not None and samples:
            frame = pl.DataFrame(samples, schema=TELEMETRY).lazy()
            self._telemetry.append(aggregate_telemetry(frame).collect(engine=self._engine))
        telemetry = pl.concat(self._telemetry) if self._telemetry else \
            aggregate_telemetry(pl.LazyFrame(schema=TELEMETRY)).collect()
        features = build_lap_features(
            pl.DataFrame(self._laps, schema=LAPS).lazy(), self._race.lazy(),
            pl.DataFrame(self._weather, schema=WEATHER).lazy(), telemetry.lazy())
        own = (pl.col("car_number") == lap["car_number"]) & (pl.col("lap") == lap["lap"])
        return features.filter(own).collect(engine=self._engine)


def full_race(root: Path, track: str, hz: float, seed: int) -> Lake:
    """One 25-car, 45-minute race, simulated and ingested (as ``bench/simulate.py``)."""
    config = RaceConfig(track, n_cars=25, duration_s=2700.0, telemetry_hz=hz)
    simulate_one(root / "src", config, season_roster(seed), seed)
    ingest(root / "src", root / "lake")
    return open_lake(root / "lake")


def stream(lake: Lake, race_id: str) -> list[Event]:
    """The race's rows in the order they happen: at one instant, weather, then samples,
    then lap completions by car number (the crossing order)."""
    own = pl.col("race_id") == race_id
    events: list[Event] = [(r["time"], WEATHER_ROW, "", r)
                           for r in lake.weather.filter(own).iter_rows(named=True)]
    events += [(r["time"], SAMPLE, r["vehicle_id"], r)
               for r in lake.telemetry(race_id).iter_rows(named=True)]
    events += [(r["lap_end"], LAP, r["car_number"], r)
               for r in lake.laps.filter(own).iter_rows(named=True)]
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    return events


def builders_for(race_id: str, track: str, session: str) -> dict[str, Builder]:
    """The baseline as it ran, the baseline on the builder's engine, and the builder."""
    return {
        "recompute, default engine (before)": RecomputeBuilder(race_id, track, session,
                                                               "auto"),
        "recompute, in-memory engine": RecomputeBuilder(race_id, track, session, "in-memory"),
        "incremental (LiveFeatureBuilder)": LiveFeatureBuilder(race_id, track, session),
    }


def replay(events: list[Event], builders: dict[str, Builder]
           ) -> tuple[dict[str, list[float]], dict[str, list[pl.DataFrame]]]:
    """Feed every builder each event in turn; the wall time of each completion, ms."""
    costs: dict[str, list[float]] = {name: [] for name in builders}
    rows: dict[str, list[pl.DataFrame]] = {name: [] for name in builders}
    for _, kind, _, row in events:
        for name, builder in builders.items():
            if kind == WEATHER_ROW:
                builder.add_weather(row)
            elif kind == SAMPLE:
                builder.add_sample(row)
            else:
                started = time.perf_counter()
                rows[name].append(builder.complete_lap(row))
                costs[name].append((time.perf_counter() - started) * 1e3)
    return costs, rows


def _stats(costs: np.ndarray) -> tuple[float, float]:
    return float(np.median(costs)), float(np.percentile(costs, 99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hz", type=float, default=2.0, help="telemetry rate, Hz (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--track", default="barber")
    parser.add_argument("--repeat", type=int, default=3,
                        help="replays; a completion's cost is its least over them")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cognirace-bench-live-"))
    try:
        lake = full_race(tmp, args.track, args.hz, args.seed)
        race = lake.races.row(0, named=True)
        race_id, track, session = race["race_id"], race["track"], race["session"]
        events = stream(lake, race_id)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    gc.collect()
    gc.freeze()
    runs = []
    for _ in range(args.repeat):
        costs, rows = replay(events, builders_for(race_id, track, session))
        before, *_, after = costs
        assert_frame_equal(pl.concat(rows[after]), pl.concat(rows[before]), check_exact=True)
        runs.append(costs)
    least = {name: np.min([run[name] for run in runs], axis=0) for name in runs[0]}
    n_laps = len(least[after])
    n_samples = sum(1 for e in events if e[1] == SAMPLE)
    print(f"{race_id}: 25 cars, 45 min, {n_laps} completions, {n_samples:,} samples "
          f"({args.hz:g} Hz); rows of every approach identical; least of {args.repeat} "
          f"replays, ms per completion")
    print(f"{'approach':<38}{'first 100 p50':>14}{'p99':>8}{'last 100 p50':>14}{'p99':>8}"
          f"{'last/first':>12}")
    for name, ms in least.items():
        first, last = _stats(ms[:WINDOW]), _stats(ms[-WINDOW:])
        print(f"{name:<38}{first[0]:>14.2f}{first[1]:>8.2f}{last[0]:>14.2f}{last[1]:>8.2f}"
              f"{last[0] / first[0]:>12.2f}")
    end_before = float(np.median(least[before][-WINDOW:]))
    end_after = float(np.median(least[after][-WINDOW:]))
    print(f"at the end the incremental builder takes {end_after / end_before:.2f}x the "
          f"baseline's time per completion (goal: last/first <= 1.5, and < 1x here)")


if __name__ == "__main__":
    main()
