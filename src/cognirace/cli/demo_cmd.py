"""``cognirace demo``: the main job end to end on a simulated season.

Simulates the demo season in the real file format, ingests it into a fresh lake,
trains every model into a fresh registry, then simulates a smaller season from another
seed, ingests it, and evaluates the production models on it: races, drivers' days and
weather none of the models saw. Last, it serves the models over HTTP and asks each of
them held-out rows, as a client would. Each later stage of the product (replay) joins
this command as it lands, so one command always shows the whole product.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import typer
from rich.console import Console
from rich.table import Table

from cognirace.cli.evaluate_cmd import comparison_table
from cognirace.cli.train_cmd import print_training, train_with_progress

if TYPE_CHECKING:
    import polars as pl
    from rich.progress import Progress

    from cognirace.lake import Lake
    from cognirace.training import EvaluationReport

DEMO_SEED = 7
"""The demo's default seed: its training, held-out and history seasons derive from it."""

HELDOUT_RACES_PER_TRACK = 2
"""Races per track of the held-out season (one of each pair carries telemetry)."""

HELDOUT_SEED_OFFSET = 1_000
"""The held-out season's seed is the demo's plus this, so no race repeats a draw."""

HISTORY_SEASONS = 10
"""Timing-only past seasons the caution hazard learns from (and as many it is scored on).

Cautions are rare, under one a race: the hazard model learns from past seasons' timing
files, as a team would. Ten seasons of 14 races simulate and ingest in about 30 s."""

HISTORY_RACES_PER_TRACK = 2
"""Races per track of a history season: a real season's size."""

HISTORY_LAST_YEAR = 2024
"""Training history covers the ten seasons up to this year, the held-out history the
ten before them; each season's seed is the demo's (or held-out's) seed plus its year."""


def _bar(console: Console, quiet: bool) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, disable=quiet, transient=True)


def _summary_table(lake: Path) -> Table:
    import polars as pl

    from cognirace.lake import open_lake

    # the race id names track, date and session; keep the table within 80 columns
    summary = open_lake(lake).summary().select(
        "race_id", pl.col("n_cars").alias("cars"), pl.col("n_laps").alias("laps"),
        pl.col("n_samples").alias("telemetry samples"))
    table = Table(title=f"Lake {lake}")
    for name in summary.columns:
        numeric = summary[name].dtype.is_numeric()
        table.add_column(name, justify="right" if numeric else "left", no_wrap=True)
    for row in summary.iter_rows():
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
    return table


def _simulate_and_ingest(console: Console, races_dir: Path, lake_dir: Path, *, seed: int,
                         quiet: bool, races: int | None = None) -> None:
    """Simulate a demo-style season into ``races_dir`` and ingest it into ``lake_dir``."""
    from cognirace.sim import plan_season, simulate_season

    started = time.perf_counter()
    n_races = len(plan_season("demo", races=races, seed=seed))
    with _bar(console, quiet) as bar:
        task = bar.add_task(f"simulating {n_races} races (seed {seed})", total=n_races)
        season = simulate_season(races_dir, season="demo", races=races, seed=seed,
                                 on_race=lambda _race: bar.advance(task))
    console.print(f"simulated {len(season.races)} races, {season.telemetry_rows:,} "
                  f"telemetry rows -> {races_dir}  ({time.perf_counter() - started:.0f} s)")
    _ingest(console, races_dir, lake_dir, n_races=n_races, quiet=quiet)


def _ingest(console: Console, races_dir: Path, lake_dir: Path, *, n_races: int,
            quiet: bool) -> None:
    """Ingest every race under ``races_dir`` into ``lake_dir`` under a progress bar."""
    from cognirace.ingest import ingest as run_ingest

    started = time.perf_counter()
    with _bar(console, quiet) as bar:
        task = bar.add_task("ingesting", total=n_races)
        seen: set[str] = set()

        def progress(race_id: str, step: str) -> None:
            if race_id not in seen:
                seen.add(race_id)
                bar.update(task, completed=len(seen) - 1, description=f"ingesting {race_id}")

        reports = run_ingest(races_dir, lake_dir, progress=progress)
    repaired = sum(r.laps_repaired for r in reports)
    unmatched = sum(len(r.cars_unmatched) for r in reports)
    console.print(f"ingested {len(reports)} races -> {lake_dir}  "
                  f"({time.perf_counter() - started:.0f} s; {repaired} laps repaired, "
                  f"{unmatched} cars unmatched; reports in {lake_dir / 'reports'})")


def _history_years(last_year: int) -> range:
    """The ``HISTORY_SEASONS`` years of a history ending with ``last_year``."""
    return range(last_year - HISTORY_SEASONS + 1, last_year + 1)


def demo_seeds(seed: int = DEMO_SEED) -> set[int]:
    """Every season seed ``cognirace demo --seed SEED`` simulates, to train or to score
    on: the season, the held-out one, and each history season (seed plus its year)."""
    heldout = seed + HELDOUT_SEED_OFFSET
    return {seed, heldout, *(seed + y for y in _history_years(HISTORY_LAST_YEAR)),
            *(heldout + y for y in _history_years(HISTORY_LAST_YEAR - HISTORY_SEASONS))}


