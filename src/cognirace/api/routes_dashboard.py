"""The live race dashboard: its page, its static files, its stream and its traces.

- ``GET /dashboard`` is the page (``?race=<race_id>`` opens a race directly); its
  files are under ``/dashboard/static/`` (plain ES modules, CSS and the vendored uPlot,
  from ``cognirace.dashboard``; nothing is fetched from another host). The page's
  Content-Security-Policy allows scripts from this origin only, none inline.
- ``GET /v1/races/{race_id}/dashboard/stream?after=<seq>`` is one page's stream of the
  race as newline-delimited JSON (``realtime.dashboard_stream``): the discrete messages
  after ``after``, a snapshot, then ticks (at most 10 a second) and discrete messages as
  they happen. A page reads it with ``fetch`` (a browser ``EventSource`` cannot send
  ``X-API-Key``), so the key travels in its header as on every other route.
  ``follow=false`` ends the stream after the snapshot.
- ``GET /v1/races/{race_id}/cars/{car}/traces``: the car's last and best laps as traces
  by lap distance (``realtime.lap_traces``).
- ``GET /v1/races/{race_id}/dashboard/strategy/{car}``: the car's pit candidates as the
  strategy card shows them. Where ``GET .../cars/{car}/strategy`` answers 409 (the race
  cannot be simulated yet: no lap-time model answer before lap 2, say), this answers 200
  with ``{"advice": null, "reason"}``: no advice is a normal state of a race, not an
  error, and the page shows the two differently.

Reading needs a key with the ``predict`` scope, as every read of a race does; the page
itself and its files are open (they hold no data).
"""

from __future__ import annotations

import asyncio
import zlib
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse
from starlette.staticfiles import StaticFiles

from cognirace.api.problems import ProblemError
from cognirace.api.routes_races import _json, _race, _store, hub_of
from cognirace.api.service import Service, get_service
from cognirace.errors import DataError, StrategyError
from cognirace.realtime.dashboard_feed import DashboardFeed, DashboardFeeds
from cognirace.realtime.dashboard_stream import DashboardStream
from cognirace.realtime.engine import RaceEngine
from cognirace.realtime.hub import LiveRace
from cognirace.realtime.strategy_inputs import snapshot_from_engine
from cognirace.strategy.advice import advise

router = APIRouter(tags=["dashboard"])

STRATEGY_SIMS = 500
"""Simulations of the card's answer: P(gain) to about ±0.02 in tens of milliseconds."""
POLL_S = 0.05
"""How often a page's stream looks for new messages, s."""
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")
"""The page's Content-Security-Policy: this origin only, no inline script or style."""


def static_dir() -> Path:
    """The dashboard's files inside the installed package."""
    return Path(str(resources.files("cognirace.dashboard") / "static"))


def feeds_of(request: Request) -> DashboardFeeds:
    feeds: DashboardFeeds = request.app.state.dashboards
    return feeds


