"""Live races: declare a race, stream its frames in, read its tower, follow its events.

- ``PUT /v1/races/{race_id}`` declares a race (track, session, start, timed length,
  entry list); declaring it again with the same track and session changes nothing.
- ``POST /v1/races/{race_id}/frames`` applies one frame.
- ``WS /v1/races/{race_id}/stream`` both ways. In: frames as text messages, each
  answered with its acknowledgement ``{"ack", "source", "duplicate", "events"}``; a
  malformed frame gets a problem object naming the field and the connection stays open;
  a message over the body limit closes it with code 1009. Out, pushed as it happens:
  every event of the race as ``{"event": {...}}`` in ``seq`` order, whoever's frame
  raised it and on whichever replica, from the first (``?after=<seq>`` resumes after the
  last one a client has; ``?events=false`` pushes none); with ``?echo=telemetry``, at
  most every ``ECHO_EVERY_S`` a snapshot of each car's place, lap, distance and speed as
  ``{"echo": {"clock", "lap", "flag", "cars", "n_dropped"}}``. A frame's ack comes
  before the events it raised.
- ``GET /v1/races``, ``/v1/races/{id}/state`` (the timing tower), ``/v1/races/{id}/cars/
  {car}`` (one car and its latest predictions), ``/v1/races/{id}/events`` (server-sent
  events, resuming after ``Last-Event-ID``).

A slow WebSocket client never holds the race up: each connection sends from its own
writer task, never inside a frame or under the race's lock (``realtime.outbox``). It
never loses an event (they are read from the race's log by cursor: a slow reader falls
behind and catches up) nor an answer to its frames (their queue is bounded: when full,
the connection stops reading frames). Only telemetry echoes are dropped, the oldest
first, counted in ``n_dropped``.

Sending frames needs a key with the ``stream`` scope; reading needs ``predict``. On the
WebSocket a ``predict`` key reads (events and echoes are pushed) and its frames get a
403 problem naming the ``stream`` scope; a ``stream`` key without ``predict`` sends
frames and gets no pushes. Frames are not rate-limited (a timing feed and its loggers
send many a second, and a stream key is given to feeds only); declaring a race and every
HTTP read take a token as predictions do.

With ``COGNIRACE_REDIS_URL`` set, races live in a log in Redis that every replica folds
(see ``realtime.framelog``): any replica takes a frame or answers a read, each read
catching up first. When Redis fails the answer is a 503 (on the WebSocket, a close with
code 1011: reconnect with ``after``); resending a frame is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import time
from typing import Any

import orjson
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from cognirace.api.metrics import Metrics
from cognirace.api.problems import ProblemError
from cognirace.api.schemas import car_number_field
from cognirace.api.service import Service, get_service, validate
from cognirace.errors import CogniraceError, DataError
from cognirace.features.field import RACE_DURATION_S
from cognirace.realtime.engine import RaceEngine
from cognirace.realtime.events import Event
from cognirace.realtime.framelog import RaceStoreError
from cognirace.realtime.frames import FrameError
from cognirace.realtime.hub import LiveRace, RaceHub
from cognirace.realtime.outbox import ECHO_QUEUE, Outbox, watch
from cognirace.realtime.tower import Entry, RaceInfo

router = APIRouter(prefix="/v1/races", tags=["live races"])

RACE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
EVENT_POLL_S = 0.1
"""How often an events stream looks for new events, s."""
WS_TOO_BIG = 1009
"""WebSocket close code for a message over the limit."""
ECHO_EVERY_S = 0.25
"""Least wall time between two telemetry echoes on one WebSocket, s."""


_NUMBER_TYPE, _NUMBER_FIELD = car_number_field("Race number as text (`021` and `21` are "
                                               "two cars).")


class EntryModel(BaseModel):
    """One car of the entry list."""

    model_config = ConfigDict(extra="forbid", strict=True)
    car_number: _NUMBER_TYPE = _NUMBER_FIELD  # type: ignore[valid-type]
    chassis: str | None = Field(default=None, max_length=40)
    team: str | None = Field(default=None, max_length=120)
    driver: str | None = Field(default=None, max_length=120,
                               description="The driver's name, where the timing names one.")
    vehicle_id: str | None = Field(default=None, max_length=60,
                                   description="Logger id, `GR86-<chassis>-<number>`.")
    fuel_start_l: float | None = Field(default=None, ge=0, le=200,
                                       description="Fuel at the start, l (for fuel left).")
    watch: bool = Field(default=False, description="Run the pit strategy for this car on "
                        "every leader lap: its advice in the car's answers, a STRATEGY "
                        "event when the advice changes.")


class RaceDeclaration(BaseModel):
    """What ``PUT /v1/races/{race_id}`` takes."""

    model_config = ConfigDict(extra="forbid")
    track: str = Field(max_length=40, description="Track key, e.g. `barber`.")
    session: str = Field(default="R1", max_length=10)
    start: dt.datetime | None = Field(default=None, description="Green flag time (UTC).")
    duration_s: float = Field(default=RACE_DURATION_S, gt=0, le=6 * 3600,
                              description="Timed length of the race, s (45 min).")
    entries: list[EntryModel] = Field(default_factory=list, max_length=200)


def hub_of(request: Request | WebSocket) -> RaceHub:
    hub: RaceHub = request.app.state.races
    return hub


async def _race(hub: RaceHub, race_id: str) -> LiveRace:
    """The race, looked up in the shared log (off the event loop) when not followed here."""
    race = hub.races.get(race_id)
    if race is None:
        race = await _store(hub.get, race_id)
    if race is None:
        raise ProblemError(404, f"no live race {race_id!r}; declare it with PUT "
                           f"/v1/races/{race_id}", kind="unknown-race",
                           races=await _store(hub.ids))
    return race


async def _store(call: Any, *args: Any) -> Any:
    """``call`` in a worker thread, a failure of the shared store as a 503."""
    try:
        return await run_in_threadpool(call, *args)
    except RaceStoreError as exc:
        raise _unavailable(exc) from None


def _unavailable(exc: RaceStoreError) -> ProblemError:
    return ProblemError(503, str(exc), kind="race-store-unavailable",
                        headers={"Retry-After": "1"})


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@router.put("/{race_id}", summary="Declare a live race", status_code=201)
async def declare(request: Request, race_id: str) -> Response:
    """Open a race; 201 when new, 200 when it was declared before the same way."""
    service: Service = get_service(request)
    await service.admit(request, "stream")
    if not RACE_ID.match(race_id):
        raise ProblemError(422, "a race id is 1 to 80 letters, digits, '.', '_' or '-'",
                           kind="invalid-input", errors=[{"field": "race_id",
                                                          "reason": "bad shape"}])
    body = validate(RaceDeclaration, await request.body())
    start = body.start
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    info = RaceInfo(race_id=race_id, track=body.track, session=body.session, start=start,
                    duration_s=body.duration_s,
                    entries=tuple(Entry(**e.model_dump()) for e in body.entries))
    try:
        race, new = await _store(hub_of(request).declare, info)
    except DataError as exc:
        raise ProblemError(409, str(exc.args[0]), kind="race-conflict") from None
    state = await _store(race.read, RaceEngine.state)
    return _json(state, 201 if new else 200)


def _summary(hub: RaceHub) -> list[dict[str, Any]]:
    """Each race's lap and flag, every race caught up with the shared log first."""
    out = []
    for race_id in hub.ids():
        race = hub.get(race_id)
        if race is None:  # deleted since listed
            continue
        out.append(race.read(lambda engine: {
            "race_id": engine.info.race_id, "track": engine.info.track,
            "session": engine.info.session, "lap": engine.tower.leader_laps,
            "flag": engine.tower.flag, "cars": len(engine.tower.cars)}))
    return out


