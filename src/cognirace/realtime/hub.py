"""The races a worker follows, each behind its own lock, alone or with other replicas.

Frames of one race are applied one at a time (a race's state moves in order), while
other races go on in parallel. Readers of a race wait for the frame being applied, so
a tower never shows half a frame. Listeners (a WebSocket, a server-sent events stream)
are woken after each frame to send the new events.

Alone (no ``log``), a frame is checked and applied here, as it arrives. With a shared
``FrameLog`` (Redis), the race is a fold of the log (see ``framelog``): a frame is
checked, appended (its ``seq`` deduplicated in the same atomic step), and the replica
applies every entry after the last it applied, other replicas' frames first, up to and
including its own. Reads catch up first. Either way a frame changes nothing unless it
is accepted: a malformed frame or a duplicate leaves even the loggers' clocks as they
were, so one process and several replicas fold the same frames into the same race.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import orjson

from cognirace.errors import CogniraceError, DataError
from cognirace.realtime.engine import Ack, Models, RaceEngine
from cognirace.realtime.framelog import START, Appended, FrameLog, LogEntry
from cognirace.realtime.frames import ClockOffsets, Frame, FrameError, parse_frame
from cognirace.realtime.tower import RaceInfo

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

FrameObserver = Callable[[RaceEngine, Frame, float], None]
"""Told of each frame a race applied (not a duplicate), under the race's lock: the
engine, the frame, and the seconds ``RaceEngine.apply`` took. A dashboard's feed is one."""


def _copy(clocks: ClockOffsets) -> ClockOffsets:
    return ClockOffsets(dict(clocks.offsets))


@dataclass
class LiveRace:
    """One race: its engine, the lock that orders its frames, its loggers' clocks, and
    (with replicas) the shared log and the last entry of it applied here."""

    engine: RaceEngine
    lock: threading.Lock = field(default_factory=threading.Lock)
    clocks: ClockOffsets = field(default_factory=ClockOffsets)
    log: FrameLog | None = None
    applied_id: str = START
    frames_failed: int = 0
    """Entries of the log the engine refused (a ``CogniraceError``), on every replica alike."""
    observers: list[FrameObserver] = field(default_factory=list)
    """Told of every frame applied here, in order (``FrameObserver``)."""
    changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def apply(self, body: object) -> Ack:
        """Check and apply one frame's JSON; wakes the race's listeners.

        Raises:
            FrameError: The frame is malformed (nothing of it is applied or stored).
            RaceStoreError: The shared log failed; resending the frame is safe.
        """
        with self.lock:
            clocks = _copy(self.clocks)  # a frame refused must not move the clocks
            frame: Frame = parse_frame(body, clocks)
            if self.log is None:
                ack = self._engine_apply(frame)
                if not ack.duplicate:
                    self.clocks = clocks
            else:
                ack = self._append(self.log, frame, body, clocks)
            self.changed.notify_all()
            return ack

    def _append(self, shared: FrameLog, frame: Frame, body: object,
                clocks: ClockOffsets) -> Ack:
        """Append to the log, then fold every entry after ours-so-far up to our own."""
        try:
            stored = orjson.dumps(body)
        except TypeError as exc:
            raise FrameError(f"the frame cannot be stored as JSON: {exc}",
                             hint="send JSON values only") from None
        before = dict(self.clocks.offsets)
        race_id = self.engine.info.race_id
        appended: Appended = shared.append(race_id, frame.source, frame.seq, stored,
                                           self.applied_id)
        own: Ack | None = None
        failed: CogniraceError | None = None
        entries: list[LogEntry] = list(appended.entries)
        while entries:
            for entry_id, data in entries:
                mine = entry_id == appended.entry_id
                # the frame was parsed on the clocks as they were: reuse it unless the
                # entries before it moved them (long rows from the same logger)
                reuse = mine and self.clocks.offsets == before
                if reuse:
                    self.clocks = clocks
                try:
                    ack = self._fold(entry_id, frame if reuse else None, data)
                except CogniraceError as exc:
                    failed = exc if mine else failed
                    continue
                own = ack if mine else own
            if len(entries) < shared.batch:
                break
            entries = shared.since(race_id, self.applied_id)
        if failed is not None:
            raise failed
        if not appended.accepted:
            return Ack(frame.source, appended.last_seq, duplicate=True)
        if own is None:  # the log lost our entry (deleted under us)
            raise DataError(f"frame {frame.seq} of {frame.source!r} was taken but is no "
                            f"longer in race {race_id!r}'s log",
                            hint="declare the race again and resend its frames")
        return own

    def _fold(self, entry_id: str, frame: Frame | None, data: bytes) -> Ack:
        """Apply one entry of the log; the position moves past it even if it fails, as
        on every other replica (a failing entry fails everywhere: the fold is pure)."""
        self.applied_id = entry_id
        try:
            if frame is None:
                frame = parse_frame(orjson.loads(data), self.clocks)
            return self._engine_apply(frame)
        except CogniraceError as exc:
            self.frames_failed += 1
            logger.warning("race %s: entry %s of the log was refused: %s",
                           self.engine.info.race_id, entry_id, exc)
            raise

    def _engine_apply(self, frame: Frame) -> Ack:
        """The engine's ``apply``, then the observers of a frame it took; an observer
        that fails is logged and never fails the frame (the race's state is the engine's)."""
        started = time.perf_counter()
        ack = self.engine.apply(frame)
        if not ack.duplicate:
            seconds = time.perf_counter() - started
            for observer in self.observers:
                try:
                    observer(self.engine, frame, seconds)
                except Exception:
                    logger.exception("race %s: an observer failed on frame %s",
                                     self.engine.info.race_id, frame.seq)
        return ack

    def catch_up(self, *, wait: bool = True) -> int:
        """Apply the log's entries this replica has not applied yet (none when alone);
        returns how many.

        Args:
            wait: Wait for a frame being applied. An events listener passes False: the
                frame under way catches up anyway, and listeners never pile up on the lock.
        """
        if self.log is None or not self.lock.acquire(blocking=wait):
            return 0
        try:
            done = self._catch_up()
            if done:
                self.changed.notify_all()
            return done
        finally:
            self.lock.release()

    def _catch_up(self) -> int:
        assert self.log is not None
        done = 0
        while True:
            entries = self.log.since(self.engine.info.race_id, self.applied_id)
            for entry_id, data in entries:
                with contextlib.suppress(CogniraceError):  # counted and logged in _fold
                    self._fold(entry_id, None, data)
                done += 1
            if len(entries) < self.log.batch:
                return done

    def read(self, reader: Callable[[RaceEngine], _T]) -> _T:
        """Run ``reader`` on the engine between frames, caught up with the log first."""
        with self.lock:
            if self.log is not None and self._catch_up():
                self.changed.notify_all()
            return reader(self.engine)


