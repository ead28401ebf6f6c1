"""``cognirace train``: train, evaluate and publish the models from a lake."""

from __future__ import annotations

from collections.abc import Sequence
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
    """Run ``training.parallel.train_on`` under a bar that advances per finished fit."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cognirace.training.parallel import train_on

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, disable=quiet, transient=True) as bar:
        step = bar.add_task("building rows, then one piece per fit", total=None)

        def scored(task: str, split: str) -> None:
            bar.advance(step)
            bar.update(step, description=f"{task}: {split} held out")

        def published(trained: TaskTraining) -> None:
            bar.update(step, description=f"{trained.task} published")

        return train_on(runner, lake, registry, tasks, seed=seed, history=history,
                        on_split=scored, on_task=published)


def versions_table(report: TrainingReport) -> Table:
    """What was published: versions, data sizes and time per model."""
    table = Table(title=f"Published to {report.registry} (production)")
    for name in ("model", "version", "baseline", "rows", "races", "tracks", "fit time"):
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
    become the `production` version. The fits run side by side, one per core; with
    --engine ray each fit (a model on one evaluation split, or its final refit) is a Ray
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
    if engine != "local" and not is_url(lake_url):
        open_lake(lake_url)  # a missing lake is named before any worker starts
    with open_engine(engine, address=ray_address) as runner:
        if runner.name == "local":
            report = train_with_progress(
                console, open_lake(local_lake(lake_url, console)), store, tasks, seed=seed,
                quiet=quiet,
                history=None if history is None else open_lake(local_lake(history, console)))
        else:  # a lake at a URL is read by each node through its own copy
            report = train_on_engine(
                console, runner, where(lake_url, "lake", engine), store, tasks, seed=seed,
                quiet=quiet, history=None if history is None else where(history, "lake", engine))
    print_training(console, report)
    if markdown is not None:
        markdown.write_text(markdown_table(report.comparisons(), with_evaluation=True),
                            encoding="utf-8")
        console.print(f"wrote {markdown}")
    console.print(f"trained {len(report.tasks)} models in {report.seconds:.0f} s; "
                  f"model cards in {store.url}/<model>/<version>/card.md")
