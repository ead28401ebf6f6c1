"""``cognirace ingest``: read a folder of race files into the lake and report on each race."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from cognirace.cli.engine_options import ENGINE, RAY_ADDRESS

if TYPE_CHECKING:
    from cognirace.ingest import RaceReport
    from cognirace.scale import Engine

_STEPS = ("telemetry", "laps", "timing", "write")


def _report_table(reports: list[RaceReport]) -> Table:
    """One line per race with the counts; the details follow in ``_report_details``."""
    table = Table(title="Ingest quality report")
    for name in ("race", "rows read", "dropped", "samples", "laps", "laps from",
                 "logged cars matched"):
        table.add_column(name, justify="left" if name in ("race", "laps from") else "right",
                         no_wrap=True)
    for r in reports:
        if not r.ok:
            table.add_row(f"[red]{r.race_id}[/]", "", "", "", "", "[red]not ingested[/]", "")
            continue
        matched = len(r.cars_matched)
        table.add_row(
            r.race_id,
            f"{sum(r.rows_read.values()):,}",
            f"{r.n_dropped:,}",
            f"{r.samples:,}",
            f"{r.laps:,}",
            r.laps_source,
            f"{matched}/{matched + len(r.cars_unmatched)}",
        )
    return table


def _report_lines(r: RaceReport) -> list[str]:
    """What a user must know about one race, most important first."""
    if not r.ok:
        return [f"[red]not ingested: {r.error}[/]"]
    lines = [f"[yellow]skipped {name}: {error}[/]" for name, error in r.file_errors.items()]
    if r.channels_hz:
        rates = sorted(set(r.channels_hz.values()))
        hz = "/".join(f"{v:g}" for v in rates)
        lines.append(f"channels at {hz} Hz: {', '.join(r.channels_hz)}")
    if r.ecu_offset_s:
        offsets = sorted(r.ecu_offset_s.values())
        lines.append(f"ECU clocks placed in real time: offsets {offsets[0]:,.1f} to "
                     f"{offsets[-1]:,.1f} s over {len(offsets)} cars")
    lines += [f"dropped {n:,}: {why}" for why, n in r.rows_dropped.items()]
    lines += [f"repaired {n:,}: {what}" for what, n in r.repairs.items()]
    if r.telemetry_laps_repaired:
        lines.append(f"telemetry samples whose logged lap was replaced: "
                     f"{r.telemetry_laps_repaired:,}")
    if r.lap_end_events:
        lines.append("lap end events: " + ", ".join(
            f"{n:,} {what}" for what, n in r.lap_end_events.items() if n))
    if r.cars_unmatched:
        lines.append(f"logged cars the timing does not list: {', '.join(r.cars_unmatched)}")
    if r.cars_without_logger:
        lines.append(f"timing cars without logger data: {', '.join(r.cars_without_logger)}")
    if r.missing:
        lines.append(f"missing: {', '.join(r.missing)}")
    return lines + r.notes


def _report_details(console: Console, reports: list[RaceReport]) -> None:
    """What a user must know per race: errors, skipped files, drops, repairs, matches."""
    for r in reports:
        lines = _report_lines(r)
        if lines:
            console.print(f"[bold]{r.race_id}[/]")
            for line in lines:
                console.print(f"  {line}", highlight=False)


def _has_lake(lake: str) -> bool:
    """Whether a lake (folder or URL) has a races table."""
    from cognirace.cli.engine_options import is_url, where

    if not is_url(lake):
        return (Path(lake) / "races.parquet").exists()
    from cognirace.lake.remote import races_table

    return races_table(where(lake, "lake")) is not None


def _summary_table(lake: str) -> Table:
    """The lake's races; for a lake at a URL, from its tables alone (no telemetry read)."""
    from cognirace.cli.engine_options import is_url, where
    from cognirace.lake import Lake, open_lake
    from cognirace.lake.remote import fetch_tables
    from cognirace.scale.remote import node_scratch

    remote = is_url(lake)
    with node_scratch() as scratch:
        if remote:
            summary = Lake(fetch_tables(where(lake, "lake"), scratch).root).summary()
        else:
            summary = open_lake(lake).summary()
    table = Table(title=f"Lake {lake if remote else Path(lake).resolve()}")
    columns = (("race_id", "race"), ("n_cars", "cars"), ("n_laps", "laps"),
               *(() if remote else (("n_samples", "telemetry samples"),)))
    for name, title in columns:
        table.add_column(title, justify="left" if name == "race_id" else "right",
                         no_wrap=True)
    for race, *counts in summary.select([name for name, _ in columns]).iter_rows():
        table.add_row(race, *(f"{n:,}" for n in counts))
    return table