@router.get("", summary="Live races")
async def races(request: Request) -> Response:
    """Every race this worker follows, with its lap and flag."""
    await get_service(request).admit(request)
    return _json({"races": await _store(_summary, hub_of(request))})


@router.get("/{race_id}/state", summary="The timing tower")
async def state(request: Request, race_id: str) -> Response:
    """The race and every car in order (see the README for the fields)."""
    await get_service(request).admit(request)
    race = await _race(hub_of(request), race_id)
    return _json(await _store(race.read, RaceEngine.state))


@router.get("/{race_id}/cars/{car_number}", summary="One car and its predictions")
async def car(request: Request, race_id: str, car_number: str) -> Response:
    """One car's row of the tower with the models' latest answers for it."""
    await get_service(request).admit(request)
    race = await _race(hub_of(request), race_id)
    found = await _store(race.read, lambda engine: engine.car(car_number))
    if found is None:
        raise ProblemError(404, f"race {race_id!r} has no car {car_number!r}",
                           kind="unknown-car")
    return _json(found)


@router.post("/{race_id}/frames", summary="Apply one frame")
async def frames(request: Request, race_id: str) -> Response:
    """Apply one frame; the answer acknowledges the last ``seq`` applied from its source
    and lists the events it raised."""
    service = get_service(request)
    service.authenticate(request, "stream")  # a feed, not a client: no rate-limit token
    race = await _race(hub_of(request), race_id)
    body = await request.body()
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ProblemError(422, f"the frame is not JSON: {exc}", kind="invalid-input",
                           errors=[{"field": "body", "reason": "not JSON"}]) from None
    ack = await run_in_threadpool(_apply, race, parsed, service.metrics)
    return _json(ack)


