"""One page's stream of one race: the messages it missed, a snapshot, then what changes.

A page connects with the ``seq`` of the last message it has (``after``; 0 the first
time). It gets, in ``seq`` order:

1. every discrete message after ``after`` still kept (the whole race's laps and events
   on a first connect; what it missed while away on a reconnect);
2. a ``snapshot``, the race as it stands, current to the ``seq`` it carries (it has no
   ``seq`` of its own: it is never missed, since every connect starts with one), with
   ``missed: true`` when messages after ``after`` were no longer kept;
3. then, as the race moves, discrete messages and ticks in ``seq`` order, each tick with
   only the cars whose row changed since the last one this page was sent. A page that
   reads slowly is sent the newest tick when it reads again: the ticks in between merge
   (the latest value of each car wins), while discrete messages all arrive.

So ``seq`` never goes back on a page, across reconnects too.
"""

from __future__ import annotations

from typing import Any

import orjson

from cognirace.realtime.dashboard_feed import DashboardFeed, Tick
from cognirace.realtime.engine import RaceEngine


class DashboardStream:
    """What one page has been sent, and what it is owed next.

    Args:
        feed: The race's feed.
        after: ``seq`` of the last message the page has (0: none).
    """

    def __init__(self, feed: DashboardFeed, after: int = 0) -> None:
        if after < 0:
            raise ValueError("after is the seq of the last message a page has, at least 0")
        self.feed = feed
        self.after = after
        self.cursor = after
        """``seq`` of the last message sent (or the snapshot's)."""
        self._rows: dict[str, dict[str, Any]] = {}
        self._tick_seq = 0

    def open(self, engine: RaceEngine, extra: dict[str, Any] | None = None) -> list[bytes]:
        """The messages missed and the snapshot (call under the race's lock)."""
        backlog = self.feed.since(self.after)
        missed = self.after > 0 and self.after + 1 < self.feed.first_kept
        snapshot = self.feed.snapshot(engine, {**(extra or {}), "after": self.after,
                                               "missed": missed})
        self.cursor = self._tick_seq = snapshot["seq"]
        self._rows = {row["car_number"]: row for row in snapshot["cars"]}
        return [data for _, data in backlog] + [orjson.dumps(snapshot)]

    def poll(self, tick: Tick | None) -> list[bytes]:
        """What is owed now: the discrete messages after the cursor, with the newest tick
        in its place by ``seq`` when it is newer than the last this page had."""
        discrete = self.feed.since(self.cursor)
        if discrete:
            self.cursor = discrete[-1][0]
        if tick is None or tick.seq <= self._tick_seq:
            return [data for _, data in discrete]
        self._tick_seq = tick.seq
        self.cursor = max(self.cursor, tick.seq)
        changed = [row for number, row in tick.cars.items() if self._rows.get(number) != row]
        self._rows.update((row["car_number"], row) for row in changed)
        message = orjson.dumps({"type": "tick", "seq": tick.seq, "at_ms": tick.at_ms,
                                "race": tick.race, "cars": changed})
        return ([data for seq, data in discrete if seq < tick.seq] + [message]
                + [data for seq, data in discrete if seq > tick.seq])


__all__ = ["DashboardStream"]
