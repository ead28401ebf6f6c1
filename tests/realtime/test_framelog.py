"""The shared frame log: one declaration per race, a frame taken once per ``seq`` in the
same step as its append, entries read back in order; the same contract in process and
in Redis (the Redis cases need a server: marker ``redis``)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator

import pytest

from cognirace.errors import DataError
from cognirace.realtime.framelog import (
    START,
    FrameLog,
    MemoryFrameLog,
    RaceStoreError,
    RedisFrameLog,
    info_from_json,
    info_to_json,
)
from cognirace.realtime.hub import RaceHub
from cognirace.realtime.tower import Entry, RaceInfo

INFO = RaceInfo(race_id="barber-R1", track="barber", session="R1",
                start=dt.datetime(2025, 9, 6, 15, 0, 0, 123000, tzinfo=dt.UTC),
                duration_s=2700.0,
                entries=(Entry("021", chassis="004", team="A Team", vehicle_id="GR86-004-21",
                               fuel_start_l=49.5, driver="A. Driver"), Entry("7")))

LogFactory = Callable[..., FrameLog]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def make_log(request: pytest.FixtureRequest) -> Iterator[LogFactory]:
    """Logs on one store: each call is another replica's view of it."""
    if request.param == "memory":
        shared = MemoryFrameLog()

        def memory(batch: int = 64) -> FrameLog:
            shared.batch = batch
            return shared

        yield memory
        return
    url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
    opened: list[RedisFrameLog] = []

    def redis_log(batch: int = 64) -> FrameLog:
        opened.append(RedisFrameLog.connect(url, prefix=prefix, batch=batch))
        return opened[-1]

    yield redis_log
    for log in opened:
        log.close()


def test_a_declaration_reads_back_exactly() -> None:
    assert info_from_json(info_to_json(INFO)) == INFO
    bare = RaceInfo(race_id="x", track="sonoma")
    assert info_from_json(info_to_json(bare)) == bare
    with pytest.raises(DataError, match="declare it again"):
        info_from_json(b'{"race_id": "x"}')


def test_the_first_declaration_wins(make_log: LogFactory) -> None:
    log = make_log()
    assert log.declare(INFO) == (INFO, True)
    longer = RaceInfo(race_id=INFO.race_id, track="barber", duration_s=3600.0)
    assert make_log().declare(longer) == (INFO, False)  # another replica, same answer
    assert log.declaration(INFO.race_id) == INFO
    assert log.declaration("nobody") is None
    assert log.race_ids() == [INFO.race_id]
    log.delete(INFO.race_id)
    assert log.declaration(INFO.race_id) is None and log.race_ids() == []


def test_a_seq_is_taken_once_per_source(make_log: LogFactory) -> None:
    log = make_log()
    log.declare(INFO)
    race = INFO.race_id
    first = log.append(race, "timing", 0, b'{"seq": 0}', START)
    assert first.accepted and first.last_seq == 0 and first.entry_id is not None
    assert first.entries == ((first.entry_id, b'{"seq": 0}'),)
    again = log.append(race, "timing", 0, b'{"seq": 0, "resent": true}', first.entry_id)
    assert (again.accepted, again.last_seq, again.entry_id, again.entries) == (
        False, 0, None, ())
    assert log.append(race, "timing", 5, b"5", first.entry_id).accepted  # a gap is fine
    assert log.append(race, "timing", 3, b"3", first.entry_id).last_seq == 5  # late: no
    assert log.append(race, "logger-7", 0, b"L0", START).accepted  # its own sequence
    # seqs beyond a double's precision still compare exactly
    assert log.append(race, "big", 2**64, b"big", START).accepted
    assert log.append(race, "big", 2**64 + 1, b"big+1", START).accepted
    assert not log.append(race, "big", 2**64, b"big", START).accepted
    frames = [frame for _, frame in log.since(race, START)]
    assert frames == [b'{"seq": 0}', b"5", b"L0", b"big", b"big+1"]


def test_catching_up_reads_in_batches(make_log: LogFactory) -> None:
    log = make_log(batch=3)
    log.declare(INFO)
    ids = [log.append(INFO.race_id, "timing", seq, str(seq).encode(), START).entry_id
           for seq in range(8)]
    assert len(log.append(INFO.race_id, "timing", 8, b"8", START).entries) == 3
    seen, after = [], START
    while batch := log.since(INFO.race_id, after):
        assert len(batch) <= 3
        seen += batch
        after = batch[-1][0]
    assert [entry_id for entry_id, _ in seen][:8] == ids
    assert [frame for _, frame in seen] == [str(n).encode() for n in range(9)]


def test_a_frame_resent_to_every_replica_at_once_is_taken_once(make_log: LogFactory) -> None:
    logs = [make_log() for _ in range(6)]
    logs[0].declare(INFO)
    start = threading.Barrier(len(logs))
    taken: list[bool] = []

    def send(log: FrameLog) -> None:
        start.wait()
        taken.append(log.append(INFO.race_id, "timing", 41, b"{}", START).accepted)

    threads = [threading.Thread(target=send, args=(log,)) for log in logs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == [False] * 5 + [True]
    assert len(logs[0].since(INFO.race_id, START)) == 1


def test_an_unreachable_store_says_what_to_do() -> None:
    log = RedisFrameLog.connect("redis://127.0.0.1:1/0", timeout_s=0.5,
                                where="redis://127.0.0.1:1/0")
    hub = RaceHub(models=lambda _name: None, log=log)
    with pytest.raises(RaceStoreError) as caught:
        hub.declare(INFO)
    assert "redis://127.0.0.1:1/0" in str(caught.value)
    assert "COGNIRACE_REDIS_URL" in str(caught.value)
    with pytest.raises(RaceStoreError, match="resending a frame is safe"):
        log.append(INFO.race_id, "timing", 0, b"{}", START)
