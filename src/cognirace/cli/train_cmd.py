"""``cognirace train``: train, evaluate and publish the models from a lake."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from cognirace.cli.engine_options import ENGINE, RAY_ADDRESS, absolute_url
from cognirace.cli.evaluate_cmd import comparison_table

if TYPE_CHECKING:
    from cognirace.lake import Lake
    from cognirace.models.task import Task
    from cognirace.registry import Registry
    from cognirace.scale import Engine
    from cognirace.scale.storage import Location
    from cognirace.training import TaskTraining, TrainingReport


def train_with_progress(console: Console, lake: Lake, registry: Registry,
                        tasks: Sequence[Task], *, seed: int, quiet: bool,
                        history: Lake | None = None) -> TrainingReport:
    """Run ``training.train`` under a progress bar (one step per fit-and-score)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cognirace.training import train as run_train

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, disable=quiet, transient=True) as bar:
        step = bar.add_task("training", total=None)

        def progress(label: str, done: int, total: int) -> None:
            bar.update(step, description=label, completed=done, total=total)

        return run_train(lake, registry, tasks, seed=seed, progress=progress,
                         history=history)


def train_on_engine(console: Console, runner: Engine, lake: Lake | Location,
                    registry: Registry, tasks: Sequence[Task], *, seed: int, quiet: bool,
                    history: Lake | Location | None = None) -> TrainingReport:
    """Run ``training.parallel.train_on`` under a bar that advances per finished model;
    ``train_at`` when the lakes are given as locations (at URLs)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cognirace.scale.storage import Location
    from cognirace.training.parallel import train_on

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, disable=quiet, transient=True) as bar:
        step = bar.add_task("building rows, then one model per task", total=len(tasks))

        def done(trained: TaskTraining) -> None:
            bar.advance(step)
            bar.update(step, description=f"{trained.task} published")

        if isinstance(lake, Location):
            if not (history is None or isinstance(history, Location)):
                raise TypeError("give both lakes as locations, or neither")
            return train_at(runner, lake, registry, tasks, seed=seed, history=history,
                            on_task=done)
        if isinstance(history, Location):
            raise TypeError("give both lakes as locations, or neither")
        return train_on(runner, lake, registry, tasks, seed=seed, history=history,
                        on_task=done)


def lake_here(lake: Location | None) -> Path | None:
    """A lake as a folder on this node: a local one as it is, one at a URL cached."""
    from cognirace.lake.remote import cached_lake
    from cognirace.scale.remote import node_cache

    if lake is None or lake.local is not None:
        return None if lake is None else lake.local
    return cached_lake(lake, node_cache())


@dataclass(frozen=True)
class RowsAt:
    """Build every task's rows on a node from the lake's copy, and store them."""

    lake: Location
    history: Location | None
    tasks: tuple[Task, ...]
    scratch: Location


def rows_at(piece: RowsAt) -> dict[str, str]:
    """Each task's rows, uploaded to the scratch folder: their paths in it, by task."""
    from cognirace.scale.remote import node_scratch, upload
    from cognirace.training.parallel import RowsPiece, write_rows

    lake = lake_here(piece.lake)
    assert lake is not None
    with node_scratch() as folder:
        paths = write_rows(RowsPiece(lake, lake_here(piece.history), piece.tasks, folder))
        upload(folder, piece.scratch)
    return {name: path.name for name, path in paths.items()}


def task_at(lake: Location, registry: Registry, seed: int, scratch: Location,
            piece: tuple[Task, str]) -> TaskTraining:
    """``train_piece`` for one task, its rows fetched from the scratch folder."""
    from cognirace.scale.remote import download, node_scratch
    from cognirace.training.parallel import TaskPiece, train_piece

    task, rows = piece
    folder = lake_here(lake)
    assert folder is not None
    with node_scratch() as local:
        (path,) = download(scratch, [rows], local)
        return train_piece(folder, registry, seed, TaskPiece(task, path))


def train_at(runner: Engine, lake: Location, registry: Registry, tasks: Sequence[Task], *,
             seed: int, history: Location | None = None,
             on_task: Callable[[TaskTraining], None] | None = None) -> TrainingReport:
    """``training.parallel.train_on`` for a lake at a URL, on nodes that share no folder.

    The same pieces (every task's rows built once, then one piece per task) run on a
    copy of the lake in each node's cache (``lake.remote.cached_lake``); the rows go
    through a hidden scratch folder in the lake at its URL, removed at the end.
    """
    import functools
    import uuid

    from cognirace.scale import in_order
    from cognirace.scale.remote import remove
    from cognirace.training import TrainingReport

    started = time.perf_counter()
    scratch = lake.child(f".train-{uuid.uuid4().hex[:12]}")
    try:
        ((_, rows),) = runner.map(rows_at, [RowsAt(lake, history, tuple(tasks), scratch)])
        results = in_order(
            runner.map(functools.partial(task_at, lake, registry, seed, scratch),
                       [(task, rows[task.name]) for task in tasks]),
            None if on_task is None else lambda _i, done: on_task(done))
    finally:
        remove(scratch)
    return TrainingReport(lake=lake.url, registry=registry.url, seed=seed,
                          tasks=tuple(results), seconds=time.perf_counter() - started)