@dataclass
class RaceHub:
    """Every race this worker follows, by id; with ``log``, every race of the shared log.

    Args:
        models: The production model of a task by name.
        log: The log shared with other replicas (``RedisFrameLog``); None keeps races in
            this process alone.
        on_race: Told of each race as this worker first follows it, so an observer
            (``LiveRace.observers``) sees every frame from the first.
    """

    models: Models
    log: FrameLog | None = None
    on_race: Callable[[LiveRace], None] | None = None
    races: dict[str, LiveRace] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def declare(self, info: RaceInfo) -> tuple[LiveRace, bool]:
        """Open ``info``'s race, or return it as it is when declared before with the same
        track and session; returns the race and whether it is new.

        Raises:
            DataError: The id is taken by a race at another track or session.
            RaceStoreError: The shared log failed.
        """
        if self.log is not None:
            stored, new = self.log.declare(info)
            _same_race(stored, info)
            return self._local(stored), new
        with self._lock:
            known = self.races.get(info.race_id)
            if known is not None:
                _same_race(known.engine.info, info)
                return known, False
            race = self.races[info.race_id] = self._new(LiveRace(RaceEngine(info, self.models)))
            return race, True

    def _local(self, info: RaceInfo) -> LiveRace:
        """This replica's copy of a shared race, made from its declaration on first sight
        (it catches up with the log on its first read or frame)."""
        with self._lock:
            race = self.races.get(info.race_id)
            if race is None:
                race = self.races[info.race_id] = self._new(
                    LiveRace(RaceEngine(info, self.models), log=self.log))
            return race

    def _new(self, race: LiveRace) -> LiveRace:
        if self.on_race is not None:
            self.on_race(race)
        return race

    def get(self, race_id: str) -> LiveRace | None:
        """The race, or None when nobody declared it (with a log: on any replica).

        Raises:
            RaceStoreError: The shared log failed.
        """
        race = self.races.get(race_id)
        if race is None and self.log is not None:
            info = self.log.declaration(race_id)
            race = None if info is None else self._local(info)
        return race

    def ids(self) -> list[str]:
        """Every race followed, sorted (with a log: declared on any replica)."""
        return self.log.race_ids() if self.log is not None else sorted(self.races)

    def read(self, race_id: str, reader: Callable[[RaceEngine], _T]) -> _T:
        """Run ``reader`` on a race's engine between frames, caught up first.

        Raises:
            KeyError: No such race.
        """
        race = self.get(race_id)
        if race is None:
            raise KeyError(race_id)
        return race.read(reader)


def _same_race(was: RaceInfo, info: RaceInfo) -> None:
    if (was.track, was.session) != (info.track, info.session):
        raise DataError(f"race {info.race_id!r} is already declared at "
                        f"{was.track} {was.session}", value=info.race_id,
                        hint="use another race id for another race")


__all__ = ["FrameObserver", "LiveRace", "RaceHub"]
