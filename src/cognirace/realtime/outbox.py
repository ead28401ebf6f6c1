"""What one WebSocket connection to a live race still has to send, and in which order.

A client that reads slowly must never hold the race up. So nothing is sent while a
frame is applied or while the race's lock is held: each connection has its own writer
task (``Outbox.run``), the only one that sends on its socket, and that task alone waits
on a slow client. It sends, in this order:

1. **Answers** to the frames this connection sent (acks and problems). Never dropped:
   each is owed to a frame. Their queue is bounded; when it is full the connection
   stops reading frames until the client reads, which is the sender's own backpressure.
2. **Events** after the connection's cursor, read straight from the race's
   ``EventLog``, which keeps every event. Never dropped and never copied into a queue
   here: a slow reader falls behind and catches up, the log is its buffer.
3. **Telemetry echoes**, snapshots of each car's latest position and speed
   (``telemetry_echo``). The only thing that may be dropped, since the next snapshot
   supersedes the last. They wait in a small bounded queue; when it is full the oldest
   goes, and each echo sent says how many were dropped so far (``n_dropped``).

The events a frame of this connection raised come after its ack (events raised since
one of its frames began wait until its answer is queued), so a feed reads its answer
first.

``watch`` is the connection's push loop: it catches the race up with a shared log (the
frames other replicas took raise events too), wakes the writer when the log has events
past its cursor, and queues an echo at most every ``echo_every_s`` of wall time when the
race changed. Its reads run through ``run`` (a thread pool), never on the event loop.
``Outbox.serve`` runs the writer, the connection's receive loop and ``watch`` as three
tasks of the connection, and cancels all three when it ends.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import orjson

from cognirace.realtime.engine import RaceEngine
from cognirace.realtime.events import EventLog
from cognirace.realtime.hub import LiveRace

Send = Callable[[bytes], Awaitable[None]]
"""Sends one message on the socket; waits while the client does not read."""
Close = Callable[[int, str], Awaitable[None]]
"""Closes the socket with a code and a reason."""
RunSync = Callable[..., Awaitable[Any]]
"""Runs a blocking call off the event loop (``run(func, *args)``)."""

REPLY_QUEUE = 64
"""Answers a connection may owe before it stops reading frames."""
ECHO_QUEUE = 8
"""Echoes a connection holds for a slow client before it drops the oldest."""


class Outbox:
    """What one connection owes its client (see the module docstring).

    Args:
        log: The race's event log, read by cursor.
        after: ``seq`` of the last event the client has; pushing starts after it.
        events: Whether to push events at all (a feed may want its answers only).
        echo_max: Echoes held before the oldest is dropped, at least 1.
        reply_max: Answers owed before the connection stops reading frames.
    """

    def __init__(self, log: EventLog, *, after: int = 0, events: bool = True,
                 echo_max: int = ECHO_QUEUE, reply_max: int = REPLY_QUEUE) -> None:
        if echo_max < 1 or reply_max < 1 or after < 0:
            raise ValueError("echo_max and reply_max must be at least 1, after at least 0")
        self.log = log
        self.cursor = after
        """``seq`` of the last event sent (or skipped with ``after``)."""
        self.events = events
        self.echo_max = echo_max
        self.n_dropped = 0
        """Echoes dropped so far because the client read too slowly."""
        self._replies: asyncio.Queue[bytes] = asyncio.Queue(reply_max)
        self._echoes: deque[dict[str, Any]] = deque()
        self._holds: list[int] = []
        """Length of the log as each frame of this connection under way began."""
        self._wake = asyncio.Event()
        self._close: tuple[int, str] | None = None

    @property
    def behind(self) -> bool:
        """Whether the log has events this connection has not sent yet."""
        return self.events and len(self.log.events) > self.cursor

    @property
    def closing(self) -> bool:
        return self._close is not None

    async def reply(self, answer: Awaitable[bytes]) -> None:
        """Queue the answer to one of this connection's frames once it is ready; the
        events raised since the frame began wait meanwhile, so its ack goes out before
        them (earlier events go on). Waits while the queue is full (the client is not
        reading)."""
        start = len(self.log.events)
        self._holds.append(start)
        try:
            await self._replies.put(await answer)
        finally:
            self._holds.remove(start)
            self._wake.set()

    def echo(self, snapshot: dict[str, Any]) -> None:
        """Queue a telemetry echo, dropping (and counting) the oldest when full."""
        while len(self._echoes) >= self.echo_max:
            self._echoes.popleft()
            self.n_dropped += 1
        self._echoes.append(snapshot)
        self._wake.set()

    def wake(self) -> None:
        """Tell the writer the log has grown."""
        self._wake.set()

    def close(self, code: int, reason: str) -> None:
        """Close once the answers owed are sent (events and echoes left are not)."""
        if self._close is None:
            self._close = (code, reason.encode()[:120].decode(errors="ignore"))  # 123 at most
        self._wake.set()

    async def run(self, send: Send, close: Close) -> None:
        """The connection's writer: send what is due, in order, until closed."""
        while True:
            message = self._next()
            if message is not None:
                await send(message)
            elif self._close is not None:
                await close(*self._close)
                return
            else:
                self._wake.clear()
                await self._wake.wait()

    async def serve(self, send: Send, close: Close, *, receive: Coroutine[Any, Any, None],
                    watch: Coroutine[Any, Any, None]) -> None:
        """Run a connection as three tasks: this writer, ``receive`` (the client's
        messages in) and ``watch`` (the push loop), until the client leaves (``receive``
        returns without closing) or the writer has closed. A task that fails ends the
        connection with its error; all three are cancelled on the way out."""
        writer = asyncio.create_task(self.run(send, close))
        receiver, watcher = asyncio.create_task(receive), asyncio.create_task(watch)
        tasks = {writer, receiver, watcher}
        try:
            while tasks:
                done, tasks = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
                if writer in done or (receiver in done and not self.closing):
                    return
        finally:
            await _stop(writer, receiver, watcher)

    def _next(self) -> bytes | None:
        """The next message due: an answer, else an event, else an echo."""
        if not self._replies.empty():
            return self._replies.get_nowait()
        if self._close is not None:
            return None
        if self.behind and (not self._holds or self.cursor < min(self._holds)):
            event = self.log.events[self.cursor]  # seq n is at index n - 1
            self.cursor = event.seq
            return orjson.dumps({"event": event.to_json()})
        if self._echoes:
            snapshot = self._echoes.popleft()
            return orjson.dumps({"echo": {**snapshot, "n_dropped": self.n_dropped}})
        return None