def _apply(race: LiveRace, parsed: Any, metrics: Metrics) -> dict[str, Any]:
    """Apply one frame, counted in the race's metrics (frames, events, time, lag)."""
    race_id = race.engine.info.race_id
    started = time.perf_counter()
    try:
        ack = race.apply(parsed)
    except FrameError as exc:
        metrics.race_frame(race_id, "refused", time.perf_counter() - started)
        field = exc.column or "frame"
        raise ProblemError(422, str(exc.args[0]), kind="invalid-frame",
                           errors=[{"field": field, "reason": str(exc.args[0])}]) from None
    except RaceStoreError as exc:
        raise _unavailable(exc) from None
    except CogniraceError:
        metrics.race_frame(race_id, "refused", time.perf_counter() - started)
        raise
    metrics.race_frame(race_id, "duplicate" if ack.duplicate else "applied",
                       time.perf_counter() - started, clock=race.engine.tower.clock,
                       events=tuple(event.type for event in ack.events))
    return ack.to_json()


def _sse(event: Event) -> bytes:
    return (f"id: {event.seq}\nevent: {event.type}\n".encode()
            + b"data: " + orjson.dumps(event.to_json()) + b"\n\n")


@router.get("/{race_id}/events", summary="The race's events (server-sent events)")
async def events(request: Request, race_id: str, car: str | None = None,
                 follow: bool = True) -> StreamingResponse:
    """Every event of the race as server-sent events, newest last; after the
    ``Last-Event-ID`` header when given. With ``follow=false`` the stream ends after the
    events so far."""
    await get_service(request).admit(request)
    race = await _race(hub_of(request), race_id)
    last = request.headers.get("last-event-id", "0")
    seen = int(last) if last.isascii() and last.isdigit() else 0

    async def stream() -> Any:
        nonlocal seen
        while True:
            if race.log is not None:  # other replicas' frames raise events too
                try:
                    await run_in_threadpool(lambda: race.catch_up(wait=False))
                except RaceStoreError:
                    return  # the client resumes from Last-Event-ID once Redis is back
            new = race.engine.log.since(seen, car)
            for event in new:
                yield _sse(event)
            if race.engine.log.events:
                seen = max(seen, race.engine.log.events[-1].seq)
            if not follow or await request.is_disconnected():
                return
            await asyncio.sleep(EVENT_POLL_S)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})


@router.websocket("/{race_id}/stream")
async def stream(websocket: WebSocket, race_id: str) -> None:
    """Frames in, answers out; the race's events (and, asked for, telemetry echoes)
    pushed as they happen (see the module docstring for the messages)."""
    service: Service = websocket.app.state.service
    may_read, may_send = _socket_access(service, websocket)
    if not (may_read or may_send):
        await websocket.close(code=1008, reason="a key with the predict scope (to read) "
                                                "or the stream scope (to send) is needed")
        return
    query = _socket_query(websocket)
    if isinstance(query, str):
        await websocket.close(code=1008, reason=query)
        return
    after, events, echo = query
    hub = hub_of(websocket)
    try:
        race = hub.races.get(race_id) or await run_in_threadpool(hub.get, race_id)
    except RaceStoreError as exc:
        await websocket.close(code=1011, reason=str(exc)[:120])
        return
    if race is None:
        await websocket.close(code=1008, reason=f"no live race {race_id!r}")
        return
    await websocket.accept()
    outbox = Outbox(race.engine.log, after=after, events=events and may_read,
                    echo_max=ECHO_QUEUE)
    await _serve(websocket, race, outbox, may_send=may_send, echo=echo and may_read)


