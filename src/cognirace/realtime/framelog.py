"""A race's frames in one shared log, so several replicas of the service follow one race.

Event sourcing: a race's state is a pure fold of its accepted frames. The engine runs on
the stream's own clock and the models are deterministic, so every replica that applies
the same frames in the same order builds the same tower and raises the same events with
the same ``seq``. What replicas share is therefore not the state (a tower, feature
builders, latches: large, and awkward to serialise without pickle) but the log it is
folded from:

- the declaration, written once: the first ``PUT`` wins, as it does in one process;
- every accepted frame, in the order accepted. A frame whose ``seq`` is at or below the
  last accepted from its source is refused as a duplicate *in the same atomic step as
  the append*, so two replicas taking the same resent frame at once keep it once.

A replica appends a frame and, in that same round trip, gets back the entries after the
last one it applied (frames other replicas took, then its own); it applies them in
order and answers with its own frame's acknowledgement, which is therefore the same
whichever replica took the frame. Reads catch up first (one range read). A replica that
has never seen a race builds it from the declaration and the whole log, in batches.

``RedisFrameLog`` keeps the log in Redis: per race a declaration key, a hash of the last
``seq`` per source and a Stream of frames (field ``f``, the frame's JSON), the three keys
sharing a hash tag (``{race_id}``) so a Redis Cluster keeps them on one node; plus one
set of race ids. ``MemoryFrameLog`` keeps the same contract in process: two hubs on one
``MemoryFrameLog`` behave as two replicas on one Redis, so the replica logic is tested
without a server. Gaps in ``seq`` are counted by the engine's fold (``seq_gaps``), the one
place that rule lives; the log only keeps the last ``seq`` its dedupe needs.

Redis failures surface as ``RaceStoreError``: the frame may or may not have been taken,
and resending it is always safe (a frame taken already is acknowledged as a duplicate).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import orjson
import redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from cognirace.errors import CogniraceError, ConfigError, DataError
from cognirace.realtime.tower import Entry, RaceInfo

START = "0-0"
"""The position before a log's first entry: a replica that has applied nothing."""
DEFAULT_PREFIX = "cognirace:live:"
"""Namespace of the live races' keys in Redis (beside ``cognirace:cache:`` and ``:rl:``)."""
DEFAULT_BATCH = 64
"""Entries read per round trip when catching up; a telemetry frame of a full field is
about 150 kB, so a batch stays near 10 MB."""

LogEntry = tuple[str, bytes]
"""One accepted frame: its id in the log and its JSON."""

_T = TypeVar("_T")


class RaceStoreError(CogniraceError):
    """The shared race store (Redis) did not answer; nothing is known of the request's fate."""


@dataclass(frozen=True)
class Appended:
    """What the log answers to an append.

    Attributes:
        accepted: The frame was new and is now in the log; false for a duplicate.
        last_seq: The last ``seq`` accepted from the frame's source (this frame's when
            accepted).
        entry_id: The new entry's id when accepted.
        entries: Entries after the caller's position, oldest first (at most a batch; the
            caller reads on with ``since`` until it has passed ``entry_id``).
    """

    accepted: bool
    last_seq: int
    entry_id: str | None
    entries: tuple[LogEntry, ...]


class FrameLog(Protocol):
    """What a hub needs of a shared log; ``RedisFrameLog`` and ``MemoryFrameLog`` give it."""

    batch: int

    def declare(self, info: RaceInfo) -> tuple[RaceInfo, bool]:
        """Store ``info`` unless its race is declared; the stored one, and whether new."""
        ...

    def declaration(self, race_id: str) -> RaceInfo | None:
        """The race's stored declaration, or None when nobody declared it."""
        ...

    def race_ids(self) -> list[str]:
        """Every declared race, sorted."""
        ...

    def append(self, race_id: str, source: str, seq: int, frame: bytes,
               after: str) -> Appended:
        """Append ``frame`` unless ``seq`` is not above its source's last (one atomic step),
        and return the entries after ``after``."""
        ...

    def since(self, race_id: str, after: str) -> list[LogEntry]:
        """Up to ``batch`` entries after ``after``, oldest first."""
        ...

    def delete(self, race_id: str) -> None:
        """Forget the race: declaration, frames and seqs."""
        ...


# --- declarations as JSON -------------------------------------------------------------

def info_to_json(info: RaceInfo) -> bytes:
    """A declaration as JSON (times in ISO 8601), read back exactly by ``info_from_json``."""
    return orjson.dumps({
        "race_id": info.race_id, "track": info.track, "session": info.session,
        "start": None if info.start is None else info.start.isoformat(),
        "duration_s": info.duration_s,
        "entries": [{"car_number": e.car_number, "chassis": e.chassis, "team": e.team,
                     "vehicle_id": e.vehicle_id, "fuel_start_l": e.fuel_start_l,
                     "driver": e.driver}
                    for e in info.entries]})


