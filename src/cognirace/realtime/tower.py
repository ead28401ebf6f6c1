"""The timing tower of one race, kept up to date from lap crossings, flags and samples.

Everything here runs on the stream's own clock (the times in the frames), never on the
wall clock, so a replay at any speed builds the same tower as the race did. Order is the
timing's: more laps first, then the earlier crossing of the last lap. The gap to the
leader is taken at the car's last crossing against the first crossing of that lap, so
a lapped car reads in laps (``laps_down``) and an interval in seconds is given only
between cars on the same lap.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from cognirace.features.car_history import PIT_TRANSIT_S, TIRE_CHANGE_MIN_STATIONARY_S
from cognirace.features.field import RACE_DURATION_S

_LOGGER_ID = re.compile(r"^GR86-\d+-(\d+)$")
"""A logger's id, ``GR86-<chassis>-<number>``."""
PACE_WINDOW = 5
"""Green laps in a car's pace trend (least-squares slope over them, s per lap)."""
CAUTION_PACE_RATIO = 1.25
"""A lap this much slower than the car's best green lap reads as a caution lap when no
flags arrive; the field is under caution when most cars' last laps read so."""


TOWER_CHANNELS = ("lap_dist_m", "speed_kph", "lat", "lon")
"""What the tower keeps of a car's newest sample (where it is, how fast)."""

@dataclass(frozen=True)
class Entry:
    """One car of the entry list; ``car_number`` is text (``"021"`` is not ``"21"``)."""

    car_number: str
    chassis: str | None = None
    team: str | None = None
    vehicle_id: str | None = None
    fuel_start_l: float | None = None
    driver: str | None = None
    """The driver's name where the timing files give one (the full layout's)."""
    watch: bool = False
    """Run the pit strategy for this car on every leader lap (STRATEGY events)."""


@dataclass(frozen=True)
class RaceInfo:
    """What ``PUT /v1/races/{race_id}`` declares."""

    race_id: str
    track: str
    session: str = "R1"
    start: dt.datetime | None = None
    duration_s: float = RACE_DURATION_S
    entries: tuple[Entry, ...] = ()


@dataclass
class CarState:
    """One car as the tower shows it."""

    car_number: str
    vehicle_id: str | None = None
    chassis: str | None = None
    team: str | None = None
    driver: str | None = None
    laps: int = 0
    last_crossing: dt.datetime | None = None
    last_lap_s: float | None = None
    best_lap_s: float | None = None
    sectors_s: tuple[float | None, float | None, float | None] = (None, None, None)
    stint: int = 1
    tire_age_laps: int = 0
    stops: int = 0
    in_pit: bool = False
    tire_change: bool = False
    fuel_start_l: float | None = None
    fuel_used_l: float = 0.0
    start_position: int | None = None
    position: int | None = None
    gap_s: float | None = None
    laps_down: int = 0
    interval_s: float | None = None
    lap_dist_m: float | None = None
    speed_kph: float | None = None
    lat: float | None = None
    lon: float | None = None
    last_sample: dt.datetime | None = None
    green_laps: deque[float] = field(default_factory=lambda: deque(maxlen=PACE_WINDOW))
    predictions: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def fuel_left_l(self) -> float | None:
        """Fuel left: the start fill (from the entry list) less what the fuel model says
        the laps burned; unknown without a start fill, never guessed."""
        return None if self.fuel_start_l is None else self.fuel_start_l - self.fuel_used_l

    @property
    def pace_trend_s_per_lap(self) -> float | None:
        """Slope of the last green laps, s per lap; positive is slowing."""
        n = len(self.green_laps)
        if n < 3:
            return None
        mean_x, mean_y = (n - 1) / 2, sum(self.green_laps) / n
        num = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(self.green_laps))
        den = sum((i - mean_x) ** 2 for i in range(n))
        return num / den

    def to_json(self) -> dict[str, Any]:
        """The tower's row: the contract's fields first, then the rest."""
        return {
            "car_number": self.car_number, "position": self.position, "laps": self.laps,
            "gap_s": self.gap_s, "laps_down": self.laps_down, "interval_s": self.interval_s,
            "last_lap_s": self.last_lap_s, "best_lap_s": self.best_lap_s,
            "sectors_s": list(self.sectors_s), "tire_age_laps": self.tire_age_laps,
            "stint": self.stint, "fuel_left_l": self.fuel_left_l,
            "fuel_used_l": round(self.fuel_used_l, 3), "stops": self.stops,
            "in_pit": self.in_pit, "start_position": self.start_position,
            "places_gained": (None if self.start_position is None or self.position is None
                              else self.start_position - self.position),
            "pace_trend_s_per_lap": self.pace_trend_s_per_lap,
            "vehicle_id": self.vehicle_id, "team": self.team, "driver": self.driver,
            "chassis": self.chassis,
            "lap_dist_m": self.lap_dist_m, "speed_kph": self.speed_kph,
            "lat": self.lat, "lon": self.lon,
        }


