"""A hand-built race whose timing lists two cars no logger recorded, for tests of every layer.

The lake's laps come from the official timing: every lap has its timing car in
``car_number``, and ``vehicle_id`` only where a logged car was matched to it (0 to 4 real
timing cars a race have none). Barber (pit-lane transit 34 s), 20 laps of about 100 s:

* car ``021``, no logger: changes tires at the end of lap 5 (64 s in the pit lane);
* car ``3#2``, no logger (a second car listed under number 3): drives through at the
  end of lap 12 (36 s, the transit alone);
* car ``7``, logger ``GR86-001-7`` with telemetry on every lap: never stops.

Keyed on ``vehicle_id``, the first two would be one car with both stops; every value a
test expects here is that of each car alone.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from cognirace.features import aggregate_telemetry, build_lap_features
from cognirace.lake.schema import CARS, LAPS, RACES, TELEMETRY, WEATHER

RACE = "barber-R1"
START = dt.datetime(2025, 7, 20, 18, 0, tzinfo=dt.UTC)
N_LAPS = 20
LOGGED = {"7": "GR86-001-7"}
"""Timing car -> its logger."""
UNLOGGED: tuple[str, ...] = ("021", "3#2")
"""Timing cars no logged car was matched to."""
PITS: dict[str, tuple[int, float]] = {"021": (5, 64.0), "3#2": (12, 36.0)}
"""Timing car -> (in-lap, time in the pit lane s)."""
OFFSET_S = {"021": 0.0, "3#2": 0.5, "7": 1.0}
"""Each car's start behind the first, s."""
SAMPLES_PER_LAP = 10


def lap_times(number: str) -> list[float]:
    """The car's lap times, s: a standing start, a little wear, a zigzag, slow pit laps."""
    base = 100.0 + 0.3 * list(OFFSET_S).index(number)
    times = [base + 0.05 * lap + (0.2 if lap % 2 else -0.2) for lap in range(1, N_LAPS + 1)]
    times[0] += 8.0
    if number in PITS:
        in_lap, _ = PITS[number]
        times[in_lap - 1] += 20.0
        times[in_lap] += 25.0
    return times


def laps() -> pl.DataFrame:
    """The race's lap rows, as the lake holds them (``vehicle_id`` null for ``UNLOGGED``)."""
    rows = []
    for number, offset in OFFSET_S.items():
        t = offset
        in_lap, pit_s = PITS.get(number, (0, 0.0))
        for lap, lap_s in enumerate(lap_times(number), start=1):
            rows.append({
                "race_id": RACE, "vehicle_id": LOGGED.get(number), "car_number": number,
                "lap": lap, "lap_start": START + dt.timedelta(seconds=t),
                "lap_end": START + dt.timedelta(seconds=t + lap_s), "lap_time_s": lap_s,
                "flag": "FF" if lap == N_LAPS else "GF", "in_pit": lap == in_lap,
                "pit_time_s": pit_s if lap == in_lap else None, "repaired": False,
            })
            t += lap_s
    return pl.DataFrame(rows, schema=LAPS)


def cars() -> pl.DataFrame:
    """The lake's cars table: every timing car, with its logger where it has one."""
    return pl.DataFrame([{"race_id": RACE, "vehicle_id": LOGGED.get(n),
                          "chassis": LOGGED[n][5:8] if n in LOGGED else None,
                          "car_number": n, "class": "Am", "team": None} for n in OFFSET_S],
                        schema=CARS)


def races() -> pl.DataFrame:
    return pl.DataFrame([{"race_id": RACE, "track": "barber", "session": "R1", "event": "E1",
                          "date": START.date(), "source_dir": "built"}], schema=RACES)


def telemetry() -> pl.DataFrame:
    """``SAMPLES_PER_LAP`` samples a lap of the logged car, spread over each lap."""
    rows = []
    for lap in laps().filter(pl.col("vehicle_id").is_not_null()).iter_rows(named=True):
        step = (lap["lap_end"] - lap["lap_start"]) / SAMPLES_PER_LAP
        rows += [{"race_id": RACE, "vehicle_id": lap["vehicle_id"], "lap": lap["lap"],
                  "time": lap["lap_start"] + i * step, "speed_kph": 120.0 + i,
                  "rpm": 6000.0, "aps": 80.0, "gear": 4} for i in range(SAMPLES_PER_LAP)]
    return pl.DataFrame(rows, schema=TELEMETRY)


def feature_rows() -> pl.DataFrame:
    """The race's lap feature table, built in code (no lake)."""
    return build_lap_features(laps().lazy(), races().lazy(), pl.LazyFrame(schema=WEATHER),
                              aggregate_telemetry(telemetry().lazy())).collect()


__all__ = ["LOGGED", "N_LAPS", "PITS", "RACE", "UNLOGGED", "cars", "feature_rows",
           "lap_times", "laps", "races", "telemetry"]
