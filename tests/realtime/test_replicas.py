"""Several replicas, one race: hubs that share a frame log fold the same frames into the
same tower and the same events as one process alone, whichever replica took a frame.

The log is kept in process (``MemoryFrameLog``) and in a real Redis (marker ``redis``);
the last test runs two ``cognirace serve`` processes on one Redis (marker ``slow``).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cognirace.api.app import create_app
from cognirace.api.settings import ServeSettings
from cognirace.api.store import ModelStore
from cognirace.lake import Lake
from cognirace.models.base import Model
from cognirace.realtime import RaceEngine, race_frames, race_info
from cognirace.realtime.framelog import FrameLog, MemoryFrameLog, RedisFrameLog
from cognirace.realtime.hub import RaceHub
from cognirace.realtime.tower import Entry, RaceInfo

with warnings.catch_warnings():  # Starlette's notice about its httpx-based client
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

TINY_RACE_S = 1800.0
"""The small season's races are timed at 30 minutes."""
TASKS = ("laptime", "fuel", "pitloss")
"""The models that answer on lap completions."""

LogFactory = Callable[[], FrameLog]


@pytest.fixture(scope="module")
def live_models(lake: Lake) -> dict[str, Model]:
    """laptime, fuel and pitloss fitted on the small season."""
    from cognirace.training import all_tasks, task_examples

    tasks = [all_tasks()[name] for name in TASKS]
    examples = task_examples(lake, tasks)
    return {task.name: task.model().fit(examples[task.name]) for task in tasks}


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def make_log(request: pytest.FixtureRequest) -> Iterator[LogFactory]:
    """Each call is one more replica's view of one shared log."""
    if request.param == "memory":
        shared = MemoryFrameLog()
        yield lambda: shared
        return
    url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
    opened: list[RedisFrameLog] = []

    def redis_log() -> FrameLog:
        opened.append(RedisFrameLog.connect(url, prefix=prefix, batch=16))
        return opened[-1]

    yield redis_log
    for log in opened:
        log.close()


def _copy(body: dict[str, Any]) -> Any:
    return orjson.loads(orjson.dumps(body))


def _everything(engine: RaceEngine) -> dict[str, Any]:
    """The tower, every car with its predictions, and the event log."""
    return {"state": engine.state(),
            "cars": {number: engine.car(number) for number in engine.tower.cars},
            "events": [e.to_json() for e in engine.log.events]}


