"""The races a worker follows, each behind its own lock.

Frames of one race are applied one at a time (a race's state moves in order), while
other races go on in parallel. Readers of a race wait for the frame being applied, so
a tower never shows half a frame. Listeners (a WebSocket, a server-sent events stream)
are woken after each frame to send the new events.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from cognirace.errors import DataError
from cognirace.realtime.engine import Ack, Models, RaceEngine
from cognirace.realtime.frames import ClockOffsets, Frame, parse_frame
from cognirace.realtime.tower import RaceInfo


@dataclass
class LiveRace:
    """One race: its engine, the lock that orders its frames, its loggers' clocks."""

    engine: RaceEngine
    lock: threading.Lock = field(default_factory=threading.Lock)
    clocks: ClockOffsets = field(default_factory=ClockOffsets)
    changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def apply(self, body: object) -> Ack:
        """Check and apply one frame's JSON; wakes the race's listeners.

        Raises:
            FrameError: The frame is malformed (nothing of it is applied).
        """
        with self.lock:
            frame: Frame = parse_frame(body, self.clocks)
            ack = self.engine.apply(frame)
            self.changed.notify_all()
            return ack


@dataclass
class RaceHub:
    """Every race this worker follows, by id."""

    models: Models
    races: dict[str, LiveRace] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def declare(self, info: RaceInfo) -> tuple[LiveRace, bool]:
        """Open ``info``'s race, or return it as it is when declared before with the same
        track and session; returns the race and whether it is new.

        Raises:
            DataError: The id is taken by a race at another track or session.
        """
        with self._lock:
            known = self.races.get(info.race_id)
            if known is not None:
                was = known.engine.info
                if (was.track, was.session) != (info.track, info.session):
                    raise DataError(f"race {info.race_id!r} is already declared at "
                                    f"{was.track} {was.session}", value=info.race_id,
                                    hint="use another race id for another race")
                return known, False
            race = self.races[info.race_id] = LiveRace(RaceEngine(info, self.models))
            return race, True

    def get(self, race_id: str) -> LiveRace | None:
        return self.races.get(race_id)

    def ids(self) -> list[str]:
        return sorted(self.races)

    def read(self, race_id: str, reader: Callable[[RaceEngine], object]) -> object:
        """Run ``reader`` on a race's engine between frames."""
        race = self.races[race_id]
        with race.lock:
            return reader(race.engine)


__all__ = ["LiveRace", "RaceHub"]