def _history(console: Console, root: Path, name: str, *, seed: int, last_year: int,
             quiet: bool) -> Lake:
    """Timing-only past seasons up to ``last_year`` in OUT/NAME-races, ingested."""
    from cognirace.lake import open_lake
    from cognirace.sim import plan_season, simulate_season

    started = time.perf_counter()
    races_dir, lake_dir = root / f"{name}-races", root / f"{name}-lake"
    years = _history_years(last_year)
    n_races = len(years) * len(plan_season("demo", races=HISTORY_RACES_PER_TRACK))
    with _bar(console, quiet) as bar:
        task = bar.add_task(f"simulating {len(years)} timing-only seasons "
                            f"{years[0]}-{years[-1]}", total=n_races)
        for year in years:
            simulate_season(races_dir / str(year), season="demo", seed=seed + year,
                            races=HISTORY_RACES_PER_TRACK, telemetry_hz=0.0, year=year,
                            on_race=lambda _race: bar.advance(task))
    console.print(f"simulated {n_races} timing-only races of seasons {years[0]}-{years[-1]} "
                  f"-> {races_dir}  ({time.perf_counter() - started:.0f} s)")
    _ingest(console, races_dir, lake_dir, n_races=n_races, quiet=quiet)
    return open_lake(lake_dir)


def train_season(console: Console, root: Path, *, seed: int, quiet: bool) -> None:
    """Simulate and ingest the demo season and its history, train every model on them
    into OUT/registry."""
    from cognirace.lake import open_lake
    from cognirace.training import open_registry, select_tasks

    _simulate_and_ingest(console, root / "races", root / "lake", seed=seed, quiet=quiet)
    console.print(_summary_table(root / "lake"))
    tasks = select_tasks()
    registry = open_registry(root / "registry", tasks)
    history = _history(console, root, "history", seed=seed, last_year=HISTORY_LAST_YEAR,
                       quiet=quiet)
    report = train_with_progress(console, open_lake(root / "lake"), registry, tasks,
                                 seed=seed, quiet=quiet, history=history)
    print_training(console, report)
    console.print(f"trained {len(report.tasks)} models in {report.seconds:.0f} s")


def evaluate_heldout(console: Console, root: Path, *, heldout_seed: int, quiet: bool,
                     name: str = "heldout") -> tuple[EvaluationReport, dict[str, pl.DataFrame]]:
    """Simulate a held-out season and its history from ``heldout_seed`` into OUT/NAME-*,
    and score OUT/registry's production models on it; returns the report and the rows.

    Nothing here is refitted: the models and their baselines come from the registry.
    """
    from cognirace.lake import open_lake
    from cognirace.training import evaluate, examples_with_history, open_registry, select_tasks

    tasks = select_tasks()
    registry = open_registry(root / "registry", tasks)
    _simulate_and_ingest(console, root / f"{name}-races", root / f"{name}-lake",
                         seed=heldout_seed, quiet=quiet, races=HELDOUT_RACES_PER_TRACK)
    history = _history(console, root, f"{name}-history", seed=heldout_seed,
                       last_year=HISTORY_LAST_YEAR - HISTORY_SEASONS, quiet=quiet)
    examples = examples_with_history(open_lake(root / f"{name}-lake"), tasks, history)
    report = evaluate(root / f"{name}-lake", registry, tasks, examples=examples)
    return report, dict(examples)


def _evaluate_and_serve(console: Console, root: Path, *, seed: int, quiet: bool) -> None:
    """Evaluate on the held-out season, draw the driver map, serve the models."""
    from cognirace.cli.demo_serve import serve_demo
    from cognirace.training import markdown_table, open_registry, select_tasks, wins_line
    from cognirace.training.maps import driver_map

    heldout_seed = seed + HELDOUT_SEED_OFFSET
    started = time.perf_counter()
    evaluation, examples = evaluate_heldout(console, root, heldout_seed=heldout_seed,
                                            quiet=quiet)
    console.print(comparison_table(
        evaluation.comparisons, f"Held-out season (seed {heldout_seed}): production "
        "models against their baselines"))
    (root / "evaluation.md").write_text(markdown_table(evaluation.comparisons), encoding="utf-8")
    console.print(f"{wins_line(evaluation.primary_wins())} "
                  f"({time.perf_counter() - started:.0f} s); table in {root / 'evaluation.md'}")
    tasks = select_tasks()
    if any(task.name == "driver" for task in tasks):
        registry = open_registry(root / "registry", tasks)
        picture = driver_map(root / "heldout-lake", registry, root / "driver_map.png",
                             rows=examples["driver"])
        console.print(f"driver-style map of the held-out season: {picture}")
    def live(url: str) -> None:
        race_id = replay_heldout(console, root / "heldout-lake", url)
        advise_heldout(console, root / "heldout-lake", root / "registry", race_id, url)

    serve_demo(console, root / "registry", tasks, examples, then=live)