def test_two_replicas_fold_a_race_as_one_process(lake: Lake, telemetry_race: str,
                                                 live_models: dict[str, Model],
                                                 make_log: LogFactory) -> None:
    info = race_info(lake, telemetry_race, duration_s=TINY_RACE_S)
    alone = RaceHub(models=live_models.get)
    first, second = (RaceHub(models=live_models.get, log=make_log()) for _ in range(2))
    alone.declare(info)
    first.declare(info)  # the second replica learns of the race from the log
    race_id = info.race_id
    frames = list(race_frames(lake, telemetry_race, frame_s=10.0))[:80]  # 13 min: 9 laps
    resent = 0
    for index, body in enumerate(frames):
        taker, other = (first, second) if index % 2 == 0 else (second, first)
        want = alone.races[race_id].apply(_copy(body)).to_json()
        taker_race = taker.get(race_id)
        assert taker_race is not None
        assert taker_race.apply(_copy(body)).to_json() == want, index
        if index % 9 == 4:  # resent after a reconnect, to the other replica
            other_race = other.get(race_id)
            assert other_race is not None
            duplicate = other_race.apply(_copy(body)).to_json()
            assert duplicate == alone.races[race_id].apply(_copy(body)).to_json()
            assert duplicate["duplicate"] is True and duplicate["events"] == []
            resent += 1
    expected = alone.read(race_id, _everything)
    late = RaceHub(models=live_models.get, log=make_log())  # never saw the race: replays it
    for hub in (first, second, late):
        assert hub.read(race_id, _everything) == expected
    events = expected["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert len({orjson.dumps(e) for e in events}) == len(events)  # no event twice
    assert resent >= 3 and expected["state"]["frames"] == len(frames)
    assert any(car["predictions"].get("laptime") for car in expected["cars"].values())
    assert {"POSITION_CHANGE", "PACE_DROP"} <= {e["type"] for e in events}


def _long_rows(vehicle: str, stamp: dt.datetime, lag_s: float) -> list[dict[str, Any]]:
    """One ECU reading in the logger's own long rows, received ``lag_s`` late."""
    received = (stamp + dt.timedelta(seconds=lag_s)).isoformat()
    return [{"vehicle_id": vehicle, "lap": 2, "telemetry_name": name, "telemetry_value": value,
             "timestamp": stamp.isoformat(), "meta_time": received}
            for name, value in (("speed", 150.0), ("Laptrigger_lapdist_dls", 1200.0))]


def test_every_replica_places_long_rows_on_the_same_clock(make_log: LogFactory) -> None:
    """A logger's clock offset learned from a frame another replica took still places the
    next frame's samples: the tower's clock moves exactly as in one process."""
    vehicle = "GR86-004-21"
    info = RaceInfo(race_id="clock-test", track="barber",
                    start=dt.datetime(2025, 9, 6, 15, 0, tzinfo=dt.UTC),
                    entries=(Entry("21", vehicle_id=vehicle),))
    ecu = dt.datetime(2025, 9, 5, 15, 10, tzinfo=dt.UTC)  # a day behind
    alone = RaceHub(models=lambda _name: None)
    first, second = (RaceHub(models=lambda _name: None, log=make_log()) for _ in range(2))
    alone.declare(info)
    first.declare(info)
    day = dt.timedelta(days=1)
    for seq, lag_s in enumerate((day.total_seconds() + 2.0, day.total_seconds() + 0.5,
                                 day.total_seconds() + 1.0, day.total_seconds() + 3.0)):
        body = {"seq": seq, "samples": _long_rows(vehicle, ecu + dt.timedelta(seconds=seq),
                                                  lag_s)}
        taker = first if seq % 2 == 0 else second
        want = alone.races[info.race_id].apply(_copy(body)).to_json()
        got = taker.get(info.race_id).apply(_copy(body)).to_json()  # type: ignore[union-attr]
        assert got == want
        assert taker.read(info.race_id, RaceEngine.state) == \
            alone.read(info.race_id, RaceEngine.state), seq
    # the third sample sits at the least lag seen (0.5 s, from the second replica's frame)
    assert alone.read(info.race_id, RaceEngine.state)["clock"] == \
        (ecu + day + dt.timedelta(seconds=3.5)).isoformat()


def test_a_rejected_frame_changes_nothing(make_log: LogFactory) -> None:
    """A malformed frame is stored nowhere: the log holds only frames the engine took."""
    from cognirace.realtime.frames import FrameError

    info = RaceInfo(race_id="bad-frame", track="barber")
    hub = RaceHub(models=lambda _name: None, log=make_log())
    race, _ = hub.declare(info)
    with pytest.raises(FrameError):
        race.apply({"seq": 0, "flags": [{"time": 0, "flag": "PURPLE"}]})
    assert race.apply({"seq": 0, "flags": [{"time": 0, "flag": "FCY"}]}).seq == 0
    late = RaceHub(models=lambda _name: None, log=make_log())
    assert late.read(info.race_id, RaceEngine.state) == hub.read(info.race_id,
                                                                 RaceEngine.state)
    assert late.read(info.race_id, lambda e: e.tower.flag) == "FCY"


def test_a_listener_catches_up_without_waiting_on_a_frame(make_log: LogFactory) -> None:
    info = RaceInfo(race_id="listener", track="barber")
    first, second = (RaceHub(models=lambda _name: None, log=make_log()) for _ in range(2))
    first.declare(info)[0].apply({"seq": 0, "flags": [{"time": 0, "flag": "FCY"}]})
    race = second.get(info.race_id)
    assert race is not None
    with race.lock:  # a frame is being applied here
        assert race.catch_up(wait=False) == 0
    assert race.catch_up(wait=False) == 1 and race.engine.log.events[0].type == "CAUTION_START"
    assert race.catch_up() == 0


def test_a_frame_the_engine_refuses_fails_once_and_the_race_goes_on(
        make_log: LogFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """An accepted frame that the engine refuses (a ``CogniraceError``) is reported to its
    sender, skipped by every replica alike, and never wedges the log."""
    from cognirace.errors import DataError

    refuse = RaceEngine.apply

    def apply(engine: RaceEngine, frame: Any) -> Any:
        if frame.seq == 1:
            raise DataError("refused for the test", value=frame.seq)
        return refuse(engine, frame)

    monkeypatch.setattr(RaceEngine, "apply", apply)
    info = RaceInfo(race_id="refused", track="barber")
    first, second = (RaceHub(models=lambda _name: None, log=make_log()) for _ in range(2))
    race, _ = first.declare(info)
    race.apply({"seq": 0, "flags": [{"time": 0, "flag": "FCY"}]})
    with pytest.raises(DataError, match="refused for the test"):
        race.apply({"seq": 1, "flags": [{"time": 1, "flag": "GF"}]})
    other = second.get(info.race_id)
    assert other is not None
    assert other.apply({"seq": 1}).duplicate  # taken once: a resend is a duplicate
    assert other.apply({"seq": 2, "flags": [{"time": 2, "flag": "GF"}]}).seq == 2
    assert race.frames_failed == other.frames_failed == 1
    states = [hub.read(info.race_id, RaceEngine.state) for hub in (first, second)]
    assert states[0] == states[1] and states[0]["flag"] == "GF"
    assert states[0]["frames"] == 2


# --- over HTTP --------------------------------------------------------------------------

def _declaration(info: RaceInfo) -> dict[str, Any]:
    return {"track": info.track, "session": info.session, "duration_s": info.duration_s,
            "start": info.start.isoformat() if info.start else None,
            "entries": [{"car_number": e.car_number, "vehicle_id": e.vehicle_id,
                         "chassis": e.chassis, "team": e.team,
                         "fuel_start_l": e.fuel_start_l} for e in info.entries]}


def _sse_events(text: str) -> list[dict[str, Any]]:
    return [orjson.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]


@pytest.fixture
def forget(redis_url: str) -> Iterator[list[str]]:
    """Race ids the test declares under the service's own prefix; deleted afterwards."""
    ids: list[str] = []
    yield ids
    log = RedisFrameLog.connect(redis_url)
    for race_id in ids:
        log.delete(race_id)
    log.close()


@pytest.mark.redis
def test_two_apps_on_one_redis_answer_as_one(lake: Lake, telemetry_race: str,
                                             redis_url: str, tmp_path: Path,
                                             forget: list[str]) -> None:
    """Frames alternated between two apps over HTTP; each answers any read, 503 without
    Redis."""
    race_id = f"{telemetry_race}-{uuid.uuid4().hex[:8]}"
    forget.append(race_id)
    info = race_info(lake, telemetry_race, as_id=race_id, duration_s=TINY_RACE_S)
    apps = []
    for name in ("a", "b"):
        settings = ServeSettings(registry_url=str(tmp_path / "registry"),
                                 model_cache_dir=tmp_path / f"cache-{name}",
                                 redis_url=redis_url, cache_ttl_s=0)
        store = ModelStore.open(settings.registry_url, settings.model_cache_dir)
        apps.append(create_app(settings, store=store))
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        assert first.put(f"/v1/races/{race_id}", json=_declaration(info)).status_code == 201
        assert second.put(f"/v1/races/{race_id}", json=_declaration(info)).status_code == 200
        alone = RaceEngine(info)
        from cognirace.realtime import parse_frame

        for index, body in enumerate(race_frames(lake, telemetry_race, frame_s=20.0,
                                                 telemetry=False)):
            taker = (first, second)[index % 2]
            answer = taker.post(f"/v1/races/{race_id}/frames", json=body)
            assert answer.status_code == 200, answer.text
            want = orjson.loads(orjson.dumps(alone.apply(parse_frame(_copy(body))).to_json()))
            assert answer.json() == want
        states = [c.get(f"/v1/races/{race_id}/state").json() for c in (first, second)]
        assert states[0] == states[1] == orjson.loads(orjson.dumps(alone.state()))
        for client in (first, second):
            listed = client.get(f"/v1/races/{race_id}/events", params={"follow": "false"})
            assert _sse_events(listed.text) == [
                orjson.loads(orjson.dumps(e.to_json())) for e in alone.log.events]
            assert race_id in [r["race_id"] for r in client.get("/v1/races").json()["races"]]
        # Redis gone: the answer says so and what to do
        apps[0].state.races = RaceHub(models=lambda _name: None, log=RedisFrameLog.connect(
            "redis://127.0.0.1:1/0", timeout_s=0.5, where="redis://127.0.0.1:1/0"))
        down = first.get(f"/v1/races/{race_id}/state")
        assert down.status_code == 503 and down.headers["retry-after"] == "1"
        assert "COGNIRACE_REDIS_URL" in down.json()["detail"]


# --- two `cognirace serve` processes ----------------------------------------------------

def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(registry: Path, redis_url: str, tmp_path: Path) -> tuple[subprocess.Popen[bytes],
                                                                     str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COGNIRACE_", "AIP_"))}
    env.update(COGNIRACE_KEYS_FILE=str(tmp_path / "none.json"), COGNIRACE_REDIS_URL=redis_url,
               COGNIRACE_CACHE_TTL_S="0", COGNIRACE_MODEL_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "cognirace.cli.main", "serve", "--port", str(port),
         "--registry", str(registry)], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    return proc, f"http://127.0.0.1:{port}"


def _wait(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{base} did not start (exit {proc.poll()})")


@pytest.mark.slow
@pytest.mark.redis
def test_two_serve_processes_on_one_redis_follow_one_race(
        lake: Lake, telemetry_race: str, redis_url: str, tmp_path: Path,
        forget: list[str]) -> None:
    """The issue's test: a race's frames alternated between two `cognirace serve`
    processes give the /state of a single in-process run, and no event twice."""
    from cognirace.training import open_registry, select_tasks, train

    tasks = select_tasks(list(TASKS))
    registry = tmp_path / "registry"
    train(lake, open_registry(registry, tasks), tasks, seed=0)
    race_id = f"{telemetry_race}-{uuid.uuid4().hex[:8]}"
    forget.append(race_id)
    info = race_info(lake, telemetry_race, as_id=race_id, duration_s=TINY_RACE_S)
    frames = list(race_frames(lake, telemetry_race, frame_s=10.0))
    procs = [_serve(registry, redis_url, tmp_path / name) for name in ("a", "b")]
    try:
        for proc, base in procs:
            _wait(base, proc)
        bases = [base for _, base in procs]
        with httpx.Client(timeout=30) as http:
            assert http.put(f"{bases[0]}/v1/races/{race_id}",
                            json=_declaration(info)).status_code == 201
            acks = []
            for index, body in enumerate(frames):
                answer = http.post(f"{bases[index % 2]}/v1/races/{race_id}/frames", json=body)
                assert answer.status_code == 200, answer.text
                acks.append(answer.json())
            resent = http.post(f"{bases[1]}/v1/races/{race_id}/frames", json=frames[-2])
            assert resent.json()["duplicate"] is True
            states = [http.get(f"{base}/v1/races/{race_id}/state").json() for base in bases]
            leader = states[0]["cars"][0]["car_number"]
            cars = [http.get(f"{base}/v1/races/{race_id}/cars/{leader}").json()
                    for base in bases]
            logs = [_sse_events(http.get(f"{base}/v1/races/{race_id}/events",
                                         params={"follow": "false"}).text) for base in bases]
    finally:
        for proc, _ in procs:
            proc.send_signal(signal.SIGTERM)
        errors = [proc.communicate(timeout=30)[1] for proc, _ in procs]
    settings = ServeSettings(registry_url=str(registry), model_cache_dir=tmp_path / "cache")
    store = ModelStore.open(settings.registry_url, settings.model_cache_dir)
    with TestClient(create_app(settings, store=store)) as alone:
        alone.put(f"/v1/races/{race_id}", json=_declaration(info))
        want_acks = [alone.post(f"/v1/races/{race_id}/frames", json=b).json() for b in frames]
        want_state = alone.get(f"/v1/races/{race_id}/state").json()
        want_car = alone.get(f"/v1/races/{race_id}/cars/{leader}").json()
        want_events = _sse_events(alone.get(f"/v1/races/{race_id}/events",
                                            params={"follow": "false"}).text)
    assert acks == want_acks, errors[0][-2000:]
    assert states[0] == states[1] == want_state
    assert cars[0] == cars[1] == want_car and want_car["predictions"]["laptime"]
    assert logs[0] == logs[1] == want_events and want_events
    seqs = [e["seq"] for e in logs[0]]
    assert seqs == sorted(set(seqs))  # no event twice
    assert not want_state["model_skips"].get("features")
    assert any(e["type"] == "POSITION_CHANGE" for e in want_events)
