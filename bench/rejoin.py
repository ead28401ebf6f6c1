"""Benchmark: the rejoin estimate against the simulator, on every stop of held-out seasons.

Where will the car come out, and how far from the cars around it? The issue's goal: the
right place to within one for at least 90% of stops (the best open tool reports 86.5% on
real F1 stops). Timing-only seasons are simulated from seeds the demo never trains on
(the demo uses 7, 1007 and the history seeds 2022-2031 and 3012-3021), ingested, and
for every stop the simulator's truth records (``truth/<S>_pit_stops.parquet``):

1. the snapshot (``strategy.snapshot_at``, the demo registry's production models) at
   the leader's first crossing after the car's crossing before its in-lap: the moment
   the pit wall calls the car in, the car's position there being the truth's
   ``position_before``;
2. the estimate (``strategy.rejoin``) with the ``pitloss`` model's loss of the stop the
   team calls, under green or under caution as the in-lap's flag says: a tire change
   (the snapshot's own stop losses), a repair (new tires and a longer stand), or a
   drive-through (no tire change, so no new tires on the out-lap) for a penalty;
3. compared with the truth's ``rejoin_position`` (the car's place at the end of its
   out-lap) and with its gaps to the cars just ahead and behind at that line, from the
   truth's crossings (``truth/<S>_laps.parquet``), where the estimate reads them.

A car the ``laptime`` model has no answer for yet (no green lap: the first laps, a
caution from lap 1) gets the field's pace (``snapshot_at(..., pace_fallback=True)``,
``strategy.snapshot_pace``); an estimate in which any car runs at that fallback is
counted apart (column ``fb.``, row ``fallback pace``), never mixed into the model-paced
figures. A stop without an estimate (an in-lap on lap 1, the lap-1 leader's in-lap 2
before anyone else has crossed the line, a snapshot that cannot be built) is counted by
its reason, and as a miss in the column over every stop. The baseline, measured on the
same stops: the car rejoins where it was (``position_before``). The stops are also
split by how many other cars left the pit lane during the car's in-lap and out-lap (the
truth's; the estimate assumes none, as nobody knows at the call). Also timed: a
snapshot, against the lap features it builds alone.

The estimator is tuned and diagnosed on other seeds (``--seeds 6001-6020``, ``--rows``
for every stop's row); the held-out seeds here are run once for the figures.

    python bench/rejoin.py [--registry data/demo/registry] [--seeds 5001-5010]

Run ``cognirace demo`` first for its registry. Writes ``docs/results/rejoin.txt``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from cognirace.errors import CogniraceError
from cognirace.features import aggregate_telemetry, build_lap_features
from cognirace.ingest import ingest
from cognirace.lake import Lake, open_lake
from cognirace.registry import Registry
from cognirace.sim import simulate_season
from cognirace.strategy.rejoin import estimate_rejoin
from cognirace.strategy.snapshot import RaceSnapshot
from cognirace.strategy.snapshot_at import snapshot_at
from cognirace.training import all_tasks, open_registry

GOAL_WITHIN_ONE = 0.90
OUT = Path(__file__).resolve().parents[1] / "docs" / "results" / "rejoin.txt"
Models = Callable[[str], Any]


def _models(registry: Registry) -> Models:
    loaded = {}
    for name in all_tasks():
        try:
            loaded[name] = registry.load(name, registry.resolve(name, "production"))
        except Exception as exc:  # a model the registry lacks: the snapshot says what
            print(f"  {name}: not loaded ({str(exc).splitlines()[0][:80]})")
    return loaded.get


def _seeds(text: str) -> list[int]:
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def _season(root: Path, seed: int, races: int) -> Lake:
    """A timing-only season of ``seed`` simulated and ingested into its own lake."""
    simulate_season(root / f"races-{seed}", season="demo", races=races, telemetry_hz=0.0,
                    seed=seed)
    ingest(root / f"races-{seed}", root / f"lake-{seed}")
    return open_lake(root / f"lake-{seed}")


def _stops(lake: Lake) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Each race's row and each of its stops from the truth, in lap order; a stop also
    carries ``others_exits_s``, the pit-exit times of the race's other stops."""
    for race in lake.races.iter_rows(named=True):
        path = Path(race["source_dir"]) / "truth" / f"{race['session']}_pit_stops.parquet"
        stops = pl.read_parquet(path).sort("lap")
        exits = stops["pit_exit_s"].to_list()
        for i, stop in enumerate(stops.iter_rows(named=True)):
            others = [t for j, t in enumerate(exits) if j != i and t is not None]
            yield race, {**stop, "others_exits_s": others}