async def _stop(*tasks: asyncio.Task[None]) -> None:
    """Cancel a connection's tasks and wait for them. ``asyncio.wait``, not ``gather``:
    if the server cancels the connection meanwhile, gather's own CancelledError would
    escape the server's cancel scope (AnyIO's), and the server would see a failure."""
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved: a task failing as the connection ends is no news


def telemetry_echo(engine: RaceEngine) -> dict[str, Any]:
    """The race's clock and flag and each car's latest place, lap, distance into the lap
    (m), speed (km/h) and GPS position, in running order: what a live map redraws."""
    tower = engine.tower
    cars = sorted(tower.cars.values(), key=lambda c: c.position or 10**6)
    return {"clock": None if tower.clock is None else tower.clock.isoformat(),
            "lap": tower.leader_laps, "flag": tower.flag,
            "cars": [{"car_number": c.car_number, "position": c.position, "laps": c.laps,
                      "lap_dist_m": c.lap_dist_m, "speed_kph": c.speed_kph,
                      "lat": c.lat, "lon": c.lon} for c in cars]}


def _echo_read(engine: RaceEngine) -> tuple[int, dict[str, Any]]:
    return engine.frames_applied, telemetry_echo(engine)


async def watch(race: LiveRace, outbox: Outbox, *, run: RunSync, poll_s: float,
                echo_every_s: float | None = None) -> None:
    """The connection's push loop (see the module docstring); runs until cancelled.

    Args:
        race: The race followed.
        outbox: The connection's outbox, woken when there is something to send.
        run: Runs a blocking call in a worker thread (catching up, reading the tower).
        poll_s: How often to look for new events, s of wall time.
        echo_every_s: Least time between two echoes, s of wall time; None sends none.

    Raises:
        RaceStoreError: The shared log failed; the client reconnects with ``after``.
    """
    loop = asyncio.get_running_loop()
    tick = poll_s if echo_every_s is None else min(poll_s, echo_every_s)
    echoed_frames, next_echo = -1, 0.0
    while True:
        if race.log is not None:  # other replicas' frames raise events too
            await run(lambda: race.catch_up(wait=False))
        if outbox.behind:
            outbox.wake()
        now = loop.time()
        if (echo_every_s is not None and now >= next_echo
                and race.engine.frames_applied != echoed_frames):
            echoed_frames, snapshot = await run(race.read, _echo_read)
            outbox.echo(snapshot)
            next_echo = now + echo_every_s
        await asyncio.sleep(tick)


__all__ = ["ECHO_QUEUE", "REPLY_QUEUE", "Close", "Outbox", "RunSync", "Send",
           "telemetry_echo", "watch"]
