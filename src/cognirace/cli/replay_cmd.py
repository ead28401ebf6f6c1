"""``cognirace replay``: stream a race as it happened into a live CogniRace service.

The race comes from a lake (by its race id) or from a raw race folder in the real file
layout (ingested into a temporary lake first). Frames leave at their race times scaled
by ``--speed`` (``max``: as fast as the service takes them), over one keep-alive
connection; each is acknowledged before the next, so the tower on the service is
always the race at that moment.
"""

from __future__ import annotations

import tempfile
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import typer
from rich.console import Console

if TYPE_CHECKING:
    from cognirace.lake import Lake

DEFAULT_URL = "http://127.0.0.1:8005"


def _speed(value: str) -> float | None:
    """``max`` (None: no waiting) or a positive factor of real time."""
    if value == "max":
        return None
    try:
        factor = float(value)
    except ValueError:
        raise typer.BadParameter("give a number (e.g. 10 for ten times real time) or "
                                 "'max'") from None
    if not factor > 0:
        raise typer.BadParameter("the speed must be above 0")
    return factor


Scratch = tempfile.TemporaryDirectory[str]


def _lake_and_race(race: str, lake: Path | None) -> tuple[Lake, str, Scratch | None]:
    """The lake holding ``race``: ``--lake`` when given, else ``race`` is a raw folder."""
    from cognirace.errors import DataError
    from cognirace.lake import open_lake

    if lake is not None:
        return open_lake(lake), race, None
    folder = Path(race)
    if not folder.is_dir():
        raise DataError(f"{race!r} is not a folder, and no --lake was given",
                        hint="give a lake race id with --lake DIR, or a race folder")
    from cognirace.ingest import ingest

    scratch = tempfile.TemporaryDirectory(prefix="cognirace-replay-")
    reports = ingest(folder, Path(scratch.name) / "lake")
    if not reports:
        raise DataError(f"no race found in {folder}", hint="point at a race folder in the "
                        "real layout (timing files, lap files, telemetry)")
    return open_lake(Path(scratch.name) / "lake"), reports[0].race_id, scratch


def replay_race(lake: Lake, race_id: str, url: str, *, speed: float | None,
                from_lap: int = 1, api_key: str | None = None, as_id: str | None = None,
                console: Console | None = None, quiet: bool = False,
                frame_s: float = 1.0) -> dict[str, Any]:
    """Declare the race on the service at ``url`` and stream its frames; returns the
    final tower.

    Raises:
        DataError: The race is not in the lake.
        CogniraceError: The service refused the race or a frame (its message is shown).
    """
    import httpx
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cognirace.errors import CogniraceError
    from cognirace.realtime import race_frames, race_info

    info = race_info(lake, race_id, as_id=as_id)
    frames = list(race_frames(lake, race_id, frame_s=frame_s, from_lap=from_lap))
    headers = {"x-api-key": api_key} if api_key else {}
    declaration = {"track": info.track, "session": info.session,
                   "duration_s": info.duration_s,
                   "start": info.start.isoformat() if info.start else None,
                   "entries": [{"car_number": e.car_number, "vehicle_id": e.vehicle_id,
                                "team": e.team, "chassis": e.chassis, "driver": e.driver}
                               for e in info.entries]}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60.0) as client:
        answer = client.put(f"/v1/races/{info.race_id}", json=declaration)
        if answer.status_code not in (200, 201):
            raise CogniraceError(f"the service refused the race: {answer.text[:300]}")
        bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn(), console=console, disable=quiet, transient=True)
        started, first = time.perf_counter(), _frame_time(frames[0]) if frames else 0.0
        with bar:
            task = bar.add_task(f"replaying {race_id}", total=len(frames))
            for body in frames:
                if speed is not None:
                    due = (_frame_time(body) - first) / speed
                    wait = due - (time.perf_counter() - started)
                    if wait > 0:
                        time.sleep(wait)
                answer = client.post(f"/v1/races/{info.race_id}/frames", json=body)
                while answer.status_code in (429, 503):  # busy: wait as told, send again
                    time.sleep(float(answer.headers.get("retry-after", "1")))
                    answer = client.post(f"/v1/races/{info.race_id}/frames", json=body)
                if answer.status_code != 200:
                    raise CogniraceError(f"frame {body['seq']} refused: {answer.text[:300]}")
                bar.advance(task)
        state: dict[str, Any] = client.get(f"/v1/races/{info.race_id}/state").json()
        state["replay_seconds"] = time.perf_counter() - started
        state["frames_sent"] = len(frames)
        return state