@router.get("/dashboard", include_in_schema=False)
async def page() -> Response:
    """The dashboard's page (the same for every race: it reads ``?race=`` itself)."""
    body = (static_dir() / "index.html").read_bytes()
    return Response(body, media_type="text/html; charset=utf-8", headers={
        "Content-Security-Policy": CSP, "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})


def _feed(request: Request, race_id: str) -> DashboardFeed:
    feed = feeds_of(request).get(race_id)
    if feed is None:  # followed before the dashboard was wired (cannot happen in one app)
        raise ProblemError(404, f"race {race_id!r} has no dashboard feed in this worker",
                           kind="unknown-race")
    return feed


def _models(service: Service) -> dict[str, Any]:
    served = service.store.served()
    return {"models": {name: served[name].version for name in sorted(served)},
            "models_missing": [n for n in service.store.names if n not in served]}


@router.get("/v1/races/{race_id}/dashboard/stream", summary="A dashboard's stream of a race")
async def stream(request: Request, race_id: str, after: int = 0,
                 follow: bool = True) -> StreamingResponse:
    """Newline-delimited JSON messages: those after ``after``, a snapshot, then the race
    as it moves (see the module docstring)."""
    service = get_service(request)
    await service.admit(request)
    if after < 0:
        raise ProblemError(422, "after is the seq of the last message you have, at least 0",
                           kind="invalid-input", errors=[{"field": "after",
                                                          "reason": "below 0"}])
    race = await _race(hub_of(request), race_id)
    feed = _feed(request, race_id)
    page_stream = DashboardStream(feed, after)
    extra = _models(service)
    opening: list[bytes] = await _store(race.read, lambda e: page_stream.open(e, extra))

    async def body() -> Any:
        yield b"".join(message + b"\n" for message in opening)
        while follow:
            await asyncio.sleep(POLL_S)
            if await request.is_disconnected():
                return
            out = page_stream.poll(await run_in_threadpool(_tick, race, feed))
            if out:
                yield b"".join(message + b"\n" for message in out)

    return StreamingResponse(body(), media_type="application/x-ndjson", headers={
        "Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _tick(race: LiveRace, feed: DashboardFeed) -> Any:
    """The race's newest tick, made under its lock when due (caught up with a shared log)."""
    if race.log is not None:
        race.catch_up(wait=False)
    if feed.tick_due(race.engine):
        return race.read(feed.tick)
    return feed.latest_tick


@router.get("/v1/races/{race_id}/cars/{car_number}/traces",
            summary="A car's last and best laps by lap distance")
async def traces(request: Request, race_id: str, car_number: str) -> Response:
    """Speed, throttle, brake, rpm, gear and the time into the lap on one distance grid,
    for the car's last lap and its best (each null until a lap with telemetry closes)."""
    await get_service(request).admit(request)
    race = await _race(hub_of(request), race_id)
    feed = _feed(request, race_id)

    def read(engine: RaceEngine) -> dict[str, Any] | None:
        if car_number not in engine.tower.cars:
            return None
        last, best = feed.traces.last.get(car_number), feed.traces.best.get(car_number)
        return {"car_number": car_number, "length_m": feed.traces.length_m,
                "last": None if last is None else last.to_json(),
                "best": None if best is None else best.to_json()}

    found = await _store(race.read, read)
    if found is None:
        raise ProblemError(404, f"race {race_id!r} has no car {car_number!r}",
                           kind="unknown-car")
    return _json(found)


@router.get("/v1/races/{race_id}/dashboard/strategy/{car_number}",
            summary="A car's pit candidates for the strategy card")
async def strategy_card(request: Request, race_id: str, car_number: str) -> Response:
    """Every candidate with its odds, or ``advice: null`` and the reason when the race
    cannot be simulated yet (seeded by race, car and lap: the same answer on a reload)."""
    await get_service(request).admit(request)
    race = await _race(hub_of(request), race_id)

    def run() -> dict[str, Any]:
        try:
            snap = race.read(snapshot_from_engine)
            seed = [zlib.crc32(race_id.encode()), zlib.crc32(car_number.encode()), snap.lap]
            answer = advise(snap, car_number, np.random.default_rng(seed),
                            n_sims=STRATEGY_SIMS)
        except (DataError, StrategyError) as exc:
            return {"car_number": car_number, "advice": None, "reason": str(exc.args[0])}
        return {"car_number": car_number, "advice": answer.to_json(), "reason": None}

    return _json(await _store(run))


def install(app: FastAPI, feeds: DashboardFeeds) -> None:
    """Serve the dashboard from ``app`` with ``feeds`` (the hub's ``on_race``)."""
    app.state.dashboards = feeds
    app.include_router(router)
    app.mount("/dashboard/static", StaticFiles(directory=static_dir()), name="dashboard")


__all__ = ["CSP", "install", "router", "static_dir"]
