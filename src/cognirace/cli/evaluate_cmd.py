"""``cognirace evaluate``: score the production models on a lake they did not train on."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from cognirace.training import Comparison


def comparison_table(comparisons: Iterable[Comparison], title: str, *,
                     with_evaluation: bool = False) -> Table:
    """Model against baseline, one line per task and metric (gain > 0: model better)."""
    from cognirace.training import table_header, table_rows

    table = Table(title=title)
    header = table_header(with_evaluation=with_evaluation)
    numeric = range(len(header) - 5, len(header) - 1)  # baseline, model, gain, interval
    header[-2:] = ["95% CI", "wins"]  # keeps the table narrow
    for index, name in enumerate(header):
        # long metric and evaluation names wrap; numbers and model names never do
        wraps = name in ("metric", "evaluation")
        table.add_column(name, justify="right" if index in numeric else "left",
                         no_wrap=not wraps, overflow="fold" if wraps else "ellipsis")
    for cells in table_rows(comparisons, with_evaluation=with_evaluation):
        verdict = {"yes": "[green]yes[/]", "no": "[red]no[/]", "no interval": "[yellow]n/a[/]"
                   }.get(cells[-1], "")
        table.add_row(*cells[:-1], verdict)
    return table


def evaluate(
    lake: str | None = typer.Option(
        None, "--lake", help="Lake folder or URL to evaluate on, ideally races the models "
        "never saw (default: COGNIRACE_LAKE_DIR or ./data/lake); a lake at a URL is read "
        "through a copy in ~/.cache/cognirace."),
    registry: str | None = typer.Option(
        None, "--registry", help="Model registry: folder or fsspec URL "
        "(default: COGNIRACE_REGISTRY_URL or ./data/registry)."),
    models: list[str] | None = typer.Option(
        None, "--models", "-m", help="A model to evaluate; repeat for more (default: all)."),
    history: str | None = typer.Option(
        None, "--history-lake", help="A lake (folder or URL) of other seasons' races (timing "
        "files are enough) that the caution hazard also is scored on; rare events need "
        "many races."),
    markdown: Path | None = typer.Option(
        None, "--markdown", help="Also write the table as Markdown to this file."),
) -> None:
    """Score each production model and its baseline on every race of a lake.

    Nothing is refitted: model and baseline come from the registry as trained. The
    table shows each metric for both and the gain (positive: the model is better).
    """
    from cognirace.cli.engine_options import local_lake
    from cognirace.config import get_settings
    from cognirace.lake import open_lake
    from cognirace.training import evaluate as run_evaluate
    from cognirace.training import markdown_table, open_registry, select_tasks, wins_line

    settings = get_settings()
    tasks = select_tasks(models)
    console = Console()
    lake_url = lake if lake is not None else str(settings.lake_dir)
    target = open_lake(local_lake(lake_url, console))
    past = None if history is None else local_lake(history, console)
    store = open_registry(registry if registry is not None else settings.registry_url)
    report = run_evaluate(target, store, tasks, history=past)
    console.print(comparison_table(report.comparisons, f"Evaluation on {lake_url}"))
    console.print(wins_line(report.primary_wins()))
    if markdown is not None:
        markdown.write_text(markdown_table(report.comparisons), encoding="utf-8")
        console.print(f"wrote {markdown}")