def dashboard_url(url: str, race_id: str) -> str:
    """The service's dashboard page opened on ``race_id``."""
    return f"{url.rstrip('/')}/dashboard?race={quote(race_id, safe='')}"


def open_dashboard(url: str, race_id: str, console: Console,
                   opener: Callable[[str], bool] = webbrowser.open) -> str:
    """Print the race's dashboard URL and open it in the user's browser (where there is
    none, as on a server, the printed URL is the way in)."""
    page = dashboard_url(url, race_id)
    console.print(f"dashboard: {page}")
    if not opener(page):
        console.print("no browser to open here: open the URL above yourself")
    return page


def _frame_time(body: dict[str, Any]) -> float:
    """The race time a frame stands for: its last row's time, as epoch seconds."""
    import datetime as dt

    times = [row.get("lap_end") or row.get("time") for key in ("laps", "samples", "weather",
                                                               "flags")
             for row in body.get(key, [])[-1:]]
    stamps = [dt.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
              for t in times if isinstance(t, str)]
    return max(stamps, default=0.0)


def replay(
    race: str = typer.Argument(..., help="A race id of the lake (with --lake), or a race "
                               "folder in the real file layout."),
    lake: Path | None = typer.Option(None, "--lake", help="The lake holding the race."),
    to: str = typer.Option(DEFAULT_URL, "--to", help="The CogniRace service to stream to."),
    speed: str = typer.Option("1", "--speed", help="Times real time (10: ten times "
                              "faster), or 'max' for as fast as the service takes it."),
    from_lap: int = typer.Option(1, "--from-lap", min=1, help="Start when the leader begins "
                                 "this lap; earlier laps are sent at once."),
    api_key: str | None = typer.Option(None, "--api-key", envvar="COGNIRACE_API_KEY",
                                       help="A key with the 'stream' scope."),
    as_id: str | None = typer.Option(None, "--as", help="Race id on the service (default: "
                                     "the lake's)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    open_page: bool = typer.Option(False, "--open", help="Open the race's live dashboard "
                                   "in a browser as the replay starts."),
) -> None:
    """Stream a race as it happened (lap crossings, flags, weather and telemetry at their
    times) into a live CogniRace service, then print its final tower."""
    from rich.table import Table

    factor = _speed(speed)
    console = Console()
    source, race_id, scratch = _lake_and_race(race, lake)
    if open_page:
        open_dashboard(to, as_id or race_id, console)
    try:
        state = replay_race(source, race_id, to, speed=factor, from_lap=from_lap,
                            api_key=api_key, as_id=as_id, console=console, quiet=quiet)
    finally:
        if scratch is not None:
            scratch.cleanup()
    console.print(tower_table(state, Table))
    console.print(f"{state['frames_sent']} frames in {state['replay_seconds']:.1f} s; "
                  f"{state['events']} events; see {to.rstrip('/')}/v1/races/"
                  f"{state['race_id']}/events")


def tower_table(state: dict[str, Any], table_class: Any) -> Any:
    """The final tower as a Rich table."""
    table = table_class(title=f"{state['race_id']}: lap {state['lap']}, flag {state['flag']}")
    for name in ("pos", "car", "laps", "gap s", "int s", "last s", "best s", "stops"):
        table.add_column(name, justify="left" if name == "car" else "right")
    for car in state["cars"]:
        gap = (f"+{car['laps_down']} lap" if car["laps_down"] else
               "" if car["gap_s"] is None else f"{car['gap_s']:.3f}")
        table.add_row(str(car["position"]), car["car_number"], str(car["laps"]), gap,
                      "" if car["interval_s"] is None else f"{car['interval_s']:.3f}",
                      "" if car["last_lap_s"] is None else f"{car['last_lap_s']:.3f}",
                      "" if car["best_lap_s"] is None else f"{car['best_lap_s']:.3f}",
                      str(car["stops"]))
    return table
