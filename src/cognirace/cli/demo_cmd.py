"""``cognirace demo``: the main job end to end on a simulated season.

Simulates the demo season in the real file format, ingests it into a fresh lake and
prints what the lake holds. Each later stage of the product (train, serve, replay)
joins this command as it lands, so one command always shows the whole product.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import polars as pl
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cognirace.config import get_settings
from cognirace.ingest import ingest as run_ingest
from cognirace.lake import open_lake
from cognirace.sim import plan_season, simulate_season


def _summary_table(lake: Path) -> Table:
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


def demo(
    out: Path | None = typer.Option(
        None, "--out", help="Folder for the demo's race files and lake "
        "(default: COGNIRACE_DATA_DIR/demo, i.e. ./data/demo). Emptied first."),
    seed: int = typer.Option(7, "--seed", help="Seed of the simulated season."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no progress bars."),
) -> None:
    """Run the main job: simulate the demo season, ingest it, and summarise the lake.

    The race files go to OUT/races (the real Hack-the-Track layout, with ground truth in
    truth/ folders) and the lake to OUT/lake. Both are replaced on every run.
    """
    root = out if out is not None else get_settings().data_dir / "demo"
    races_dir, lake_dir = root / "races", root / "lake"
    for folder in (races_dir, lake_dir):
        if folder.exists():
            shutil.rmtree(folder)
    console = Console()
    started = time.perf_counter()
    n_races = len(plan_season("demo", seed=seed))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, disable=quiet, transient=True) as bar:
        task = bar.add_task("simulating the demo season", total=n_races)
        season = simulate_season(races_dir, season="demo", seed=seed,
                                 on_race=lambda _race: bar.advance(task))
    console.print(f"simulated {len(season.races)} races, {season.telemetry_rows:,} "
                  f"telemetry rows -> {races_dir}  ({time.perf_counter() - started:.0f} s)")
    ingest_started = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, disable=quiet, transient=True) as bar:
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
                  f"({time.perf_counter() - ingest_started:.0f} s; {repaired} laps repaired, "
                  f"{unmatched} cars unmatched; reports in {lake_dir / 'reports'})")
    console.print(_summary_table(lake_dir))
    console.print(f"done in {time.perf_counter() - started:.0f} s")