REPLAY_FRAME_S = 5.0
"""Race time per frame of the demo's replay: fewer, larger frames for a quick first look."""
TIMELINE_TYPES_SKIPPED = ("POSITION_CHANGE",)
"""Event types the demo counts rather than lists (there are many)."""


def replay_heldout(console: Console, lake_dir: Path, url: str) -> str:
    """Replay the held-out race with telemetry at max speed through the live engine, then
    print its event timeline and final tower; returns the race's id."""
    from collections import Counter

    import httpx
    import polars as pl

    from cognirace.cli.replay_cmd import dashboard_url, replay_race, tower_table
    from cognirace.lake import open_lake

    lake = open_lake(lake_dir)
    summary = lake.summary().filter(pl.col("n_samples") > 0).sort("n_samples")
    race_id = str(summary["race_id"][0]) if summary.height else str(lake.race_ids[0])
    console.print(f"live dashboard of the replay, while the service runs: "
                  f"{dashboard_url(url, race_id)}")
    state = replay_race(lake, race_id, url, speed=None, console=console,
                        frame_s=REPLAY_FRAME_S)
    events = httpx.get(f"{url}/v1/races/{race_id}/events", params={"follow": "false"},
                       timeout=30).text
    parsed = [orjson.loads(line[6:]) for line in events.splitlines()
              if line.startswith("data: ")]
    timeline = Table(title=f"Live replay of {race_id}: events (newest last)")
    for column in ("lap", "type", "car", "message"):
        timeline.add_column(column, overflow="fold")
    for event in parsed:
        if event["type"] not in TIMELINE_TYPES_SKIPPED:
            timeline.add_row(str(event["lap"] or ""), event["type"],
                             event["car_number"] or "", event["message"])
    console.print(timeline)
    counts = Counter(event["type"] for event in parsed)
    console.print("events by type: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    console.print(tower_table(state, Table))
    console.print(f"replayed {state['frames_sent']} frames ({state['samples']:,} telemetry "
                  f"samples) at max speed in {state['replay_seconds']:.1f} s")
    return race_id


def advise_heldout(console: Console, lake_dir: Path, registry_dir: Path, race_id: str,
                   url: str) -> None:
    """Ask the service's pit strategy about the car in fifth place at half distance of
    the replayed race (the race as it stood then, with the production models)."""
    import httpx
    import polars as pl

    from cognirace.cli.strategy_cmd import print_advice
    from cognirace.lake import open_lake
    from cognirace.registry.production import production_models
    from cognirace.strategy.snapshot_at import SNAPSHOT_MODELS, snapshot_at
    from cognirace.training import open_registry

    lake = open_lake(lake_dir)
    laps = lake.laps.filter((pl.col("race_id") == race_id) & pl.col("car_number").is_not_null())
    lap = max(2, int(laps.select(pl.col("lap").max()).item() or 2) // 2)
    models = production_models(open_registry(registry_dir), SNAPSHOT_MODELS)
    snap = snapshot_at(lake, race_id, lap, models)
    car = next((c for c in snap.cars if c.position == min(5, len(snap.cars))), snap.cars[0])
    started = time.perf_counter()
    answer = httpx.post(f"{url}/v1/strategy", timeout=60, content=orjson.dumps(
        {"snapshot": snap.to_json(), "car_number": car.car_number, "n_sims": 1000}))
    answer.raise_for_status()
    print_advice(console, answer.json())
    console.print(f"pit strategy over HTTP in {(time.perf_counter() - started) * 1000:.0f} ms "
                  f"(POST /v1/strategy; `cognirace strategy` asks the same from the shell)")


def demo(
    out: Path | None = typer.Option(
        None, "--out", help="Folder for the demo's race files, lakes and registry "
        "(default: COGNIRACE_DATA_DIR/demo, i.e. ./data/demo). Emptied first."),
    seed: int = typer.Option(DEMO_SEED, "--seed",
                             help="Seed of the simulated season and training."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no progress bars."),
) -> None:
    """Run the main job: simulate, ingest, train, evaluate on a held-out season, serve.

    The race files go to OUT/races (the real Hack-the-Track layout, with ground truth in
    truth/ folders), the lake to OUT/lake and the models to OUT/registry. A smaller
    season from another seed goes to OUT/heldout-races and OUT/heldout-lake; the
    evaluation on it is printed and saved as Markdown in OUT/evaluation.md. Two
    sets of ten timing-only past seasons (OUT/history-*, OUT/heldout-history-*) give
    the caution hazard enough cautions to learn from and to be scored on. Everything is
    replaced on every run.
    """
    from cognirace.config import get_settings

    root = out if out is not None else get_settings().data_dir / "demo"
    for name in ("races", "lake", "registry", "heldout-races", "heldout-lake",
                 "history-races", "history-lake", "heldout-history-races",
                 "heldout-history-lake"):
        if (root / name).exists():
            shutil.rmtree(root / name)
    console = Console()
    started = time.perf_counter()
    train_season(console, root, seed=seed, quiet=quiet)
    _evaluate_and_serve(console, root, seed=seed, quiet=quiet)
    console.print(f"done in {time.perf_counter() - started:.0f} s")