def _others_stopping(race: dict[str, Any], car: str, in_lap: int, exits_s: list[float]
                     ) -> int | None:
    """How many other stops left the pit lane between the car's crossing before its
    in-lap and the end of its out-lap (the truth's times): what the estimate cannot
    know at the call. None when the truth lacks one of the two crossings."""
    ends = _crossings(str(Path(race["source_dir"]) / "truth" / f"{race['session']}_laps.parquet"))
    start = ends.get((car, in_lap - 1), 0.0 if in_lap == 1 else None)
    end = ends.get((car, in_lap + 1))
    if start is None or end is None:
        return None
    return sum(start < t <= end for t in exits_s)


@functools.lru_cache(maxsize=4)
def _crossings(path: str) -> dict[tuple[str, int], float]:
    """The truth's crossing of every car and lap of a race, s since the green flag."""
    laps = pl.read_parquet(path, columns=["car_number", "lap", "lap_end_s"])
    return {(str(c), int(n)): float(t) for c, n, t in laps.iter_rows() if t is not None}


def _line_gaps(race: dict[str, Any], car: str, lap: int) -> tuple[float | None, float | None]:
    """The truth's gaps at the car's crossing of ``lap`` to the cars completing the same
    lap number just before and just after it, s (None: nobody there)."""
    ends = _crossings(str(Path(race["source_dir"]) / "truth" / f"{race['session']}_laps.parquet"))
    mine = ends.get((car, lap))
    if mine is None:
        return None, None
    others = [t for (c, n), t in ends.items() if n == lap and c != car]
    ahead, behind = [t for t in others if t < mine], [t for t in others if t >= mine]
    return (round(mine - max(ahead), 3) if ahead else None,
            round(min(behind) - mine, 3) if behind else None)


def _snapshot_lap(laps: pl.DataFrame, car: str, in_lap: int) -> int | None:
    """The leader's first lap completed at or after the car's crossing before its
    in-lap; None for an in-lap on lap 1 (no crossing before it)."""
    before = laps.filter((pl.col("car_number") == car) & (pl.col("lap") == in_lap - 1))
    if in_lap < 2 or before.is_empty():
        return None
    crossed: dt.datetime = before["lap_end"][0]
    leader = laps.group_by("lap").agg(pl.col("lap_end").min()) \
        .filter(pl.col("lap_end") >= crossed).sort("lap")
    return int(leader["lap"][0]) if leader.height else None


def _called_loss(models: Models, snap: RaceSnapshot, caution: bool, reason: str) -> float:
    """The ``pitloss`` model's loss of the stop the team calls, s: the snapshot's tire
    change, else asked for a repair (``damage``) or a drive-through."""
    if reason == "tyres":
        return snap.pit_loss_caution_s if caution else snap.pit_loss_green_s
    answer = models("pitloss").predict(pl.DataFrame(
        {"track": [snap.track], "caution": [caution], "tire_change": [reason == "damage"],
         "repair": [reason == "damage"]}))
    return float(answer["pit_loss_pred_s"][0])


def _estimate(snap: RaceSnapshot, car: str, loss_s: float, in_lap: int, new_tires: bool
              ) -> dict[str, Any]:
    """The rejoin estimator's place, gaps (ahead, behind), and whether a pace in it is
    the field's fallback."""
    answer = estimate_rejoin(snap, car, loss_s, in_lap=in_lap, new_tires=new_tires)
    return {"estimate": answer.position, "est_gap_ahead_s": answer.gap_ahead_s,
            "est_gap_behind_s": answer.gap_behind_s, "fallback": answer.pace_fallback}


class _Snapshots:
    """Snapshots of a lake by race and lap, built once, each timed."""

    def __init__(self, lake: Lake, models: Models) -> None:
        self.lake, self.models = lake, models
        self.built: dict[tuple[str, int], RaceSnapshot | str] = {}
        self.seconds: list[float] = []

    def get(self, race_id: str, lap: int) -> RaceSnapshot | str:
        key = (race_id, lap)
        if key not in self.built:
            started = time.perf_counter()
            try:
                self.built[key] = snapshot_at(self.lake, race_id, lap, self.models,
                                              pace_fallback=True)
            except CogniraceError as exc:
                self.built[key] = str(exc).split(" for car(s)")[0].split(" (value")[0]
            self.seconds.append(time.perf_counter() - started)
        return self.built[key]


