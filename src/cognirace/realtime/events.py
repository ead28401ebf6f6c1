"""Events a strategist reads at a glance, and the log that keeps every one of them.

An event says what happened, to which car, on which lap and at what time, how much it
matters (``severity``), one plain sentence, and the numbers behind it (``data``). A
condition that holds lap after lap raises its event once: ``Latch`` keeps it quiet until
the condition has cleared, so the feed is not the same line thirty times.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("info", "warning", "critical")

CAUTION_START = "CAUTION_START"
CAUTION_END = "CAUTION_END"
FCY_RISK = "FCY_RISK"
PIT_WINDOW = "PIT_WINDOW"
LOW_FUEL = "LOW_FUEL"
TIRE_DEGRADATION = "TIRE_DEGRADATION"
ANOMALY = "ANOMALY"
PACE_DROP = "PACE_DROP"
POSITION_CHANGE = "POSITION_CHANGE"
STRATEGY = "STRATEGY"
TYPES = (CAUTION_START, CAUTION_END, FCY_RISK, PIT_WINDOW, LOW_FUEL, TIRE_DEGRADATION,
         ANOMALY, PACE_DROP, POSITION_CHANGE, STRATEGY)


@dataclass(frozen=True)
class Event:
    """One event; ``seq`` is its place in the race's log, from 1."""

    seq: int
    type: str
    severity: str
    car_number: str | None
    lap: int | None
    time: dt.datetime | None
    message: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "type": self.type, "severity": self.severity,
                "car_number": self.car_number, "lap": self.lap,
                "time": None if self.time is None else self.time.isoformat(),
                "message": self.message, "data": self.data}


@dataclass
class EventLog:
    """Every event of a race in order; nothing is dropped, so a client that reconnects
    resumes from the last ``seq`` it saw."""

    events: list[Event] = field(default_factory=list)

    def add(self, type_: str, severity: str, message: str, *, car_number: str | None = None,
            lap: int | None = None, time: dt.datetime | None = None,
            data: dict[str, Any] | None = None) -> Event:
        event = Event(len(self.events) + 1, type_, severity, car_number, lap, time, message,
                      data or {})
        self.events.append(event)
        return event

    def since(self, seq: int = 0, car_number: str | None = None) -> list[Event]:
        """Events after ``seq`` (the ``Last-Event-ID`` a client saw), optionally one car's."""
        tail = self.events[max(seq, 0):]
        return tail if car_number is None else [e for e in tail if e.car_number == car_number]


@dataclass
class Latch:
    """Raise once per episode: ``fire`` is true when a condition turns on, and stays
    false while it holds; ``clear`` (the condition off, past its lower threshold)
    arms it again."""

    on: set[tuple[str, str]] = field(default_factory=set)

    def fire(self, kind: str, key: str) -> bool:
        if (kind, key) in self.on:
            return False
        self.on.add((kind, key))
        return True

    def clear(self, kind: str, key: str) -> None:
        self.on.discard((kind, key))


__all__ = ["ANOMALY", "CAUTION_END", "CAUTION_START", "FCY_RISK", "LOW_FUEL", "PACE_DROP",
           "PIT_WINDOW", "POSITION_CHANGE", "SEVERITIES", "STRATEGY", "TIRE_DEGRADATION",
           "TYPES", "Event", "EventLog", "Latch"]
