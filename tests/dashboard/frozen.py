"""A fixed race for the page's frozen frame: the same messages and answers on every run.

The pixel comparison needs a page whose content never varies, so nothing here comes
from a clock, a random draw or a model: six cars on an oval of 2,000 m, five laps
closed, three events, one strategy answer. The test serves these through Playwright's
request routing in place of the service's race routes (``FROZEN_RACE`` exists nowhere
else), so the page, its scripts and its styles are the real ones.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Route

FROZEN_RACE = "frozen-oval-R1"
LENGTH_M = 2000.0
LAT0, LON0 = 33.53, -86.62
"""Where the oval sits (near Barber), degrees."""
CARS = ("7", "13", "21", "34", "55", "88")
SELECTED = "13"
N_LAPS = 5
GRID_M = 20.0
"""The traces' distance step, m: 100 points a lap."""


def _oval(f: float) -> tuple[float, float]:
    """Latitude and longitude at fraction ``f`` of the lap, degrees."""
    a = 2 * math.pi * f
    return LAT0 + 0.0025 * math.sin(a), LON0 + 0.005 * math.cos(a) * (1 + 0.2 * math.sin(2 * a))


def _row(i: int, number: str) -> dict[str, Any]:
    dist = (1900.0 - 140.0 * i) % LENGTH_M
    lat, lon = _oval(dist / LENGTH_M)
    return {"car_number": number, "position": i + 1, "laps": N_LAPS, "team": f"Team {number}",
            "gap_s": None if i == 0 else round(1.7 * i + 0.05 * i * i, 3),
            "laps_down": 1 if i == 5 else 0,
            "interval_s": None if i == 0 else round(1.7 + 0.1 * i, 3), "closing": i == 2,
            "last_lap_s": round(61.2 + 0.31 * i, 3), "best_lap_s": round(60.9 + 0.27 * i, 3),
            "sectors_s": [round(20.1 + 0.1 * i, 3), round(21.0 + 0.1 * i, 3),
                          round(20.1 + 0.11 * i, 3)],
            "tire_age_laps": N_LAPS - (2 if i == 4 else 0), "stint": 2 if i == 4 else 1,
            "fuel_left_l": round(38.0 - 2.1 * N_LAPS - 0.1 * i, 2), "stops": 1 if i == 4 else 0,
            "in_pit": i == 3, "places_gained": [1, -1, 0, 2, -2, 0][i],
            "lap_dist_m": dist, "speed_kph": 150.0, "lat": round(lat, 6), "lon": round(lon, 6)}


