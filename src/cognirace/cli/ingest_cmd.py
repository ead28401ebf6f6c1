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
    table = Table(title="Ingest quality report", show_lines=False)
    for name in ("race", "rows read", "dropped", "channels (Hz)", "laps", "repaired",
                 "cars matched", "unmatched", "missing"):
        table.add_column(name, overflow="fold")
    for r in reports:
        channels = ", ".join(f"{k} {v:g}" for k, v in r.channels_hz.items()) or "-"
        table.add_row(
            r.race_id,
            f"{sum(r.rows_read.values()):,}",
            f"{r.n_dropped:,}",
            channels,
            str(r.laps),
            f"{r.laps_repaired} laps, {r.telemetry_laps_repaired:,} samples",
            str(len(r.cars_matched)),
            ", ".join(r.cars_unmatched) or "-",
            ", ".join(r.missing) or "-",
        )
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
    console.print(f"lake: {target.resolve()}")
    console.print(open_lake(target).summary())
