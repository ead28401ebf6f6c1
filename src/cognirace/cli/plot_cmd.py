"""``cognirace plot``: a track map from GPS, a speed trace and a lap-time chart, as PNG."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console


def plot(
    race_dir: Path = typer.Argument(..., help="A race folder written by cognirace simulate."),
    session: str = typer.Option("R1", "--session", help="R1 or R2."),
    out: Path | None = typer.Option(None, "--out", help="PNG file; default in the race folder."),
) -> None:
    """Draw a simulated race: GPS map, speed trace of the fastest lap and lap times."""
    from cognirace.sim.plots import plot_race  # matplotlib

    target = out or race_dir / f"{session}_race.png"
    plot_race(race_dir, session, target)
    Console().print(f"[bold green]wrote[/] {target}")