@dataclass
class Tower:
    """The race's state: cars, flag and clock."""

    info: RaceInfo
    cars: dict[str, CarState] = field(default_factory=dict)
    flag: str = "GF"
    flag_source: str = "none"
    """Where ``flag`` came from: ``flags`` (a flag row), ``laps`` (the timing's flag on a
    crossing), ``pace`` (inferred from the field's pace) or ``none``."""
    clock: dt.datetime | None = None
    """The newest time seen in the stream."""
    first_crossing: dict[int, dt.datetime] = field(default_factory=dict)
    """Lap number to the first (the leader's) crossing of it."""
    vehicles: dict[str, str] = field(default_factory=dict)
    """Logger id to car number, from the entry list and the crossings."""
    start: dt.datetime | None = None

    def __post_init__(self) -> None:
        self.start = self.info.start
        for grid, entry in enumerate(self.info.entries, start=1):
            car = self.car(entry.car_number)
            car.chassis, car.team, car.vehicle_id = entry.chassis, entry.team, entry.vehicle_id
            car.driver = entry.driver
            car.fuel_start_l = entry.fuel_start_l
            car.start_position = grid
            if entry.vehicle_id:
                self.vehicles[entry.vehicle_id] = entry.car_number

    # --- inputs -----------------------------------------------------------------

    def car(self, car_number: str) -> CarState:
        """The car, registered on first sight (a car missing from the entry list)."""
        state = self.cars.get(car_number)
        if state is None:
            state = self.cars[car_number] = CarState(car_number)
        return state

    def tick(self, time: dt.datetime) -> None:
        """Move the stream clock forward (it never goes back)."""
        if self.clock is None or time > self.clock:
            self.clock = time

    def cross(self, lap: dict[str, Any]) -> CarState:
        """Apply one lap crossing (a lake laps row) and return the car."""
        car = self.car(lap["car_number"])
        number, end = int(lap["lap"]), lap["lap_end"]
        if lap.get("vehicle_id"):
            car.vehicle_id = lap["vehicle_id"]
            self.vehicles[lap["vehicle_id"]] = car.car_number
        if self.start is None:
            duration = lap.get("lap_time_s")
            self.start = (lap.get("lap_start") or (
                end - dt.timedelta(seconds=duration) if duration else end))
        car.laps = max(car.laps, number)
        car.last_crossing = end
        lap_s = lap.get("lap_time_s")
        car.last_lap_s = lap_s
        car.sectors_s = (lap.get("s1_s"), lap.get("s2_s"), lap.get("s3_s"))
        if lap_s is not None and (car.best_lap_s is None or lap_s < car.best_lap_s):
            car.best_lap_s = lap_s
        flag = lap.get("flag")
        out_lap = car.in_pit  # the previous lap ended in the pit lane
        car.in_pit = bool(lap.get("in_pit"))
        if car.in_pit:
            car.stops += 1
            car.tire_change = self._tire_change(lap.get("pit_time_s"))
        if out_lap:
            car.stint += 1
        # laps run on the set: 1 once the out-lap on new tires is done, as after lap 1
        car.tire_age_laps = 1 if out_lap and car.tire_change else car.tire_age_laps + 1
        if lap_s is not None and flag in (None, "GF") and not car.in_pit and not out_lap \
                and number > 1:
            car.green_laps.append(lap_s)
        self.first_crossing.setdefault(number, end)
        if flag in ("GF", "FCY") and self.flag_source in ("none", "laps", "pace"):
            self.flag, self.flag_source = flag, "laps"
        elif flag is None and self.flag_source in ("none", "pace"):
            self._infer_flag()
        if car.start_position is None and number == 1:
            car.start_position = sum(1 for c in self.cars.values() if c.laps >= 1)
        self.tick(end)
        self._order()
        return car

    def _tire_change(self, pit_time_s: float | None) -> bool:
        """Whether a stop changed tires, by the lap table's rule (standing time on top of
        the pit-lane transit); the timing says no more than that."""
        transit = PIT_TRANSIT_S.get(self.info.track)
        return (pit_time_s is not None and transit is not None
                and pit_time_s >= transit + TIRE_CHANGE_MIN_STATIONARY_S)

    def set_flag(self, time: dt.datetime, flag: str) -> None:
        """A track status from the flags feed; it outranks anything inferred."""
        self.flag, self.flag_source = flag, "flags"
        self.tick(time)

    def sample(self, row: dict[str, Any]) -> None:
        """The newest position and speed of a car from a wide telemetry sample."""
        number = self.vehicles.get(row["vehicle_id"]) or self._register(row["vehicle_id"])
        if number is None:
            return
        car = self.cars[number]
        time = row["time"]
        if car.last_sample is not None and time < car.last_sample:
            return
        car.last_sample = time
        for name in TOWER_CHANNELS:
            if row.get(name) is not None:
                setattr(car, name, row[name])
        self.tick(time)

    def _register(self, vehicle_id: str) -> str | None:
        """A logger no entry or crossing named yet: its car, by the number in its id
        (``GR86-004-78`` is car ``78``), registered on first sight. None when the id has
        no number, or a car of that number is known already: a logged number can be
        another timing car's, so no car is merged on the number alone; the first
        crossing that names the logger settles which car it is."""
        match = _LOGGER_ID.match(vehicle_id)
        if match is None:
            return None
        number = match.group(1)
        if number in self.cars:  # the entry list's or another logger's: not on a guess
            return None
        car = self.car(number)
        car.vehicle_id = vehicle_id
        self.vehicles[vehicle_id] = number
        return number

    # --- derived ----------------------------------------------------------------

    def _infer_flag(self) -> None:
        """Caution when most cars' last laps ran far slower than their best green."""
        slow = [c.last_lap_s > CAUTION_PACE_RATIO * c.best_lap_s for c in self.cars.values()
                if c.last_lap_s is not None and c.best_lap_s is not None and not c.in_pit]
        if len(slow) >= 3:
            self.flag = "FCY" if sum(slow) > len(slow) / 2 else "GF"
            self.flag_source = "pace"

    def _order(self) -> None:
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        ranked = sorted(self.cars.values(), key=lambda c: (
            -c.laps, c.last_crossing or far, c.start_position or 10**6, c.car_number))
        ahead: CarState | None = None
        for position, car in enumerate(ranked, start=1):
            car.position = position
            first = self.first_crossing.get(car.laps)
            if car.laps == 0 or car.last_crossing is None or first is None:
                car.gap_s, car.laps_down, car.interval_s = None, 0, None
            else:
                car.gap_s = (car.last_crossing - first).total_seconds()
                car.laps_down = max((k - car.laps for k, t in self.first_crossing.items()
                                     if k > car.laps and t <= car.last_crossing), default=0)
                if self._stopped(car):  # out of the race, or stopped: it only drops back
                    car.laps_down = self.leader_laps - car.laps
                car.interval_s = (None if ahead is None or ahead.gap_s is None
                                  or ahead.laps_down != car.laps_down or ahead.laps != car.laps
                                  else car.gap_s - ahead.gap_s)
            ahead = car

    def _stopped(self, car: CarState) -> bool:
        """No crossing for more than twice its best lap while the race went on."""
        if self.clock is None or car.last_crossing is None or car.best_lap_s is None:
            return False
        return (self.clock - car.last_crossing).total_seconds() > 2 * car.best_lap_s

    @property
    def leader_laps(self) -> int:
        return max((c.laps for c in self.cars.values()), default=0)

    @property
    def time_left_s(self) -> float | None:
        """Time left of the timed race on the stream's clock (at least 0)."""
        if self.start is None or self.clock is None:
            return None
        return max(0.0, self.info.duration_s - (self.clock - self.start).total_seconds())

    def to_json(self) -> dict[str, Any]:
        """The timing tower: the race, then its cars in order."""
        cars = sorted(self.cars.values(), key=lambda c: c.position or 10**6)
        return {"race_id": self.info.race_id, "track": self.info.track,
                "session": self.info.session, "lap": self.leader_laps, "flag": self.flag,
                "flag_source": self.flag_source, "time_left_s": self.time_left_s,
                "clock": None if self.clock is None else self.clock.isoformat(),
                "cars": [c.to_json() for c in cars]}


__all__ = ["CAUTION_PACE_RATIO", "PACE_WINDOW", "TOWER_CHANNELS", "CarState", "Entry", "RaceInfo",
           "Tower"]
