"""The race pushed over its WebSocket: every event once and in order, resumed with
``after``, telemetry echoes that a slow client may lose (counted) while the race goes on,
and the keys' scopes."""

from __future__ import annotations

import asyncio
import queue
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from cognirace.api import routes_races
from cognirace.api.app import create_app
from cognirace.api.auth import create_key
from cognirace.api.settings import ServeSettings
from cognirace.api.store import ModelStore
from cognirace.lake import Lake
from cognirace.realtime import race_frames
from cognirace.realtime.events import EventLog
from cognirace.realtime.framelog import MemoryFrameLog
from cognirace.realtime.hub import RaceHub
from cognirace.realtime.outbox import Outbox

from .test_routes import _declaration

with warnings.catch_warnings():  # Starlette's notice about its httpx-based client
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

WAIT_S = 10.0
"""Longest wait for a pushed message before a test fails (rather than hangs)."""

Message = dict[str, Any]


class SlowClients:
    """An ASGI wrapper whose WebSocket clients read nothing until ``gate`` is set: each
    message the app sends waits, as on a socket whose buffers are full."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.gate = threading.Event()
        self.waiting = 0
        """Sends stuck at the gate now."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def slow_send(message: Message) -> None:
            if message["type"] == "websocket.send" and not self.gate.is_set():
                self.waiting += 1
                while not self.gate.is_set():
                    await asyncio.sleep(0.005)
                self.waiting -= 1
            await send(message)

        await self.app(scope, receive, slow_send if scope["type"] == "websocket" else send)