def _locally(console: Console, src: Path, target: Path, *, quiet: bool) -> list[RaceReport]:
    """The ingest in this process, race after race, the bar following each race's steps."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from cognirace.cli.main import debug_enabled
    from cognirace.ingest import ingest as run_ingest

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

        return run_ingest(src, target, progress=progress, strict=debug_enabled())


def _on_engine(console: Console, runner: Engine, src: Path, target: Path, *, quiet: bool
               ) -> list[RaceReport]:
    """One piece of work per race on ``runner``; the bar advances per finished race."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from cognirace.cli.main import debug_enabled
    from cognirace.ingest.parallel import ingest_on

    with Progress(BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  disable=quiet, transient=True) as bar:
        task = bar.add_task("races", total=None)
        return ingest_on(runner, src, target, strict=debug_enabled(),
                         on_race=lambda _report: bar.advance(task))


def _at_urls(console: Console, runner: Engine, src: str, target: str, *, quiet: bool
             ) -> list[RaceReport]:
    """The ingest with the source or the lake at a URL: one piece per race on ``runner``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from cognirace.cli.engine_options import where
    from cognirace.cli.main import debug_enabled
    from cognirace.ingest.remote import ingest_at

    source, lake = where(src, "season", runner.name), where(target, "lake", runner.name)
    with Progress(BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  disable=quiet, transient=True) as bar:
        task = bar.add_task("races", total=None)
        run = ingest_at(runner, source, lake, strict=debug_enabled(),
                        on_race=lambda _report: bar.advance(task))
    for marker, files in run.pending.items():
        console.print(f"[yellow]left out {len(files)} files that {src.rstrip('/')}/{marker} "
                      "lists: a race still being written, or whose writing stopped "
                      "half-way; write it again (cognirace simulate removes the marker "
                      "once the race is complete)[/]", highlight=False)
    return run.reports


def ingest(
    src: str = typer.Argument(
        ..., help="A race folder, a track folder or a tree of track folders holding "
        "Hack-the-Track CSV files (telemetry, lap, results, sections, weather); or such a "
        "folder at a URL (s3://bucket/season, gs://...)."),
    lake: str | None = typer.Option(
        None, "--lake", help="Lake folder or URL to write (default: COGNIRACE_LAKE_DIR or "
        "./data/lake)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no progress bar."),
    engine: str = ENGINE,
    ray_address: str | None = RAY_ADDRESS,
) -> None:
    """Read race files into the Parquet lake, repairing known quirks, and report per race.

    Files are recognised by their header, and the files of one race are joined even
    when they sit in several folders. The official timing decides the laps; the lap
    files and telemetry are matched to it by line crossings. Each race is written
    atomically and replaces an earlier ingest of the same race; a race that cannot be
    ingested is reported and the others go on (with --debug, the first error stops
    everything, with its traceback). The quality report of each race is printed and
    saved as JSON in LAKE/reports/. Exits with status 1 when a race was not ingested.
    With --engine ray each race is built as a Ray task and the lake's tables are merged
    once at the end: the lake is the one a local ingest writes. The source and the lake
    may be at a URL: each race's files are then downloaded by the piece that builds it,
    and the lake's races table is written last, so readers never see half a race.
    """
    from cognirace.cli.engine_options import is_url, where
    from cognirace.config import get_settings
    from cognirace.scale import open_engine

    if not is_url(src) and not Path(src).exists():
        raise typer.BadParameter(f"Path '{src}' does not exist.", param_hint="'SRC'")
    target = lake if lake is not None else str(get_settings().lake_dir)
    urls = is_url(src) or is_url(target)
    if urls:  # a missing backend or a bad URL is reported before any work
        where(src, "season", engine)
        where(target, "lake", engine)
    console = Console()
    with open_engine(engine, address=ray_address) as runner:
        if urls:
            reports = _at_urls(console, runner, src, target, quiet=quiet)
        elif runner.name == "local":
            reports = _locally(console, Path(src), Path(target), quiet=quiet)
        else:
            reports = _on_engine(console, runner, Path(src), Path(target), quiet=quiet)
    console.print(_report_table(reports))
    _report_details(console, reports)
    if any(r.ok for r in reports) or _has_lake(target):
        console.print(_summary_table(target))
        reports_at = f"{target.rstrip('/')}/reports" if is_url(target) else \
            (Path(target) / "reports").resolve()
        console.print(f"quality reports: {reports_at}")
    failed = [r.race_id for r in reports if not r.ok]
    if failed:
        console.print(f"[red]{len(failed)} of {len(reports)} races not ingested "
                      f"({', '.join(failed)}); nothing of them was written. Fix the file "
                      "named above and ingest again.[/]", highlight=False)
        raise typer.Exit(1)
