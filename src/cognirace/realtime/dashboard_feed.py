"""What a race's dashboards are sent: its discrete messages, kept in order, and its ticks.

One ``DashboardFeed`` per race watches every frame the race applies (a ``FrameObserver``
of ``LiveRace``, so under the race's lock, in the order the engine took them) and turns
what changed into messages, each with the race's next ``seq``:

- **discrete** messages, which a dashboard must never miss: ``lap`` (a car's crossing,
  its times and the laptime model's P10-P90 of its next lap), ``event`` (the engine's
  events), ``flag`` (the track status changed), ``strategy`` (a watched car's advice was
  made again), ``track`` (the outline, once drawn) and ``health`` (the stream's counts
  and the engine's time per frame, at most every ``HEALTH_EVERY_S``). They are encoded
  once and kept (the last ``MAX_MESSAGES``), so a dashboard that reconnects gets every
  one after the last ``seq`` it had;
- **ticks**: the race's clock and status and every car's row as they stand, made at most
  every ``TICK_EVERY_S`` of wall time while frames arrive. A tick supersedes the one
  before, so none is kept: each connection sends the rows changed since its own last
  tick (``dashboard_stream``), which merges ticks for a slow reader.

``seq`` comes from one counter per race, taken under the race's lock, so a message made
after another always has a larger ``seq``. The feed also keeps each car's lap traces
(``lap_traces``) for the traces panel and draws the track's outline from GPS.
"""

from __future__ import annotations

import bisect
import math
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from cognirace.realtime.engine import RaceEngine
from cognirace.realtime.frames import Frame
from cognirace.realtime.hub import LiveRace
from cognirace.realtime.lap_traces import LapTraces, TrackOutlines
from cognirace.realtime.tower import CarState, RaceInfo

TICK_EVERY_S = 0.1
"""Least wall time between two ticks of a race, s (at most 10 a second)."""
HEALTH_EVERY_S = 2.0
"""Least wall time between two health messages, s."""
MAX_MESSAGES = 50_000
"""Discrete messages kept per race (a 45-minute race of 25 cars makes about 2,000)."""
SPEED_WINDOW_S = 3.0
"""Wall time over which the replay speed (race clock per wall second) is measured, s."""
LATENCIES = 256
"""Frames whose apply time the health message summarises."""