def _check(lake: Lake, snaps: _Snapshots, models: Models, race: dict[str, Any],
           stop: dict[str, Any]) -> dict[str, Any]:
    """One stop: the truth, the estimate (or why there is none) and the baseline."""
    laps = lake.laps.filter((pl.col("race_id") == race["race_id"])
                            & pl.col("lap_end").is_not_null())
    car, in_lap = str(stop["car_number"]), int(stop["lap"])
    flag = laps.filter((pl.col("car_number") == car) & (pl.col("lap") == in_lap))["flag"]
    caution = bool(flag.len()) and flag[0] == "FCY"
    ahead, behind = _line_gaps(race, car, in_lap + 1)
    row = {"race_id": race["race_id"], "car": car, "in_lap": in_lap, "reason": stop["reason"],
           "caution": caution, "truth": stop["rejoin_position"], "before": stop["position_before"],
           "gap_ahead_s": ahead, "gap_behind_s": behind, "exit_gap_ahead_s": stop["gap_ahead_s"],
           "exit_gap_behind_s": stop["gap_behind_s"], "estimate": None, "why": None,
           "others_stopping": _others_stopping(race, car, in_lap, stop["others_exits_s"])}
    lap = _snapshot_lap(laps, car, in_lap)
    if lap == 1:  # the snapshot holds the cars that had crossed the line: the leader alone
        return {**row, "why": "in-lap 2 of the lap-1 leader: no other car had crossed the line"}
    snap = "in-lap on lap 1" if lap is None else snaps.get(race["race_id"], lap)
    if isinstance(snap, str):
        return {**row, "why": snap}
    mine = next((c for c in snap.cars if c.car_number == car), None)
    if mine is None or mine.laps != in_lap - 1:
        return {**row, "why": "car not at its in-lap start at the snapshot"}
    loss = _called_loss(models, snap, caution, str(stop["reason"]))
    try:
        answer = _estimate(snap, car, loss, in_lap, stop["reason"] != "drive_through")
    except CogniraceError as exc:
        return {**row, "why": f"estimator: {str(exc).split(' (value')[0]}"}
    return {**row, **answer, "snapshot_position": mine.position,
            "called_under_caution": snap.caution}


def _share(values: list[bool]) -> str:
    return f"{100 * sum(values) / len(values):5.1f}%" if values else "    -"


def _mae(pairs: list[tuple[Any, Any]]) -> str:
    both = [abs(a - b) for a, b in pairs if a is not None and b is not None]
    return f"{statistics.fmean(both):6.2f}" if both else "     -"


def _estimated(rows: list[dict[str, Any]], fallback: bool) -> list[dict[str, Any]]:
    """Stops with a truth rejoin and an estimate, paced by the models (``fallback``
    False) or with a car at the field's fallback pace (True)."""
    return [r for r in rows if r["truth"] is not None and r["estimate"] is not None
            and bool(r.get("fallback")) == fallback]


def _line(name: str, rows: list[dict[str, Any]], fallback: bool = False) -> str:
    truth = [r for r in rows if r["truth"] is not None]
    done = _estimated(rows, fallback)
    off = [abs(r["estimate"] - r["truth"]) for r in done]
    every = [r["estimate"] is not None and abs(r["estimate"] - r["truth"]) <= 1 for r in truth]
    cells = [f"{name:22}", f"{len(rows):>5}", f"{len(_estimated(rows, False)):>5}",
             f"{len(_estimated(rows, True)):>4}",
             _share([o <= 1 for o in off]), _share([o == 0 for o in off]), _share(every),
             _mae([(r["estimate"], r["truth"]) for r in done]),
             _mae([(r.get("est_gap_ahead_s"), r["gap_ahead_s"]) for r in done]),
             _mae([(r.get("est_gap_behind_s"), r["gap_behind_s"]) for r in done]),
             _share([abs(r["before"] - r["truth"]) <= 1 for r in done])]
    return " ".join(cells)


def _table(rows: list[dict[str, Any]]) -> list[str]:
    head = (f"{'stops':22} {'n':>5} {'est.':>5} {'fb.':>4} {'<=1':>6} {'exact':>6} "
            f"{'<=1 all':>6} {'MAE pl':>6} {'MAE ga':>6} {'MAE gb':>6} {'base<=1':>7}")
    lines = [head]
    lines.append(_line("all", rows))
    for flag in (False, True):
        lines.append(_line("caution" if flag else "green", [r for r in rows
                                                             if r["caution"] == flag]))
    lines.append(_line("  called under green", [r for r in rows if r["caution"]
                                                 and r.get("called_under_caution") is False]))
    for reason in sorted({r["reason"] for r in rows}):
        lines.append(_line(reason, [r for r in rows if r["reason"] == reason]))
    for flag in (False, True):
        for low, high, name in ((0, 0, "0 others"), (1, 1, "1 other"), (2, 99, "2+ others")):
            lines.append(_line(f"{'caution' if flag else 'green'}, {name}", [
                r for r in rows if r["caution"] == flag and r["others_stopping"] is not None
                and low <= r["others_stopping"] <= high]))
    lines.append(_line("fallback pace", [r for r in rows if r.get("fallback")], fallback=True))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registry", default="data/demo/registry")
    parser.add_argument("--seeds", default="5001-5010")
    parser.add_argument("--races-per-track", type=int, default=2)
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--rows", help="Also write every stop's row as JSON lines here "
                        "(for looking into the misses).")
    args = parser.parse_args()
    models = _models(open_registry(args.registry))
    rows: list[dict[str, Any]] = []
    seconds: list[float] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in _seeds(args.seeds):
            lake = _season(Path(tmp), seed, args.races_per_track)
            snaps = _Snapshots(lake, models)
            rows += [{"seed": seed, **_check(lake, snaps, models, race, stop)}
                     for race, stop in _stops(lake)]
            seconds += snaps.seconds
        features_s = _features_time(lake)
    text = "\n".join(_report(rows, seconds, features_s, args, time.perf_counter() - started))
    print(text)
    Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(f"\nwritten to {args.out}")
    if args.rows:
        Path(args.rows).write_text("".join(json.dumps(r, default=str) + "\n" for r in rows),
                                   encoding="utf-8")