def versions_table(report: TrainingReport) -> Table:
    """What was published: versions, data sizes and time per model."""
    table = Table(title=f"Published to {report.registry} (production)")
    for name in ("model", "version", "baseline", "rows", "races", "tracks", "time"):
        table.add_column(name, justify="left" if name == "model" else "right", no_wrap=True)
    for t in report.tasks:
        table.add_row(t.task, t.version, t.baseline_version, f"{t.n_rows:,}", str(t.n_races),
                      str(t.n_tracks), f"{t.seconds:.0f} s")
    return table


def print_training(console: Console, report: TrainingReport) -> None:
    """The evaluation summaries, then what was published."""
    console.print(comparison_table(
        report.comparisons(), "Model against baseline: held-out races and "
        "leave-one-track-out (mean)", with_evaluation=True))
    console.print(versions_table(report))


def train(
    lake: str | None = typer.Option(
        None, "--lake", help="Lake folder or URL to train on (default: COGNIRACE_LAKE_DIR "
        "or ./data/lake); a lake at a URL is read through a copy in ~/.cache/cognirace."),
    registry: str | None = typer.Option(
        None, "--registry", help="Model registry: folder or fsspec URL "
        "(default: COGNIRACE_REGISTRY_URL or ./data/registry)."),
    models: list[str] | None = typer.Option(
        None, "--models", "-m", help="A model to train; repeat for more (default: all)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the race split and the models."),
    history: str | None = typer.Option(
        None, "--history-lake", help="A lake (folder or URL) of other seasons' races (timing "
        "files are enough) that the caution hazard also learns from; rare events need many "
        "races."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no progress bar."),
    markdown: Path | None = typer.Option(
        None, "--markdown", help="Also write the evaluation table as Markdown to this file."),
    engine: str = ENGINE,
    ray_address: str | None = RAY_ADDRESS,
) -> None:
    """Train each model and its baseline, evaluate both on races they did not see, publish.

    Evaluation holds out a quarter of the races, then each track in turn. Model and
    baseline are then refitted on every race and published with a model card; both
    become the `production` version. With --engine ray each model is trained as a Ray
    task (the registry must then be a folder or bucket every node reaches; a lake at a
    URL is copied into each node's cache).
    """
    from cognirace.cli.engine_options import is_url, local_lake, where
    from cognirace.config import get_settings
    from cognirace.lake import open_lake
    from cognirace.scale import open_engine
    from cognirace.training import markdown_table, open_registry, select_tasks

    settings = get_settings()
    tasks = select_tasks(models)
    lake_url = lake if lake is not None else str(settings.lake_dir)
    url = registry if registry is not None else settings.registry_url
    store = open_registry(url if engine == "local" else absolute_url(url))
    console = Console()
    at_urls = engine != "local" and (is_url(lake_url) or (history is not None
                                                          and is_url(history)))
    if at_urls:  # each node reads the lakes through its own copy
        lake_at = where(lake_url, "lake", engine)
        history_at = None if history is None else where(history, "lake", engine)
    else:
        source = open_lake(local_lake(lake_url, console))
        past = None if history is None else open_lake(local_lake(history, console))
    with open_engine(engine, address=ray_address) as runner:
        if at_urls:
            report = train_on_engine(console, runner, lake_at, store, tasks, seed=seed,
                                     quiet=quiet, history=history_at)
        elif runner.name == "local":
            report = train_with_progress(console, source, store, tasks, seed=seed,
                                         quiet=quiet, history=past)
        else:
            report = train_on_engine(console, runner, source, store, tasks, seed=seed,
                                     quiet=quiet, history=past)
    print_training(console, report)
    if markdown is not None:
        markdown.write_text(markdown_table(report.comparisons(), with_evaluation=True),
                            encoding="utf-8")
        console.print(f"wrote {markdown}")
    console.print(f"trained {len(report.tasks)} models in {report.seconds:.0f} s; "
                  f"model cards in {store.url}/<model>/<version>/card.md")