def _trace(lap: int, lap_time_s: float) -> dict[str, Any]:
    """One lap's channels on a 20 m grid: two braking zones, time ending at the lap time."""
    xs = [GRID_M * k for k in range(int(LENGTH_M / GRID_M) + 1)]
    speed = [150 - 60 * math.exp(-(((x - 600) / 90) ** 2))
             - 50 * math.exp(-(((x - 1500) / 80) ** 2)) + (lap % 2) * 2 for x in xs]
    pace = [1 / s for s in speed]
    total = sum(pace)
    t, times = 0.0, []
    for p in pace:
        times.append(round(t, 3))
        t += lap_time_s * p / total
    times[-1] = lap_time_s
    return {"lap": lap, "lap_time_s": lap_time_s, "x_m": xs, "t_s": times,
            "speed_kph": [round(s, 2) for s in speed],
            "throttle_pct": [round(max(0.0, min(100.0, (s - 95) * 2)), 2) for s in speed],
            "brake_bar": [round(max(0.0, (110 - s) * 1.5), 2) for s in speed],
            "rpm": [round(4000 + 20 * s, 2) for s in speed],
            "gear": [float(min(6, 2 + int(s // 30))) for s in speed]}


def _candidate(label: str, kind: str, mean: float, p10: int, p90: int, gain: float,
               lose: float, rejoin: int | None) -> dict[str, Any]:
    return {"label": label, "kind": kind, "expected_position": mean, "position_p10": p10,
            "position_p90": p90, "p_gain": gain, "p_lose": lose,
            "rejoin": None if rejoin is None else {"position": rejoin, "gap_ahead_s": 1.2,
                                                   "gap_behind_s": 0.8}}


def _advice() -> dict[str, Any]:
    return {"race_id": FROZEN_RACE, "car_number": SELECTED, "lap": N_LAPS, "position": 2,
            "stops": 0, "n_sims": 500, "caution": False, "recommended": "stay out",
            "why": "no stop gains a place on the laps left", "notes": [],
            "candidates": [_candidate("stay out", "stay_out", 2.1, 1, 3, 0.12, 0.08, None),
                           _candidate("pit now", "pit_now", 4.6, 4, 6, 0.0, 0.9, 5),
                           _candidate("pit at next caution", "pit_at_caution", 2.9, 2, 5,
                                      0.05, 0.4, None),
                           _candidate("pit on lap 8", "pit_on_lap", 3.8, 3, 6, 0.01, 0.7, 4)]}


def _messages() -> list[dict[str, Any]]:
    outline = [_oval(k / 400) for k in range(400)]
    snapshot = {
        "type": "snapshot", "seq": 40, "at_ms": 0, "race_id": FROZEN_RACE, "track": "oval",
        "session": "R1", "duration_s": 1200.0, "length_m": LENGTH_M, "watched": [SELECTED],
        "race": {"clock": "2025-04-06T15:05:10+00:00", "lap": N_LAPS, "flag": "GF",
                 "flag_source": "timing", "time_left_s": 890.0, "laps_left": 15,
                 "speed_x": 20.0, "frames": 310, "fcy_hazard": [0.03, 0.04, 0.05, 0.05, 0.06]},
        "cars": [_row(i, n) for i, n in enumerate(CARS)], "strategy": {SELECTED: _advice()},
        "outline": {"track": "oval", "length_m": LENGTH_M, "lat": [round(a, 6) for a, _ in outline],
                    "lon": [round(b, 6) for _, b in outline]},
        "health": {"frames": 310, "samples": 9300, "seq_gaps": 0, "events": 3,
                   "model_skips": {}, "apply_ms_p50": 1.5, "apply_ms_p99": 4.2},
        "models": {"fcy": "v1", "fuel": "v1", "laptime": "v1", "pitloss": "v1", "tire": "v1"},
        "models_missing": []}
    laps = [{"type": "lap", "seq": 41 + 2 * (lap - 1) + j, "at_ms": 0, "car_number": car,
             "lap": lap, "lap_time_s": round(61.0 + 0.2 * j + (1.4 if lap == 3 else 0.0)
                                             + 0.05 * lap, 3),
             "sectors_s": [None, None, None], "flag": "FCY" if lap == 3 else "GF",
             "in_pit": False, "position": 2 + j, "trace": True,
             "next_lap": {"p10": 60.8, "p50": 61.3, "p90": 62.1}}
            for lap in range(1, N_LAPS + 1) for j, car in enumerate((SELECTED, "21"))]
    events = [{"type": "event", "seq": 60 + k, "at_ms": 0, "event": {
        "seq": 60 + k, "type": kind, "severity": severity, "car_number": car, "lap": lap,
        "message": message}} for k, (kind, severity, car, lap, message) in enumerate([
            ("FCY", "warning", None, 3, "full-course yellow"),
            ("PIT_IN", "info", "55", 3, "car 55 in the pit lane"),
            ("FASTEST_LAP", "info", "7", 4, "car 7 fastest lap 60.900 s")])]
    return [snapshot, *laps, *events]


def frozen_routes() -> dict[str, tuple[str, str]]:
    """Each routed path under ``/v1/races/<FROZEN_RACE>`` and its (content type, body)."""
    return _routes(_messages(), _advice())


CROWDED_RACE = "frozen-crowded-R1"
CROWDED_CARS = tuple(str(n) for n in range(101, 126))
"""A full field: 25 cars, as at Barber."""
MODEL_NAMES = ("anomaly", "driver", "fcy", "fuel", "laptime", "pitloss", "tire", "traffic")


def _crowded_advice() -> dict[str, Any]:
    """The strategy's longest answer: every candidate named with its tire choice."""
    advice = _advice()
    advice["race_id"] = CROWDED_RACE
    advice["why"] = ("every stop loses places; the best, pit at next caution (tires), is "
                     "0.45 places worse on average")
    advice["candidates"] = [
        _candidate("stay out", "stay_out", 2.76, 1, 4, 0.0, 0.08, None),
        _candidate("pit now (tires)", "pit_now", 14.42, 12, 25, 0.0, 0.99, 24),
        _candidate("pit at next caution (tires)", "pit_at_caution", 3.21, 2, 6, 0.0, 0.32,
                   None),
        *(_candidate(f"pit on lap {lap} (tires)", "pit_on_lap", 14.26, 12, 25, 0.0, 0.99, 24)
          for lap in range(13, 18))]
    return advice


def crowded_routes() -> dict[str, tuple[str, str]]:
    """The fixed race grown to the longest content a real one shows: 25 cars with long
    team names, every model of the demo's registry and its baseline loaded, a car with
    no start fill, many long events. The layout must hold this at every supported size."""
    snapshot, *rest = _messages()
    template = snapshot["cars"]
    snapshot["race_id"] = CROWDED_RACE
    snapshot["cars"] = [{**template[i % len(template)], "car_number": number,
                         "position": i + 1, "team": f"Motorsports Racing Team {number}"}
                        for i, number in enumerate(CROWDED_CARS)]
    for row in snapshot["cars"]:
        if row["car_number"] == CROWDED_CARS[1]:
            row["fuel_left_l"] = None
    snapshot["watched"] = [CROWDED_CARS[1]]
    snapshot["strategy"] = {CROWDED_CARS[1]: _crowded_advice()}
    snapshot["models"] = {f"{name}{kind}": "v12" for name in MODEL_NAMES
                          for kind in ("", "-baseline")}
    snapshot["models_missing"] = ["fcy-experimental", "traffic-experimental"]
    snapshot["health"]["model_skips"] = {"anomaly-baseline": 1234, "traffic": 56,
                                         "driver-baseline": 7}
    events = [{"type": "event", "seq": 80 + k, "at_ms": 0, "event": {
        "seq": 80 + k, "type": "PACE_DROP", "severity": "warning", "car_number": number,
        "lap": N_LAPS, "message": f"Car {number} ran 102.205 s, 3.7 s slower than the "
                                  "98.528 s it should beat nine times in ten."}}
        for k, number in enumerate(CROWDED_CARS[:20])]
    renumber = {SELECTED: CROWDED_CARS[1], "21": CROWDED_CARS[2]}
    laps = [{**m, "car_number": renumber[m["car_number"]]} for m in rest if m["type"] == "lap"]
    return _routes([snapshot, *laps, *events], _crowded_advice(), CROWDED_CARS[1])


def _routes(messages: list[dict[str, Any]], advice: dict[str, Any],
            selected: str = SELECTED) -> dict[str, tuple[str, str]]:
    """The race's routed paths and their (content type, body): its stream of
    ``messages`` and the selected car's traces, predictions and ``advice``."""
    ndjson = "".join(json.dumps(m) + "\n" for m in messages)
    traces = {"car_number": selected, "length_m": LENGTH_M, "last": _trace(N_LAPS, 61.25),
              "best": _trace(2, 61.10)}
    car = {"car_number": selected, "predictions": {
        "tire": {"deg_s_per_lap": 0.041, "loss_p50_s": 0.21},
        "fuel": {"fuel_used_pred_l": 2.08}}}
    strategy = {"car_number": selected, "advice": advice, "reason": None}
    as_json = "application/json"
    return {"/dashboard/stream": ("application/x-ndjson", ndjson),
            f"/cars/{selected}/traces": (as_json, json.dumps(traces)),
            f"/cars/{selected}": (as_json, json.dumps(car)),
            f"/dashboard/strategy/{selected}": (as_json, json.dumps(strategy))}


def answering(race_id: str, routes: dict[str, tuple[str, str]]) -> Callable[[Route], None]:
    """A Playwright route handler answering ``/v1/races/<race_id>/...`` from ``routes``; a
    reconnecting stream gets its snapshot again, as the service answers ``after`` (the
    discrete messages were had)."""

    def answer(route: Route) -> None:
        url = urlparse(route.request.url)
        path = url.path.removeprefix(f"/v1/races/{race_id}")
        found = routes.get(path)
        if found is None:
            route.fulfill(status=404, content_type="application/json",
                          body='{"detail": "none"}')
            return
        content_type, body = found
        if path.endswith("/stream") and int(parse_qs(url.query).get("after", ["0"])[0]) > 0:
            body = body.splitlines(keepends=True)[0]
        route.fulfill(status=200, content_type=content_type, body=body)

    return answer
