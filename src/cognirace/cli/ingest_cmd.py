"""``cognirace ingest``: read a folder of race files into the lake and report on each race."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cognirace.config import get_settings
from cognirace.ingest import RaceReport
from cognirace.ingest import ingest as run_ingest
from cognirace.lake import open_lake

_STEPS = ("telemetry", "laps", "timing", "write")


def _report_table(reports: list[RaceReport]) -> Table:
    """One line per race with the counts; the details follow in ``_report_details``."""
    table = Table(title="Ingest quality report")
    for name in ("race", "rows read", "dropped", "samples", "laps", "repaired", "cars"):
        table.add_column(name, justify="left" if name == "race" else "right", no_wrap=True)
    for r in reports:
        matched = len(r.cars_matched)
        table.add_row(
            r.race_id,
            f"{sum(r.rows_read.values()):,}",
            f"{r.n_dropped:,}",
            f"{r.samples:,}",
            f"{r.laps:,}",
            f"{r.laps_repaired:,}",
            f"{matched}/{matched + len(r.cars_unmatched)}",
        )
    return table


def _report_details(console: Console, reports: list[RaceReport]) -> None:
    """What a user must know per race: channels, drops, repairs, unmatched, missing."""
    for r in reports:
        lines = []
        if r.channels_hz:
            rates = sorted(set(r.channels_hz.values()))
            hz = "/".join(f"{v:g}" for v in rates)
            lines.append(f"channels at {hz} Hz: {', '.join(r.channels_hz)}")
        lines += [f"dropped {n:,}: {why}" for why, n in r.rows_dropped.items()]
        if r.cars_unmatched:
            lines.append(f"cars without a number: {', '.join(r.cars_unmatched)}")
        if r.missing:
            lines.append(f"missing: {', '.join(r.missing)}")
        lines += r.notes
        if lines:
            console.print(f"[bold]{r.race_id}[/]")
            for line in lines:
                console.print(f"  {line}", highlight=False)


def _summary_table(lake: Path) -> Table:
    summary = open_lake(lake).summary()
    table = Table(title=f"Lake {lake.resolve()}")
    for name, title in (("race_id", "race"), ("n_cars", "cars"), ("n_laps", "laps"),
                        ("n_samples", "telemetry samples")):
        table.add_column(title, justify="left" if name == "race_id" else "right",
                         no_wrap=True)
    for race, cars, laps, samples in summary.select(
            "race_id", "n_cars", "n_laps", "n_samples").iter_rows():
        table.add_row(race, f"{cars:,}", f"{laps:,}", f"{samples:,}")
    return table


def ingest(
    src: Path = typer.Argument(
        ..., exists=True, help="A race folder, a track folder or a tree of track folders "
        "holding Hack-the-Track CSV files (telemetry, lap, results, sections, weather)."),
    lake: Path | None = typer.Option(
        None, "--lake", help="Lake folder to write (default: COGNIRACE_LAKE_DIR or ./data/lake)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no progress bar."),
) -> None:
    """Read race files into the Parquet lake, repairing known quirks, and report per race.

    Files are recognised by their header; each race is written atomically and replaces
    an earlier ingest of the same race. The quality report of each race is printed and
    saved as JSON in LAKE/reports/.
    """
    target = lake if lake is not None else get_settings().lake_dir
    console = Console()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TimeElapsedColumn(), console=console, disable=quiet, transient=True) as bar:
        task = bar.add_task("finding race files", total=None)
        seen: list[str] = []

        def progress(race_id: str, step: str) -> None:
            if race_id not in seen:
                seen.append(race_id)
                bar.update(task, total=len(_STEPS), completed=0)
            bar.update(task, description=f"{race_id}: {step}",
                       completed=_STEPS.index(step) if step in _STEPS else 0)

        reports = run_ingest(src, target, progress=progress)
    console.print(_report_table(reports))
    _report_details(console, reports)
    console.print(_summary_table(target))
    console.print(f"quality reports: {(target / 'reports').resolve()}")
