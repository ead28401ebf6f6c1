"""``cognirace strategy``: the advice for one car of a lake race at a lap, as a table.

The race is taken as it stood when the leader completed ``--lap`` (``snapshot_at``:
nothing later is read), the registry's production models answer, and every candidate
of the car runs on the same simulations of the rest of the race.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table


def strategy(
    lake: Path = typer.Option(..., "--lake", help="The lake holding the race."),
    race: str = typer.Option(..., "--race", help="The race id in the lake (e.g. barber-R1)."),
    car: str = typer.Option(..., "--car", help="Car number as text (021 and 21 are two cars)."),
    lap: int = typer.Option(..., "--lap", min=1, help="The leader's lap the race stands at."),
    registry: str | None = typer.Option(
        None, "--registry", help="Model registry: folder or fsspec URL "
        "(default: COGNIRACE_REGISTRY_URL or ./data/registry)."),
    sims: int = typer.Option(1_000, "--sims", min=100, max=100_000,
                             help="Simulations of the rest of the race."),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulations' random numbers."),
    fuel_start: float | None = typer.Option(
        None, "--fuel-start", min=0, help="Fuel of every car at the start, l (for fuel "
        "left and the chance of running dry; unknown without it)."),
) -> None:
    """Print every pit candidate of a car with its odds, and the advice."""
    import numpy as np

    from cognirace.config import get_settings
    from cognirace.lake import open_lake
    from cognirace.registry.production import production_models
    from cognirace.strategy.advice import advise
    from cognirace.strategy.snapshot_at import SNAPSHOT_MODELS, snapshot_at
    from cognirace.training import open_registry

    settings = get_settings()
    store = open_registry(registry if registry is not None else settings.registry_url)
    models = production_models(store, SNAPSHOT_MODELS)
    console = Console()
    for name, why in models.missing.items():
        console.print(f"[yellow]{name}: not loaded ({why.splitlines()[0][:100]})[/]")
    snap = snapshot_at(open_lake(lake), race, lap, models, fuel_start_l=fuel_start)
    answer = advise(snap, car, np.random.default_rng(seed), n_sims=sims)
    print_advice(console, answer.to_json())


def print_advice(console: Console, answer: dict[str, Any]) -> None:
    """A strategy answer (``StrategyAnswer.to_json``, as the API gives it) as a table:
    each candidate's expected finish, its P10-P90, the chances to gain and to lose a
    place, its paired gain over staying out (± its standard error), where it rejoins and
    the chance of running dry; then the advice and why, and what the snapshot lacked."""
    table = Table(title=f"{answer['race_id']}, car {answer['car_number']}, "
                        f"P{answer['position']} after {answer['lap']} laps "
                        f"({answer['n_sims']:,} simulations"
                        f"{', caution out' if answer['caution'] else ''})")
    table.add_column("candidate", ratio=1)
    for column in ("exp. P", "P10-90", "gain", "lose", "vs stay out", "rejoin", "dry"):
        table.add_column(column, justify="right", no_wrap=column == "vs stay out")
    for row in answer["candidates"]:
        table.add_row(*_cells(row, row["label"] == answer["recommended"]))
    console.print(table)
    console.print(f"[bold]{answer['why']}[/]")
    for note in answer["notes"]:
        console.print(f"[dim]note: {note}[/]")


def _cells(row: dict[str, Any], chosen: bool) -> list[str]:
    def number(value: Any, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    rejoin = row.get("rejoin") or {}
    label = f"[bold]{row['label']}[/] (advised)" if chosen else str(row["label"])
    return [label, number(row["expected_position"], ".2f"),
            f"{number(row['position_p10'], '.0f')}-{number(row['position_p90'], '.0f')}",
            number(row["p_gain"], ".0%"), number(row["p_lose"], ".0%"),
            f"{number(row['gain_vs_stay_out'], '+.2f')} "
            f"±{number(row['gain_vs_stay_out_se'], '.2f')}",
            number(rejoin.get("position"), ".0f"), number(row["p_dry"], ".1%")]
