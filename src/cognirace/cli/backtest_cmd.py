"""``cognirace backtest``: does following the advice gain places on races the models never saw?

Simulates held-out timing-only races (seasons of seeds ``--seed``, ``--seed``+1, ...,
14 races each; the seeds the demo trains and evaluates on are refused), finds the
decision points of a few cars per race, and branches each race once per policy: the
advice, the fixed rules (never stop unless forced, stop at the first caution, stop on
the mid-race lap) and the oracle. Prints the table and, with ``--json``, writes the
report. See ``cognirace.strategy.backtest_run`` for the method.

The default (140 races, 4 cars each, 500 simulations per advice) takes about two
minutes on 2 cores; the issue's full size, about 450 races for a paired interval of
some ±0.1 places, is ``--races 450`` (about six minutes on 2 cores).
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import typer
from rich.console import Console

from cognirace.cli.demo_cmd import demo_seeds as trained_seeds
from cognirace.cli.engine_options import ENGINE, RAY_ADDRESS, absolute_url

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from cognirace.registry.production import Production
    from cognirace.scale import Engine
    from cognirace.strategy.backtest_run import BacktestSettings, RaceJob, RaceOutcome

FULL_RACES = 450
"""Races for a paired interval of about ±0.1 places (the issue's estimate)."""


def load_models(registry: str) -> Production:
    """The production models a snapshot reads (run in each worker process)."""
    from cognirace.registry.production import production_models
    from cognirace.strategy.snapshot_at import SNAPSHOT_MODELS
    from cognirace.training import open_registry

    return production_models(open_registry(registry), SNAPSHOT_MODELS)


def _race(settings: BacktestSettings, models: Production, job: RaceJob) -> RaceOutcome:
    """One race of the backtest with a worker's models (module level, so it pickles)."""
    from cognirace.strategy.backtest_run import backtest_race

    return backtest_race(job, models, settings)


def run_races(runner: Engine, jobs: Sequence[RaceJob], registry: str,
              settings: BacktestSettings, *, workers: int,
              on_race: Callable[[RaceOutcome], None]) -> list[RaceOutcome]:
    """Every race's outcome, in the order of ``jobs``, whatever the engine.

    Locally the races run in ``workers`` processes (``run_backtest``); on another engine
    each worker loads the production models once and takes races one at a time, and
    ``on_race`` hears of each race as it finishes.
    """
    from cognirace.scale import in_order
    from cognirace.strategy.backtest_run import run_backtest

    factory = functools.partial(load_models, registry)
    if runner.name == "local":
        outcomes = []
        for outcome in run_backtest(jobs, factory, settings, workers=workers):
            outcomes.append(outcome)
            on_race(outcome)
        return outcomes
    return in_order(runner.map_with(factory, functools.partial(_race, settings), jobs),
                    lambda _index, outcome: on_race(outcome))


def backtest(
    registry: str | None = typer.Option(
        None, "--registry", help="Model registry: folder or fsspec URL "
        "(default: COGNIRACE_REGISTRY_URL or ./data/registry)."),
    seed: int = typer.Option(5001, "--seed", help="Seed of the first held-out season "
                             "(later races come from seed+1, seed+2, ...)."),
    races: int = typer.Option(140, "--races", min=1, max=10_000, help="Held-out races."),
    cars: int = typer.Option(4, "--cars", min=0, help="Cars per race whose decision points "
                             "count (0: every car)."),
    sims: int = typer.Option(500, "--sims", min=100, max=100_000,
                             help="Simulations of each piece of advice."),
    workers: int = typer.Option(min(2, os.cpu_count() or 1), "--workers", min=1,
                                help="Processes (one race each at a time)."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the report as JSON."),
    text_out: Path | None = typer.Option(None, "--text", help="Write the table as text."),
    engine: str = ENGINE,
    ray_address: str | None = RAY_ADDRESS,
) -> None:
    """Measure the advice against fixed pit rules on held-out simulated races.

    With --engine ray each race is a Ray task on a worker that loaded the production
    models once (--workers is then the cluster's CPUs); the table is the same.
    """
    from cognirace.config import get_settings
    from cognirace.scale import open_engine
    from cognirace.strategy.backtest_report import build_report, render
    from cognirace.strategy.backtest_run import BacktestSettings, held_out_jobs

    console = Console()
    jobs = held_out_jobs(seed, races)
    used = sorted({job.seed for job in jobs} & trained_seeds())
    if used:
        raise typer.BadParameter(f"season seed(s) {used} are the demo's own (trained or "
                                 "evaluated on); pick another --seed, e.g. 5001",
                                 param_hint="--seed")
    url = registry if registry is not None else get_settings().registry_url
    url = url if engine == "local" else absolute_url(url)
    missing = load_models(url).missing
    for name, why in missing.items():
        console.print(f"[yellow]{name}: not loaded ({why.splitlines()[0][:100]})[/]")
    settings = BacktestSettings(n_sims=sims, cars_per_race=cars, seed=seed)
    started = time.perf_counter()
    with open_engine(engine, address=ray_address) as runner, console.status("") as status:
        finished = {"races": 0, "points": 0}

        def on_race(outcome: RaceOutcome) -> None:
            finished["races"] += 1
            finished["points"] += len(outcome.points)
            status.update(f"race {finished['races']}/{len(jobs)}: {finished['points']} "
                          f"decision points, {time.perf_counter() - started:.0f} s")

        outcomes = run_races(runner, jobs, url, settings, workers=workers, on_race=on_race)
    meta: dict[str, object] = {
        "seed": seed, "n_sims": sims, "cars_per_race": cars, "workers": workers,
        "registry": url, "elapsed_s": time.perf_counter() - started}
    if engine != "local":
        meta["engine"] = engine
    report = build_report(outcomes, meta)
    lines = render(report)
    if races < FULL_RACES:
        lines += ["", f"full size (a paired interval of about ±0.1 places): "
                  f"cognirace backtest --registry {url} --seed {seed} --races {FULL_RACES}"]
    text = "\n".join(lines)
    console.print(text, markup=False, highlight=False, soft_wrap=True)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2
                                          | orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    if text_out is not None:
        text_out.parent.mkdir(parents=True, exist_ok=True)
        text_out.write_text(text + "\n", encoding="utf-8")