class Reader:
    """Reads a test WebSocket in a thread, so a test waits with a deadline."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.got: queue.Queue[Message | BaseException] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                self.got.put(orjson.loads(self.ws.receive_bytes()))
            except BaseException as exc:  # closed: handed to the test, never raised here
                self.got.put(exc)
                return

    def next(self, timeout_s: float = WAIT_S) -> Message:
        try:
            item = self.got.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"nothing pushed within {timeout_s} s") from None
        if isinstance(item, BaseException):
            raise item
        return item

    def until(self, done: Callable[[list[Message]], bool]) -> list[Message]:
        messages: list[Message] = []
        while not done(messages):
            messages.append(self.next())
        return messages

    def quiet(self, timeout_s: float = 0.3) -> bool:
        """Whether nothing more comes within ``timeout_s``."""
        try:
            self.got.get(timeout=timeout_s)
        except queue.Empty:
            return True
        return False


def _seqs(messages: list[Message]) -> list[int]:
    return [m["event"]["seq"] for m in messages if "event" in m]


def _has_event(seq: int) -> Callable[[list[Message]], bool]:
    return lambda messages: seq in _seqs(messages)


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """``make_client(slow=None, **settings)``: a started client of a fresh app."""
    clients: list[TestClient] = []

    def factory(slow: SlowClients | None = None, **overrides: Any) -> TestClient:
        settings = ServeSettings(**{"registry_url": str(tmp_path / "registry"),
                                    "model_cache_dir": tmp_path / "cache",
                                    "keys_file": tmp_path / "no-keys.json",
                                    "max_body_bytes": 2_000_000, **overrides})
        app = create_app(settings, store=ModelStore.open(settings.registry_url,
                                                         settings.model_cache_dir))
        if slow is not None:
            slow.app = app
        clients.append(TestClient(app if slow is None else slow))
        clients[-1].__enter__()
        return clients[-1]

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def frames(lake: Lake, telemetry_race: str) -> list[dict[str, Any]]:
    """The race in 60 s frames, timing only: events from the fourth frame on."""
    return list(race_frames(lake, telemetry_race, frame_s=60.0, telemetry=False))


def _post_all(client: TestClient, race: str, bodies: list[dict[str, Any]]
              ) -> list[Message]:
    acks = []
    for body in bodies:
        answer = client.post(f"/v1/races/{race}/frames", json=body)
        assert answer.status_code == 200, answer.text
        acks.append(answer.json())
    return acks


def test_a_reader_gets_every_event_once_in_order_and_resumes_after_a_seq(
        make_client: Callable[..., TestClient], lake: Lake, telemetry_race: str,
        frames: list[dict[str, Any]]) -> None:
    client = make_client()
    client.put(f"/v1/races/{telemetry_race}", json=_declaration(lake, telemetry_race))
    with client.websocket_connect(f"/v1/races/{telemetry_race}/stream") as ws:
        reader = Reader(ws)
        acks = _post_all(client, telemetry_race, frames)  # frames from elsewhere
        raised = [event for ack in acks for event in ack["events"]]
        assert len(raised) > 10
        pushed = reader.until(_has_event(len(raised)))
        assert pushed == [{"event": event} for event in raised]  # in order, none twice
        assert reader.quiet()
    middle = len(raised) // 2
    with client.websocket_connect(f"/v1/races/{telemetry_race}/stream?after={middle}") as ws:
        resumed = Reader(ws).until(_has_event(len(raised)))
        assert _seqs(resumed) == list(range(middle + 1, len(raised) + 1))
    with client.websocket_connect(f"/v1/races/{telemetry_race}/stream") as ws:
        assert _seqs(Reader(ws).until(_has_event(len(raised)))) == list(
            range(1, len(raised) + 1))  # a new connection starts at the first event
    with client.websocket_connect(f"/v1/races/{telemetry_race}/stream?after={len(raised)}"
                                  ) as ws:
        assert Reader(ws).quiet()  # up to date: nothing to push


def test_a_sender_gets_each_ack_before_the_events_its_frame_raised(
        make_client: Callable[..., TestClient], lake: Lake, telemetry_race: str,
        frames: list[dict[str, Any]]) -> None:
    client = make_client()
    client.put(f"/v1/races/{telemetry_race}", json=_declaration(lake, telemetry_race))
    with client.websocket_connect(f"/v1/races/{telemetry_race}/stream") as ws:
        reader = Reader(ws)
        n_events = 0
        for body in frames[:12]:
            ws.send_text(orjson.dumps(body).decode())
            ack = reader.next()
            assert ack["ack"] == body["seq"]
            assert [reader.next() for _ in ack["events"]] == [
                {"event": event} for event in ack["events"]]
            n_events += len(ack["events"])
        assert n_events > 0 and reader.quiet()
    with client.websocket_connect(f"/v1/races/{telemetry_race}/stream?events=false") as ws:
        reader = Reader(ws)
        ws.send_text(orjson.dumps(frames[12]).decode())
        assert reader.next()["ack"] == 12 and reader.quiet()  # a feed: its answers only


def test_a_client_that_does_not_read_never_holds_the_race_up(
        make_client: Callable[..., TestClient], lake: Lake, telemetry_race: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames go on being applied at full speed while a reader's socket is full; then it
    gets every event, and the echoes say how many of them it lost."""
    monkeypatch.setattr(routes_races, "ECHO_QUEUE", 2)
    monkeypatch.setattr(routes_races, "ECHO_EVERY_S", 0.01)
    monkeypatch.setattr(routes_races, "EVENT_POLL_S", 0.01)
    slow = SlowClients(None)
    client = make_client(slow)
    race = telemetry_race
    client.put(f"/v1/races/{race}", json=_declaration(lake, race))
    bodies = list(race_frames(lake, race, frame_s=20.0))[:40]
    assert sum(len(b.get("samples", [])) for b in bodies) > 1000
    acks: list[Message] = []
    with client.websocket_connect(f"/v1/races/{race}/stream?echo=telemetry") as ws:
        reader = Reader(ws)
        poster = threading.Thread(target=lambda: acks.extend(_post_all(client, race,
                                                                        bodies)))
        try:
            poster.start()
            poster.join(timeout=20)
            assert not poster.is_alive(), "frames were held up by a reader that reads nothing"
            assert slow.waiting == 1  # the reader's writer sat blocked all along
        finally:
            slow.gate.set()
        assert [a["ack"] for a in acks] == [b["seq"] for b in bodies]
        state = client.get(f"/v1/races/{race}/state").json()
        assert state["frames"] == len(bodies) and state["events"] > 0
        pushed = reader.until(lambda got: state["events"] in _seqs(got) and any(
            m["echo"]["clock"] == state["clock"] for m in got if "echo" in m))
    assert _seqs(pushed) == list(range(1, state["events"] + 1))  # no gap, none twice
    echoes = [m["echo"] for m in pushed if "echo" in m]
    assert echoes[-1]["n_dropped"] > 0
    assert [e["n_dropped"] for e in echoes] == sorted(e["n_dropped"] for e in echoes)
    cars = {c["car_number"]: c for c in state["cars"]}
    assert echoes[-1]["cars"] and all(
        car["speed_kph"] == cars[car["car_number"]]["speed_kph"]
        and car["position"] == cars[car["car_number"]]["position"]
        for car in echoes[-1]["cars"])
    assert any(car["speed_kph"] is not None for car in echoes[-1]["cars"])