def _r(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


def car_row(car: CarState, closing: bool) -> dict[str, Any]:
    """A car as the tower and the map show it (units in the names).

    ``driver`` and ``team`` come from the entry list, which a lake race fills from its
    timing files: the full layout (Indianapolis's, and some provisional results) names
    drivers and teams, the anonymized one most tracks publish names neither.
    ``chassis`` is sent too, so the tower can still tell the car apart when no name is
    known."""
    places = (None if car.start_position is None or car.position is None
              else car.start_position - car.position)
    return {"car_number": car.car_number, "position": car.position, "laps": car.laps,
            "team": car.team, "driver": car.driver, "chassis": car.chassis,
            "gap_s": _r(car.gap_s),
            "laps_down": car.laps_down,
            "interval_s": _r(car.interval_s), "closing": closing,
            "last_lap_s": _r(car.last_lap_s), "best_lap_s": _r(car.best_lap_s),
            "sectors_s": [_r(s) for s in car.sectors_s], "tire_age_laps": car.tire_age_laps,
            "stint": car.stint, "fuel_left_l": _r(car.fuel_left_l, 2), "stops": car.stops,
            "in_pit": car.in_pit, "places_gained": places,
            "lap_dist_m": _r(car.lap_dist_m, 1), "speed_kph": _r(car.speed_kph, 1),
            "lat": _r(car.lat, 6), "lon": _r(car.lon, 6)}


@dataclass(frozen=True)
class Tick:
    """The race as it stood at ``seq``: its header and every car's row by number."""

    seq: int
    at_ms: int
    race: dict[str, Any]
    cars: dict[str, dict[str, Any]]


@dataclass
class DashboardFeed:
    """A race's dashboard messages (see the module docstring).

    Args:
        info: The race.
        outlines: The process's track outlines (drawn once per track).
        clock: Wall clock for the tick and health rates, s (monotonic).
        wall: Epoch clock for the messages' ``at_ms`` (a page measures data age by it).
    """

    info: RaceInfo
    outlines: TrackOutlines
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    max_messages: int = MAX_MESSAGES
    seq: int = 0
    traces: LapTraces = field(init=False)
    _log: list[tuple[int, bytes]] = field(default_factory=list)
    _events_seen: int = 0
    _flag: str | None = None
    _strategies: dict[str, dict[str, Any]] = field(default_factory=dict)
    _intervals: dict[str, float | None] = field(default_factory=dict)
    _closing: dict[str, bool] = field(default_factory=dict)
    _apply_s: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCIES))
    _health_at: float = -math.inf
    _tick: Tick | None = None
    _tick_at: float = -math.inf
    _tick_frames: int = -1
    _speed: deque[tuple[float, float]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.traces = LapTraces(self.info.track)

    # --- messages ---------------------------------------------------------------

    def _add(self, kind: str, body: dict[str, Any]) -> None:
        self.seq += 1
        data = orjson.dumps({"type": kind, "seq": self.seq,
                             "at_ms": int(self.wall() * 1000), **body})
        self._log.append((self.seq, data))
        if len(self._log) > self.max_messages * 5 // 4:
            self._log = self._log[-self.max_messages:]

    def since(self, seq: int) -> list[tuple[int, bytes]]:
        """The discrete messages after ``seq``, in order (what is still kept)."""
        log = self._log
        return log[bisect.bisect_right(log, seq, key=lambda m: m[0]):]

    @property
    def first_kept(self) -> int:
        """``seq`` of the oldest message kept (a resume from before it misses some)."""
        return self._log[0][0] if self._log else self.seq + 1

    # --- the observer -----------------------------------------------------------

    def __call__(self, engine: RaceEngine, frame: Frame, seconds: float) -> None:
        """Turn what the frame changed into messages (a ``FrameObserver``)."""
        self._apply_s.append(seconds)
        now = self.clock()
        self._speed.append((now, _epoch(engine)))
        while len(self._speed) > 2 and now - self._speed[0][0] > SPEED_WINDOW_S:
            self._speed.popleft()
        self.traces.add(frame.samples)
        if engine.tower.flag != self._flag:
            self._flag = engine.tower.flag
            self._add("flag", {"flag": engine.tower.flag, "source": engine.tower.flag_source,
                               "lap": engine.tower.leader_laps,
                               "clock": _iso(engine)})
        for row in frame.crossings:
            self._lap(engine, row)
        for event in engine.log.events[self._events_seen:]:
            self._add("event", {"event": event.to_json()})
        self._events_seen = len(engine.log.events)
        for car in engine.tower.cars.values():
            strategy = car.predictions.get("strategy")
            if strategy is not None and self._strategies.get(car.car_number) is not strategy:
                self._strategies[car.car_number] = strategy
                self._add("strategy", {"car_number": car.car_number, "strategy": strategy})
        if now - self._health_at >= HEALTH_EVERY_S:
            self._health_at = now
            self._add("health", self.health(engine))

    def _lap(self, engine: RaceEngine, row: dict[str, Any]) -> None:
        number = str(row["car_number"])
        car = engine.tower.cars.get(number)
        if car is None:
            return
        before = self._intervals.get(number)
        self._closing[number] = (before is not None and car.interval_s is not None
                                 and car.interval_s < before)
        self._intervals[number] = car.interval_s
        trace = self.traces.close(number, row.get("vehicle_id") or car.vehicle_id,
                                  int(row["lap"]), row["lap_end"], row.get("lap_time_s"))
        clean = (trace is not None and row.get("flag") in (None, "GF")
                 and not row.get("in_pit") and int(row["lap"]) > 1)
        if clean and trace is not None and self.outlines.get(self.info.track) is None:
            outline = self.outlines.offer(self.info.track, trace, self.traces.length_m)
            if outline is not None:
                self._add("track", {"outline": outline.to_json()})
        laptime = car.predictions.get("laptime")
        self._add("lap", {
            "car_number": number, "lap": int(row["lap"]), "lap_time_s": _r(row.get("lap_time_s")),
            "sectors_s": [_r(row.get(k)) for k in ("s1_s", "s2_s", "s3_s")],
            "flag": row.get("flag"), "in_pit": bool(row.get("in_pit")),
            "position": car.position, "trace": trace is not None,
            "next_lap": None if laptime is None else {
                k: _r(laptime.get(f"lap_time_{k}_s")) for k in ("p10", "p50", "p90")}})

    def health(self, engine: RaceEngine) -> dict[str, Any]:
        """The stream's counts and the engine's time per frame (ms, recent frames)."""
        times = sorted(self._apply_s)
        p99 = times[min(len(times) - 1, math.ceil(0.99 * len(times)) - 1)] if times else None
        return {"frames": engine.frames_applied, "samples": engine.samples_applied,
                "seq_gaps": engine.seq_gaps, "events": len(engine.log.events),
                "model_skips": dict(engine.model_skips),
                "apply_ms_p50": _r(statistics.median(times) * 1e3 if times else None, 2),
                "apply_ms_p99": _r(p99 * 1e3 if p99 is not None else None, 2),
                "held_trace_rows": self.traces.held_rows()}

    # --- ticks and snapshots ----------------------------------------------------

    def state(self, engine: RaceEngine) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """The race's header and every car's row as they stand."""
        tower = engine.tower
        leader = min(tower.cars.values(), key=lambda c: c.position or 10**6, default=None)
        lap_s = None if leader is None else (
            (leader.predictions.get("laptime") or {}).get("lap_time_p50_s") or leader.best_lap_s)
        left = tower.time_left_s
        fcy = engine.predictions.get("fcy")
        race = {"clock": _iso(engine), "lap": tower.leader_laps, "flag": tower.flag,
                "flag_source": tower.flag_source, "time_left_s": _r(left, 1),
                "laps_left": None if left is None or not lap_s else math.ceil(left / lap_s),
                "speed_x": _r(self._replay_speed(), 1), "frames": engine.frames_applied,
                "fcy_hazard": None if fcy is None else [
                    _r(fcy.get(f"p_fcy_start_{k}"), 4) for k in range(1, 7)]}
        cars = {c.car_number: car_row(c, self._closing.get(c.car_number, False))
                for c in tower.cars.values()}
        return race, cars

    def tick_due(self, engine: RaceEngine) -> bool:
        """Whether a new tick would be made now (read without the race's lock)."""
        return (engine.frames_applied != self._tick_frames
                and self.clock() - self._tick_at >= TICK_EVERY_S)

    @property
    def latest_tick(self) -> Tick | None:
        return self._tick

    def tick(self, engine: RaceEngine) -> Tick | None:
        """The race's latest tick, made anew when due and the race moved (call it under
        the race's lock, as ``LiveRace.read`` does); None before the first."""
        now = self.clock()
        if now - self._tick_at >= TICK_EVERY_S and engine.frames_applied != self._tick_frames:
            race, cars = self.state(engine)
            self.seq += 1
            self._tick = Tick(self.seq, int(self.wall() * 1000), race, cars)
            self._tick_at, self._tick_frames = now, engine.frames_applied
        return self._tick

    def snapshot(self, engine: RaceEngine, extra: dict[str, Any]) -> dict[str, Any]:
        """Everything a page draws from, current to ``seq`` (plus ``extra``: what the
        service adds, such as the models' versions)."""
        race, cars = self.state(engine)
        outline = self.outlines.get(self.info.track)
        strategy = {c.car_number: c.predictions["strategy"]
                    for c in engine.tower.cars.values() if "strategy" in c.predictions}
        return {"type": "snapshot", "seq": self.seq, "at_ms": int(self.wall() * 1000),
                "race_id": self.info.race_id, "track": self.info.track,
                "session": self.info.session, "duration_s": self.info.duration_s,
                "length_m": self.traces.length_m or None,
                "watched": [e.car_number for e in self.info.entries if e.watch],
                "race": race, "cars": list(cars.values()), "strategy": strategy,
                "outline": None if outline is None else outline.to_json(),
                "health": self.health(engine), **extra}

    def _replay_speed(self) -> float | None:
        if len(self._speed) < 2:
            return None
        (wall_0, race_0), (wall_1, race_1) = self._speed[0], self._speed[-1]
        if wall_1 - wall_0 < 0.5 or math.isnan(race_0) or math.isnan(race_1):
            return None
        return (race_1 - race_0) / (wall_1 - wall_0)


def _iso(engine: RaceEngine) -> str | None:
    clock = engine.tower.clock
    return None if clock is None else clock.isoformat()


def _epoch(engine: RaceEngine) -> float:
    clock = engine.tower.clock
    return math.nan if clock is None else clock.timestamp()


@dataclass
class DashboardFeeds:
    """Every race's feed in this worker, and the track outlines they share."""

    outlines: TrackOutlines = field(default_factory=TrackOutlines)
    feeds: dict[str, DashboardFeed] = field(default_factory=dict)

    def attach(self, race: LiveRace) -> None:
        """Follow a race from its first frame (``RaceHub.on_race``)."""
        feed = DashboardFeed(race.engine.info, self.outlines)
        self.feeds[race.engine.info.race_id] = feed
        race.observers.append(feed)

    def get(self, race_id: str) -> DashboardFeed | None:
        return self.feeds.get(race_id)


__all__ = ["HEALTH_EVERY_S", "MAX_MESSAGES", "TICK_EVERY_S", "DashboardFeed", "DashboardFeeds",
           "Tick", "car_row"]
