"""``cognirace simulate``: write simulated GR Cup races in the real file format, with truth."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from cognirace.cli.engine_options import ENGINE, RAY_ADDRESS

if TYPE_CHECKING:
    from collections.abc import Callable

    from cognirace.scale import Engine
    from cognirace.scale.storage import Location
    from cognirace.sim import RaceConfig, RaceSummary, SeasonRace, SeasonSummary


def _race_line(race: RaceSummary) -> str:
    return (f"{race.race_id}: {race.config.n_cars} cars, {race.n_laps} laps, "
            f"best {race.best_lap_s:.3f} s, {race.telemetry_rows:,} telemetry rows")


def _wrote(console: Console, summary: SeasonSummary, started: float, to: str = "") -> None:
    console.print(
        f"[bold green]wrote[/] {len(summary.races)} races, {summary.telemetry_rows:,} "
        f"telemetry rows to {to or summary.out} in {time.perf_counter() - started:.1f} s"
    )


def write_race_at(target: Location, race: SeasonRace) -> RaceSummary:
    """Simulate one race on this node and publish its files under ``target`` (a URL).

    The race is written in a scratch folder as it would be in a local season, then
    published so that no reader takes part of it (``scale.remote.publish_files``).

    Returns:
        The race's summary, its folder and files relative to ``target``.
    """
    from dataclasses import replace

    from cognirace.scale.remote import node_scratch, publish_files
    from cognirace.sim import write_season_race

    with node_scratch() as scratch:
        written = write_season_race(scratch, race)
        rels = publish_files(scratch, written.files, target, name=written.race_id)
        folder = written.folder.relative_to(scratch)
    return replace(written, folder=folder, files=tuple(Path(rel) for rel in rels))


def _rows_to_write(race: SeasonRace) -> float:
    """A race's size, for scheduling: telemetry samples, else timing rows (cars)."""
    config = race.config
    return config.n_cars * config.duration_s * max(config.telemetry_hz, 1e-3)


def _on_engine(console: Console, runner: Engine, out: str, configs: list[RaceConfig],
               seed: int) -> SeasonSummary:
    """One piece of work per race on ``runner``; the bar advances per finished race.

    A folder is written through ``write_season_race``; a URL through ``write_race_at``.
    Races with the most telemetry rows (cars x rate x length) go out first, so that no
    large race runs alone at the end (``largest_first``).
    """
    import functools

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from cognirace.cli.engine_options import is_url, where
    from cognirace.scale import in_order, largest_first
    from cognirace.sim import SeasonSummary, season_races, write_season_race

    piece: Callable[[SeasonRace], RaceSummary]
    if is_url(out):
        piece = functools.partial(write_race_at, where(out, "season", runner.name))
        target = Path(out)
    else:
        target = Path(out).resolve()
        target.mkdir(parents=True, exist_ok=True)
        piece = functools.partial(write_season_race, target)
    with Progress(BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task("races", total=len(configs))

        def done(_index: int, race: RaceSummary) -> None:
            bar.advance(task)
            console.print(_race_line(race))

        races = in_order(largest_first(runner, piece, season_races(configs, seed),
                                       _rows_to_write), done)
    return SeasonSummary(target, races)


def simulate(
    out: str = typer.Option(
        ..., "--out", help="Folder or URL (s3://bucket/season, gs://...) to write the "
        "season into."),
    season: str = typer.Option(
        "demo", "--season",
        help="demo: all 7 tracks, 6 races each, telemetry at 2 Hz for one race per track. "
        "full: 2 races per track, 25-31 cars, telemetry at 20 Hz.",
    ),
    tracks: list[str] | None = typer.Option(
        None, "--tracks", help="Track keys (repeat the option); default all seven."
    ),
    races: int | None = typer.Option(
        None, "--races", help="Races per track (R1/R2 pairs form an event); default per season."
    ),
    cars: int | None = typer.Option(
        None, "--cars", help="Cars per race, 2-31; default drawn per race."
    ),
    telemetry_hz: float | None = typer.Option(
        None, "--telemetry-hz", help="Telemetry rate for every race, Hz; 0 writes none."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed writes the same files."),
    year: int = typer.Option(
        2025, "--year", help="The season's year; seasons of different years can share a lake."
    ),
    no_quirks: bool = typer.Option(
        False, "--no-quirks", help="Write clean files (no lap 32768, clock drift, car 0...)."
    ),
    engine: str = ENGINE,
    ray_address: str | None = RAY_ADDRESS,
) -> None:
    """Simulate races and write them as the real data set's files plus truth/ Parquet.

    Every race draws from its own seeds, so --engine ray writes the very files that
    --engine local writes. At a URL each race is written on its node and then uploaded
    whole: the ingest never takes a race whose upload has not completed.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from cognirace.cli.engine_options import is_url, where
    from cognirace.scale import open_engine
    from cognirace.sim import QuirkRates, plan_season, simulate_season

    console = Console()
    started = time.perf_counter()
    quirks = QuirkRates.none() if no_quirks else None
    if is_url(out):
        where(out, "season", engine)  # a missing backend is reported before any work
    with open_engine(engine, address=ray_address) as runner:
        if runner.name != "local" or is_url(out):
            configs = plan_season(season, tracks=tracks, races=races, cars=cars,
                                  telemetry_hz=telemetry_hz, seed=seed, quirks=quirks,
                                  year=year)
            _wrote(console, _on_engine(console, runner, out, configs, seed), started,
                   out if is_url(out) else "")
            return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console, transient=True,
    ) as bar:
        task = bar.add_task("telemetry", total=1, visible=False)

        def on_car(label: str, done: int, total: int) -> None:
            bar.update(task, description=f"telemetry {label}", completed=done, total=total,
                       visible=True)

        def on_race(race: RaceSummary) -> None:
            bar.update(task, visible=False)
            console.print(_race_line(race))

        summary = simulate_season(
            Path(out), season=season, tracks=tracks, races=races, cars=cars,
            telemetry_hz=telemetry_hz, seed=seed, year=year, quirks=quirks,
            progress=on_car, on_race=on_race,
        )
    _wrote(console, summary, started)