def _features_time(lake: Lake) -> float:
    """The lap features of one whole race alone, s: the floor under a snapshot's time."""
    race_id = lake.race_ids[0]
    keep = pl.col("race_id") == race_id
    started = time.perf_counter()
    build_lap_features(lake.laps.lazy().filter(keep), lake.races.lazy().filter(keep),
                       lake.weather.lazy().filter(keep),
                       aggregate_telemetry(lake.scan_telemetry().clear())).collect()
    return time.perf_counter() - started


def _report(rows: list[dict[str, Any]], seconds: list[float], features_s: float,
            args: argparse.Namespace, elapsed_s: float) -> list[str]:
    lines = [f"rejoin estimate vs the simulator: seeds {args.seeds}, "
             f"{args.races_per_track} races per track per seed, timing only; "
             f"{elapsed_s:.0f} s in all", ""]
    lines += _table(rows)
    lines.append("")
    lines.append("n: stops; est.: stops with a truth rejoin and an estimate paced by the "
                 "models; fb.: those with an estimate in which a car (the stopping one or "
                 "another) has no laptime answer yet and runs at the field's pace "
                 "(snapshot_at's pace_fallback), counted apart: the row 'fallback pace' "
                 "scores them; <=1 / exact: share of the est. stops (of the fb. stops on "
                 "that row) placed within one / exactly; <=1 all: within one over every "
                 "stop with a truth rejoin, a stop without an estimate a miss, a fallback "
                 "estimate by its own result; MAE pl: places; MAE ga / gb: gap to the car "
                 "ahead / behind at the line ending the out-lap, s, against the truth's "
                 "crossings there; base<=1: the baseline (rejoins where it was) "
                 "within one; caution / green: the in-lap's flag; called under green: a "
                 "caution in-lap whose snapshot (the lap before) was green; 0 / 1 / 2+ "
                 "others: how many other cars left the pit lane between the "
                 "car's crossing before its in-lap and the end of its out-lap (the truth's; "
                 "unknown at the call, and assumed none by the estimate).")
    missing = [r["why"] for r in rows if r["why"] is not None]
    if missing:
        lines += ["", "stops without an estimate:"]
        lines += [f"  {n:>4} {why}" for why, n in sorted(
            {w: missing.count(w) for w in set(missing)}.items(), key=lambda kv: (-kv[1], kv[0]))]
    ms = sorted(1000 * s for s in seconds)
    lines += ["", f"snapshot_at: {len(ms)} snapshots, p50 {statistics.median(ms):.0f} ms, "
              f"p90 {ms[int(0.9 * (len(ms) - 1))]:.0f} ms, max {ms[-1]:.0f} ms each "
              f"(timing-only races); the lap features of a whole race alone: "
              f"{1000 * features_s:.0f} ms"]
    done = _estimated(rows, False) + _estimated(rows, True)
    placed = sum(r["snapshot_position"] == r["before"] for r in done)
    lines.append(f"the snapshot places the car where the truth's position_before does: "
                 f"{placed} of {len(done)} stops")
    lines.append(_goal(rows))
    return lines


def _goal(rows: list[dict[str, Any]]) -> str:
    """The goal's line: over the model-paced estimates, then with the fallbacks too."""
    def within(done: list[dict[str, Any]]) -> float:
        return float(sum(abs(r["estimate"] - r["truth"]) <= 1 for r in done)) / max(len(done), 1)

    paced, both = _estimated(rows, False), _estimated(rows, False) + _estimated(rows, True)
    share = within(paced)
    verdict = "met" if share >= GOAL_WITHIN_ONE else "NOT met"
    return (f"goal: within one for at least {GOAL_WITHIN_ONE:.0%} of stops: {share:.1%} of "
            f"{len(paced)} model-paced estimates, {verdict}; {within(both):.1%} of "
            f"{len(both)} with the fallback-paced ones")


if __name__ == "__main__":
    main()
