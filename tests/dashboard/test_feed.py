"""The dashboard's feed and streams on a small hand-built race: traces, seq, resume, ticks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import orjson
import polars as pl
import pytest

from cognirace.realtime.dashboard_feed import TICK_EVERY_S, DashboardFeeds
from cognirace.realtime.dashboard_stream import DashboardStream
from cognirace.realtime.engine import RaceEngine
from cognirace.realtime.hub import LiveRace, RaceHub
from cognirace.realtime.lap_traces import build_trace, delta_s
from cognirace.realtime.tower import Entry, RaceInfo

START = dt.datetime(2025, 7, 20, 18, 0, tzinfo=dt.UTC)
LENGTH_M = 3675.0  # Barber
LAPS_S = {"7": [100.0, 98.0, 99.0], "21": [101.0, 99.5, 98.5]}
HZ = 5


def _iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _frames() -> list[dict[str, Any]]:
    """One frame per second: each car's samples (speed varying along the lap) and its
    crossings, as a feed sends them."""
    rows: list[tuple[float, str, dict[str, Any]]] = []
    for number, laps in LAPS_S.items():
        t0 = 0.0
        for lap, lap_s in enumerate(laps, start=1):
            n = int(lap_s * HZ)
            for k in range(1, n):
                frac = k / n
                rows.append((t0 + k / HZ, "samples", {
                    "vehicle_id": f"GR86-001-{number}", "time": _iso(START + dt.timedelta(
                        seconds=t0 + k / HZ)), "lap": lap, "lap_dist_m": frac * LENGTH_M,
                    "speed_kph": 120 + 40 * np.sin(6 * frac), "aps": 80.0, "pbrake_f": 0.0,
                    "rpm": 6000.0, "gear": 4}))
            rows.append((t0 + lap_s, "laps", {
                "car_number": number, "vehicle_id": f"GR86-001-{number}", "lap": lap,
                "lap_start": _iso(START + dt.timedelta(seconds=t0)),
                "lap_end": _iso(START + dt.timedelta(seconds=t0 + lap_s)),
                "lap_time_s": lap_s, "flag": "GF"}))
            t0 += lap_s
    rows.sort(key=lambda r: r[0])
    frames: list[dict[str, Any]] = []
    for second in range(int(max(r[0] for r in rows)) + 2):
        body: dict[str, Any] = {"seq": len(frames)}
        for t, kind, row in rows:
            if second <= t < second + 1:
                body.setdefault(kind, []).append(row)
        if len(body) > 1:
            frames.append(body)
    return frames


@pytest.fixture(scope="module")
def raced() -> tuple[LiveRace, DashboardFeeds, int]:
    feeds = DashboardFeeds()
    hub = RaceHub(models=lambda _name: None, on_race=feeds.attach)
    info = RaceInfo("r1", "barber", start=START, duration_s=290.0,
                    entries=(Entry("7", vehicle_id="GR86-001-7"),
                             Entry("21", vehicle_id="GR86-001-21")))
    race, _ = hub.declare(info)
    frames = _frames()
    for body in frames:
        race.apply(body)
    return race, feeds, len(frames)


def _messages(lines: list[bytes]) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in lines]


def test_the_delta_at_the_line_is_the_lap_time_difference(
        raced: tuple[LiveRace, DashboardFeeds, int]) -> None:
    _, feeds, _ = raced
    traces = feeds.feeds["r1"].traces
    last, best = traces.last["21"], traces.best["21"]
    assert (last.lap, best.lap) == (3, 3)  # its last lap is its best
    assert (traces.last["7"].lap, traces.best["7"].lap) == (3, 2)
    delta = delta_s(traces.last["7"], traces.best["7"])
    assert delta[-1] == pytest.approx(99.0 - 98.0, abs=1e-9)
    assert delta[0] == 0.0
    assert traces.held_rows() < 2 * HZ * 100  # at most about a lap per logger


def test_a_lap_with_too_few_samples_draws_no_trace() -> None:
    samples = pl.DataFrame({"time": [START + dt.timedelta(seconds=s) for s in (1, 2)],
                            "lap_dist_m": [10.0, 20.0], "speed_kph": [100.0, 110.0],
                            "aps": [1.0, 1.0], "pbrake_f": [0.0, 0.0], "rpm": [1.0, 1.0],
                            "gear": [2, 2], "lat": [None, None], "lon": [None, None]})
    assert build_trace(samples, lap=1, lap_end=START + dt.timedelta(seconds=60),
                       lap_time_s=60.0, length_m=LENGTH_M) is None


def test_a_first_connect_gets_every_lap_then_a_snapshot_in_seq_order(
        raced: tuple[LiveRace, DashboardFeeds, int]) -> None:
    race, feeds, _ = raced
    stream = DashboardStream(feeds.feeds["r1"])
    messages = _messages(race.read(stream.open))
    seqs = [m["seq"] for m in messages]
    assert seqs == sorted(seqs) and messages[-1]["type"] == "snapshot"
    laps = [(m["car_number"], m["lap"]) for m in messages if m["type"] == "lap"]
    assert sorted(laps) == sorted((n, k) for n, times in LAPS_S.items()
                                  for k in range(1, len(times) + 1))
    snapshot = messages[-1]
    assert {c["car_number"] for c in snapshot["cars"]} == set(LAPS_S)
    assert snapshot["seq"] == feeds.feeds["r1"].seq and not snapshot["missed"]


def test_a_reconnect_gets_exactly_what_it_missed(
        raced: tuple[LiveRace, DashboardFeeds, int]) -> None:
    race, feeds, _ = raced
    feed = feeds.feeds["r1"]
    everything = [m for m in _messages(race.read(DashboardStream(feed).open))
                  if m["type"] != "snapshot"]
    cut = everything[len(everything) // 2]["seq"]
    resumed = _messages(race.read(DashboardStream(feed, after=cut).open))
    assert [m["seq"] for m in resumed[:-1]] == [m["seq"] for m in everything
                                                if m["seq"] > cut]
    assert resumed[-1]["type"] == "snapshot" and resumed[-1]["after"] == cut


def test_ticks_come_at_most_ten_a_second_and_carry_only_changed_cars() -> None:
    now = [0.0]
    feeds = DashboardFeeds()
    hub = RaceHub(models=lambda _name: None, on_race=feeds.attach)
    race, _ = hub.declare(RaceInfo("r2", "barber", start=START))
    feed = feeds.feeds["r2"]
    feed.clock = lambda: now[0]
    stream = DashboardStream(feed)
    race.read(stream.open)
    ticks = []
    for i, body in enumerate(_frames()[:40]):
        race.apply(body)
        now[0] = i * TICK_EVERY_S / 4  # four frames per tick interval
        ticks += [m for m in _messages(stream.poll(race.read(_tick_of(feed))))
                  if m["type"] == "tick"]
    assert 8 <= len(ticks) <= 11  # 40 frames over 1 s of wall time
    seqs = [m["seq"] for m in ticks]
    assert seqs == sorted(set(seqs))
    assert all(len(m["cars"]) <= len(LAPS_S) for m in ticks)
    assert stream.poll(feed.latest_tick) == []  # nothing new: nothing sent


def _tick_of(feed: Any) -> Any:
    def read(engine: RaceEngine) -> Any:
        return feed.tick(engine)
    return read


def _split_channel_lap(lap_time_s: float, hz: float) -> tuple[pl.DataFrame, np.ndarray,
                                                                  np.ndarray]:
    """One lap logged as the ECU does above about 5 Hz: lap distance and rpm on one
    sample, speed on the next; throttle, brake and gear on every sample. The car's
    distance is ``x(t) = L t / T + a sin(2 pi t / T)``, so its true speed varies along
    the lap. Returns the samples and the true speed (km/h) against distance (m)."""
    amplitude_m = 150.0

    def dist(t: np.ndarray) -> np.ndarray:
        return LENGTH_M * t / lap_time_s + amplitude_m * np.sin(2 * np.pi * t / lap_time_s)

    def speed(t: np.ndarray) -> np.ndarray:
        return 3.6 * (LENGTH_M / lap_time_s + amplitude_m * 2 * np.pi / lap_time_s
                      * np.cos(2 * np.pi * t / lap_time_s))

    t = np.arange(1, int(lap_time_s * hz)) / hz
    even = np.arange(len(t)) % 2 == 0
    samples = pl.DataFrame({
        "time": [START + dt.timedelta(seconds=float(s)) for s in t],
        "lap_dist_m": np.where(even, dist(t), np.nan),
        "speed_kph": np.where(even, np.nan, speed(t)),
        "rpm": np.where(even, 6000.0, np.nan), "aps": np.full(len(t), 80.0),
        "pbrake_f": np.zeros(len(t)), "gear": np.full(len(t), 4.0),
        "lat": [None] * len(t), "lon": [None] * len(t),
    }).with_columns(pl.col("lap_dist_m", "speed_kph", "rpm").fill_nan(None))
    fine_t = np.linspace(0.0, lap_time_s, 20_001)
    return samples, dist(fine_t), speed(fine_t)


def test_speed_logged_apart_from_the_lap_distance_is_placed_on_the_lap() -> None:
    lap_time_s = 100.0
    samples, true_x, true_kph = _split_channel_lap(lap_time_s, hz=10.0)
    assert samples.filter(pl.col("speed_kph").is_not_null()
                          & pl.col("lap_dist_m").is_not_null()).is_empty()
    trace = build_trace(samples, lap=2, lap_end=START + dt.timedelta(seconds=lap_time_s),
                        lap_time_s=lap_time_s, length_m=LENGTH_M)
    assert trace is not None
    for name, values in trace.channels.items():
        assert np.isfinite(values).all(), name
    expected = np.interp(trace.x_m, true_x, true_kph)
    # read where the car was at each speed sample's time: within a sample's change of speed
    assert np.max(np.abs(trace.channels["speed_kph"] - expected)) < 1.0
    assert trace.t_s[-1] == lap_time_s


def test_a_car_row_names_its_driver_team_and_chassis_from_the_entry_list() -> None:
    feeds = DashboardFeeds()
    hub = RaceHub(models=lambda _name: None, on_race=feeds.attach)
    race, _ = hub.declare(RaceInfo("r3", "barber", start=START, entries=(
        Entry("7", chassis="015", team="Rossi Racing", vehicle_id="GR86-015-7",
              driver="Ana Rossi"),
        Entry("21", chassis="049", vehicle_id="GR86-049-21"), Entry("33"))))
    snapshot = race.read(lambda engine: feeds.feeds["r3"].snapshot(engine, {}))
    rows = {row["car_number"]: (row["driver"], row["team"], row["chassis"])
            for row in snapshot["cars"]}
    assert rows == {"7": ("Ana Rossi", "Rossi Racing", "015"), "21": (None, None, "049"),
                    "33": (None, None, None)}