def test_a_predict_key_reads_but_may_not_send(make_client: Callable[..., TestClient],
                                              lake: Lake, telemetry_race: str,
                                              frames: list[dict[str, Any]],
                                              tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    predict, _ = create_key(keys, "pit wall", ["predict"])
    feed, _ = create_key(keys, "timing feed", ["stream"])
    client = make_client(keys_file=keys)
    race, path = telemetry_race, f"/v1/races/{telemetry_race}/stream"
    assert client.put(f"/v1/races/{race}", json=_declaration(lake, race),
                      headers={"X-API-Key": feed}).status_code == 201
    with pytest.raises(Exception) as refused, client.websocket_connect(path):
        pass
    assert getattr(refused.value, "code", None) == 1008
    with client.websocket_connect(path, headers={"X-API-Key": predict}) as ws:
        reader = Reader(ws)
        for _ in range(2):  # refused, and the connection stays open
            ws.send_text(orjson.dumps(frames[0]).decode())
            problem = reader.next()
            assert problem["status"] == 403 and problem["type"].endswith("/forbidden")
            assert "'stream' scope" in problem["detail"]
        assert client.get(f"/v1/races/{race}/state",
                          headers={"X-API-Key": predict}).json()["frames"] == 0
        with client.websocket_connect(path, headers={"X-API-Key": feed}) as sender:
            feed_reader, raised = Reader(sender), 0
            for body in frames[:6]:
                sender.send_text(orjson.dumps(body).decode())
                ack = feed_reader.next()
                assert ack["ack"] == body["seq"]
                raised += len(ack["events"])
            assert raised > 0 and feed_reader.quiet()  # a feed without predict: no pushes
        assert _seqs(reader.until(_has_event(raised))) == list(range(1, raised + 1))
    with pytest.raises(Exception) as bad, client.websocket_connect(
            f"{path}?after=x", headers={"X-API-Key": predict}):
        pass
    assert getattr(bad.value, "code", None) == 1008 and "after" in bad.value.reason


def test_a_reader_on_another_replica_gets_every_event(
        make_client: Callable[..., TestClient], lake: Lake, telemetry_race: str,
        frames: list[dict[str, Any]]) -> None:
    """Frames taken by one app, read on another sharing the log: it catches up."""
    shared = MemoryFrameLog()
    taker, other = make_client(), make_client()
    for client in (taker, other):
        client.app.state.races = RaceHub(models=lambda _name: None, log=shared)
    taker.put(f"/v1/races/{telemetry_race}", json=_declaration(lake, telemetry_race))
    with other.websocket_connect(f"/v1/races/{telemetry_race}/stream") as ws:
        reader = Reader(ws)
        acks = _post_all(taker, telemetry_race, frames)
        raised = [event for ack in acks for event in ack["events"]]
        assert reader.until(_has_event(len(raised))) == [{"event": e} for e in raised]


def test_the_outbox_drops_old_echoes_only_and_holds_a_frames_events_behind_its_ack() -> None:
    async def scenario() -> tuple[list[Message], list[tuple[int, str]]]:
        log, sent, closed = EventLog(), [], []
        log.add("PACE_DROP", "info", "before the frame")
        outbox = Outbox(log, echo_max=2)
        for i in range(5):
            outbox.echo({"i": i})
        applied = asyncio.Event()

        async def answer() -> bytes:
            log.add("PACE_DROP", "info", "raised by the frame")
            await applied.wait()
            return b'{"ack": 0}'

        async def send(data: bytes) -> None:
            sent.append(orjson.loads(data))

        async def close(code: int, reason: str) -> None:
            closed.append((code, reason))

        writer = asyncio.create_task(outbox.run(send, close))
        replying = asyncio.create_task(outbox.reply(answer()))
        await asyncio.sleep(0.01)
        assert [m.get("event", {}).get("seq") for m in sent] == [1, None, None]
        applied.set()
        await replying
        await asyncio.sleep(0.01)
        outbox.close(1000, "done")
        await asyncio.wait_for(writer, 1)
        return sent, closed

    sent, closed = asyncio.run(scenario())
    assert [m["echo"] for m in sent if "echo" in m] == [{"i": 3, "n_dropped": 3},
                                                        {"i": 4, "n_dropped": 3}]
    assert [next(iter(m)) for m in sent] == ["event", "echo", "echo", "ack", "event"]
    assert sent[-1]["event"]["seq"] == 2 and closed == [(1000, "done")]