def _socket_access(service: Service, websocket: WebSocket) -> tuple[bool, bool]:
    """Whether the connection may read the race, and send it frames (open access: both)."""
    if service.open_access:
        return True, True
    key = websocket.headers.get("x-api-key") or websocket.query_params.get("api_key")
    principal = service.keys.current().authenticate(key)
    if principal is None:
        return False, False
    return principal.allows("predict"), principal.allows("stream")


def _socket_query(websocket: WebSocket) -> tuple[int, bool, bool] | str:
    """``after``, ``events`` and ``echo`` from the query, or why they are refused."""
    query = websocket.query_params
    after = query.get("after", "0")
    if not (after.isascii() and after.isdigit()):
        return "after must be a whole number: the seq of the last event you have"
    events = query.get("events", "true")
    if events not in ("true", "false"):
        return "events must be true or false"
    echo = query.get("echo")
    if echo not in (None, "telemetry"):
        return "echo takes one value, telemetry"
    return int(after), events == "true", echo == "telemetry"


async def _serve(websocket: WebSocket, race: LiveRace, outbox: Outbox, *, may_send: bool,
                 echo: bool) -> None:
    """The connection's three tasks: receive, watch, write (``Outbox.serve``)."""
    limit = websocket.app.state.service.settings.max_body_bytes
    with contextlib.suppress(WebSocketDisconnect):  # the client left while we were sending
        await outbox.serve(websocket.send_bytes, websocket.close,
                           receive=_receive(websocket, race, outbox, may_send=may_send,
                                            limit=limit),
                           watch=_watch(race, outbox, echo=echo))


async def _receive(websocket: WebSocket, race: LiveRace, outbox: Outbox, *, may_send: bool,
                   limit: int) -> None:
    """Frames in, each answer queued in order; returns when the client leaves, or after
    asking the writer to close on a message over ``limit``."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        data: str | bytes = text if text is not None else message.get("bytes") or b""
        if len(data) > limit:
            outbox.close(WS_TOO_BIG, f"message over {limit} bytes")
            return
        await outbox.reply(_answer(race, data, may_send=may_send,
                                   metrics=websocket.app.state.service.metrics))


async def _answer(race: LiveRace, data: str | bytes, *, may_send: bool,
                  metrics: Metrics) -> bytes:
    """The answer to one message: its ack, or a problem (the connection stays open)."""
    if not may_send:
        return orjson.dumps(_problem(403, "this key lacks the 'stream' scope: sending frames "
                                     "needs a key with the stream scope; this connection "
                                     "may only read the race", "frame", kind="forbidden"))
    try:
        answer = await run_in_threadpool(_apply, race, orjson.loads(data), metrics)
    except orjson.JSONDecodeError as exc:
        answer = _problem(422, f"the frame is not JSON: {exc}", "body")
    except ProblemError as exc:
        errors = exc.extra.get("errors") or [{"field": "frame"}]
        answer = _problem(exc.status, exc.detail, errors[0]["field"],
                          kind=exc.kind or "invalid-frame")
    except CogniraceError as exc:
        answer = _problem(422, str(exc), "frame")
    return orjson.dumps(answer)


async def _watch(race: LiveRace, outbox: Outbox, *, echo: bool) -> None:
    """The push loop; when the shared log fails the connection closes with 1011, and
    the client reconnects with ``after`` set to the last event it has."""
    try:
        await watch(race, outbox, run=run_in_threadpool, poll_s=EVENT_POLL_S,
                    echo_every_s=ECHO_EVERY_S if echo else None)
    except RaceStoreError:
        outbox.close(1011, f"the race store is unavailable; reconnect with "
                           f"after={outbox.cursor}")


def _problem(status: int, detail: str, field: str, *, kind: str = "invalid-frame"
             ) -> dict[str, Any]:
    return {"type": f"https://cognirace.dev/problems/{kind}", "status": status,
            "detail": detail, "errors": [{"field": field, "reason": detail}]}


__all__ = ["RaceDeclaration", "router"]