def info_from_json(data: bytes) -> RaceInfo:
    """The declaration ``info_to_json`` wrote.

    Raises:
        DataError: The stored declaration is not one (written by something else).
    """
    try:
        raw: dict[str, Any] = orjson.loads(data)
        start = raw["start"]
        return RaceInfo(race_id=str(raw["race_id"]), track=str(raw["track"]),
                        session=str(raw["session"]),
                        start=None if start is None else dt.datetime.fromisoformat(start),
                        duration_s=float(raw["duration_s"]),
                        entries=tuple(Entry(**e) for e in raw["entries"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"a stored race declaration cannot be read: {exc}",
                        value=data[:80].decode("utf-8", "replace"),
                        hint="delete the race's keys in Redis and declare it again") from None


# --- in process -------------------------------------------------------------------------

@dataclass
class _MemoryRace:
    declared: bytes
    last_seq: dict[str, int] = field(default_factory=dict)
    frames: list[bytes] = field(default_factory=list)


@dataclass
class MemoryFrameLog:
    """The log in this process (see the module docstring); entry ``n`` has id ``"n-0"``."""

    batch: int = DEFAULT_BATCH
    _races: dict[str, _MemoryRace] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def declare(self, info: RaceInfo) -> tuple[RaceInfo, bool]:
        with self._lock:
            known = self._races.get(info.race_id)
            if known is not None:
                return info_from_json(known.declared), False
            self._races[info.race_id] = _MemoryRace(info_to_json(info))
            return info_from_json(self._races[info.race_id].declared), True

    def declaration(self, race_id: str) -> RaceInfo | None:
        with self._lock:
            known = self._races.get(race_id)
        return None if known is None else info_from_json(known.declared)

    def race_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._races)

    def append(self, race_id: str, source: str, seq: int, frame: bytes,
               after: str) -> Appended:
        with self._lock:
            race = self._race(race_id)
            last = race.last_seq.get(source)
            entry_id = None
            if last is None or seq > last:
                race.frames.append(frame)
                race.last_seq[source] = last = seq
                entry_id = f"{len(race.frames)}-0"
            return Appended(entry_id is not None, last, entry_id,
                            tuple(self._since(race, after)))

    def since(self, race_id: str, after: str) -> list[LogEntry]:
        with self._lock:
            return self._since(self._race(race_id), after)

    def delete(self, race_id: str) -> None:
        with self._lock:
            self._races.pop(race_id, None)

    def _race(self, race_id: str) -> _MemoryRace:
        race = self._races.get(race_id)
        if race is None:
            raise DataError(f"no race {race_id!r} in the log", value=race_id,
                            hint="declare it first")
        return race

    def _since(self, race: _MemoryRace, after: str) -> list[LogEntry]:
        start = int(after.split("-")[0])
        return [(f"{n}-0", race.frames[n - 1])
                for n in range(start + 1, min(len(race.frames), start + self.batch) + 1)]


# --- Redis ------------------------------------------------------------------------------

# KEYS[1] last seq per source (hash), KEYS[2] frames (stream). ARGV source, seq (decimal
# text), frame JSON, the caller's last entry id, batch. Seqs are compared as decimal text
# (length, then digits), so no seq loses precision in Lua's doubles. Returns accepted,
# last seq, the new entry's id (or ''), and the entries after the caller's position.
_APPEND = """
local function above(a, b)
  if #a ~= #b then return #a > #b end
  return a > b
end
local last = redis.call('HGET', KEYS[1], ARGV[1])
local accepted, id = 0, ''
if (not last) or above(ARGV[2], last) then
  id = redis.call('XADD', KEYS[2], '*', 'f', ARGV[3])
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  last, accepted = ARGV[2], 1
end
return {accepted, last, id,
        redis.call('XRANGE', KEYS[2], '(' .. ARGV[4], '+', 'COUNT', ARGV[5])}
"""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(reply: list[Any]) -> list[LogEntry]:
    """XRANGE's reply (from a client call or from the script) as ``(id, frame)`` pairs."""
    out = []
    for entry_id, fields in reply:
        # a client call gives a dict; the script a flat [field, value, ...] list
        frame = fields[b"f"] if isinstance(fields, dict) else fields[fields.index(b"f") + 1]
        out.append((_text(entry_id), bytes(frame)))
    return out


class RedisFrameLog:
    """The log in Redis, shared by every replica on the same server and prefix.

    Needs Redis 6.2 or later (exclusive ranges in XRANGE).

    Args:
        client: A synchronous ``redis.Redis`` with bytes replies (the hub runs in worker
            threads, one race at a time under its lock).
        prefix: Namespace of the keys; replicas of one service share it, tests take
            their own.
        batch: Entries read per round trip when catching up.
        where: The server as shown in messages (a URL without its password).
    """

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX,
                 batch: int = DEFAULT_BATCH, where: str = "Redis") -> None:
        if batch < 1:
            raise ConfigError("a catch-up batch holds at least one entry", value=batch)
        self.prefix, self.batch, self.where = prefix, batch, where
        self._client = client
        # EVALSHA, loading the script again when the server answers NOSCRIPT (a restart)
        self._append = client.register_script(_APPEND)

    @classmethod
    def connect(cls, url: str, *, prefix: str = DEFAULT_PREFIX, batch: int = DEFAULT_BATCH,
                timeout_s: float = 2.0, where: str | None = None) -> RedisFrameLog:
        """A log on the server at ``url`` (connected on first use).

        No automatic retry: a command whose reply was lost may have run, and the client's
        resend (deduplicated) is the safe retry, so the error goes straight back.

        Raises:
            ConfigError: ``url`` is not a Redis URL.
        """
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s,
                                          socket_timeout=timeout_s, health_check_interval=30,
                                          retry=Retry(NoBackoff(), 0))
        except ValueError as exc:
            raise ConfigError(f"COGNIRACE_REDIS_URL is not a Redis URL: {exc}",
                              hint="e.g. redis://localhost:6379/0") from None
        return cls(client, prefix=prefix, batch=batch, where=where or "Redis")

    def _keys(self, race_id: str) -> tuple[str, str, str]:
        base = f"{self.prefix}{{{race_id}}}:"
        return base + "declared", base + "seq", base + "frames"

    def _call(self, what: str, call: Callable[[], _T]) -> _T:
        try:
            return call()
        except (RedisError, OSError) as exc:
            raise RaceStoreError(
                f"the race store ({self.where}) failed to {what}: {exc}",
                hint="check that Redis runs and COGNIRACE_REDIS_URL points at it; resending "
                     "a frame is safe (one taken already is acknowledged as a duplicate)"
            ) from exc

    def declare(self, info: RaceInfo) -> tuple[RaceInfo, bool]:
        declared = self._keys(info.race_id)[0]

        def run() -> list[Any]:
            pipe = self._client.pipeline(transaction=False)
            pipe.set(declared, info_to_json(info), nx=True)
            pipe.sadd(self.prefix + "races", info.race_id)
            pipe.get(declared)
            return pipe.execute()

        new, _, stored = self._call("declare a race", run)
        return info_from_json(stored), bool(new)

    def declaration(self, race_id: str) -> RaceInfo | None:
        stored = self._call("read a race", lambda: self._client.get(self._keys(race_id)[0]))
        return None if stored is None else info_from_json(bytes(stored))  # type: ignore[arg-type]

    def race_ids(self) -> list[str]:
        found = self._call("list races", lambda: self._client.smembers(self.prefix + "races"))
        return sorted(_text(r) for r in found)

    def append(self, race_id: str, source: str, seq: int, frame: bytes,
               after: str) -> Appended:
        _, seqs, frames = self._keys(race_id)
        accepted, last, entry_id, entries = self._call("take a frame", lambda: self._append(
            keys=[seqs, frames], args=[source, str(seq), frame, after, self.batch]))
        return Appended(int(accepted) == 1, int(last), _text(entry_id) or None,
                        tuple(_entries(entries)))

    def since(self, race_id: str, after: str) -> list[LogEntry]:
        frames = self._keys(race_id)[2]
        reply = self._call("read frames", lambda: self._client.xrange(
            frames, f"({after}", "+", count=self.batch))
        return _entries(reply)  # type: ignore[arg-type]

    def delete(self, race_id: str) -> None:
        def run() -> None:
            pipe = self._client.pipeline(transaction=False)
            pipe.delete(*self._keys(race_id))
            pipe.srem(self.prefix + "races", race_id)
            pipe.execute()

        self._call("delete a race", run)

    def close(self) -> None:
        """Release the client's connections."""
        self._client.close()


__all__ = ["DEFAULT_BATCH", "DEFAULT_PREFIX", "START", "Appended", "FrameLog", "LogEntry",
           "MemoryFrameLog", "RaceStoreError", "RedisFrameLog", "info_from_json",
           "info_to_json"]
