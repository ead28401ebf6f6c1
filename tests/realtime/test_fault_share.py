"""A labelled fault raises ANOMALY within its windows: ``fault_share`` on hand-built
faults, events and windows (caught, missed, another car, the edges of a window, an
alarm still latched), then on a simulated race replayed through the engine with a
detector fitted on other simulated races."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from cognirace.features.windows import WINDOW_S
from cognirace.lake import Lake
from cognirace.realtime import RaceEngine, parse_frame, race_frames, race_info
from cognirace.realtime.alerts import ANOMALY_CLEAR_WINDOWS, Alerts
from cognirace.realtime.events import ANOMALY, PACE_DROP, Event, EventLog
from cognirace.realtime.fault_share import (
    CleanWindows,
    Recorded,
    anomaly_events,
    fault_share,
)
from cognirace.realtime.tower import CarState

START = dt.datetime(2025, 5, 4, 18, 0, tzinfo=dt.UTC)
"""The hand-built race's green flag."""
FAULT_S = (100.0, 200.0)
"""The hand-built fault of car "7", race seconds: windows 20 to 39 overlap it."""


def _at(seconds: float) -> dt.datetime:
    return START + dt.timedelta(seconds=seconds)


def _faults(*rows: tuple[str, float, float, bool]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"race_id": "r", "car_number": car, "kind": "spike", "start_s": start,
          "end_s": end, "in_telemetry": seen} for car, start, end, seen in rows],
        schema={"race_id": pl.String, "car_number": pl.String, "kind": pl.String,
                "start_s": pl.Float64, "end_s": pl.Float64, "in_telemetry": pl.Boolean})


FAULT = _faults(("7", *FAULT_S, True))


def _windows(flagged: dict[str, set[int]], n: int = 60) -> pl.DataFrame:
    """Windows 0..n-1 (5 s from the green flag) of each car, flagged where listed."""
    return pl.DataFrame(
        [{"car_number": car, "window_start": _at(k * WINDOW_S), "is_anomaly": k in ks}
         for car, ks in flagged.items() for k in range(n)],
        schema={"car_number": pl.String, "window_start": pl.Datetime("us", "UTC"),
                "is_anomaly": pl.Boolean})


def _event(car: str | None, seconds: float | None, type_: str = ANOMALY,
           **data: Any) -> Event:
    return Event(1, type_, "warning", car, 3, None if seconds is None else _at(seconds),
                 "test", data)


def _one(events: Sequence[Event], windows: pl.DataFrame | None = None,
         faults: pl.DataFrame = FAULT) -> dict[str, Any]:
    share = fault_share(faults, START, events, _windows({"7": set()}) if windows is None
                        else windows)
    assert share.faults.height == 1
    return share.faults.row(0, named=True)


def test_an_event_in_a_window_of_the_fault_catches_it() -> None:
    row = _one([_event("7", 150.0)])
    assert row["event_raised"] and row["n_events"] == 1 and row["first_event_s"] == 50.0
    assert not row["detector_flagged"] and not row["latched"]
    assert row["n_windows"] == 20
    assert row["fault_start"] == _at(100.0) and row["fault_end"] == _at(200.0)


def test_a_fault_without_event_or_flag_is_missed() -> None:
    share = fault_share(FAULT, START, [_event("7", 300.0), _event("7", 150.0, PACE_DROP)],
                        _windows({"7": {59}}))
    row = share.faults.row(0, named=True)
    assert not row["event_raised"] and not row["detector_flagged"]
    assert share.clean == CleanWindows(n_windows=40, n_flagged=1, n_events=1)


def test_another_cars_event_does_not_catch_it_and_is_a_false_alarm() -> None:
    """Car numbers are text: "07" is not "7"."""
    windows = _windows({"7": {30}, "07": set()})
    share = fault_share(FAULT, START, [_event("07", 150.0)], windows)
    row = share.faults.row(0, named=True)
    assert not row["event_raised"] and row["detector_flagged"]
    assert share.clean.n_windows == 40 + 60 and share.clean.n_events == 1


@pytest.mark.parametrize(("window_s", "caught"), [
    (95.0, False),   # ends as the fault starts
    (95.5, True),    # a window's start is its first sample: it reaches 100.5 s
    (100.0, True),
    (195.0, True),
    (199.9, True),
    (200.0, False),  # starts as the fault ends
])
def test_a_window_overlaps_the_fault_as_training_labels_it(window_s: float,
                                                          caught: bool) -> None:
    windows = pl.DataFrame({"car_number": ["7"], "window_start": [_at(window_s)],
                            "is_anomaly": [True]})
    row = _one([_event("7", window_s)], windows)
    assert row["event_raised"] is caught and row["detector_flagged"] is caught
    assert row["n_windows"] == int(caught)
    assert row["first_event_s"] == (window_s - FAULT_S[0] if caught else None)


def test_the_clock_is_the_truths_green_flag() -> None:
    """The same race seconds from another green flag are another span."""
    share = fault_share(FAULT, START + dt.timedelta(minutes=1), [_event("7", 150.0)],
                        _windows({"7": set()}))
    assert not share.faults["event_raised"][0]


def test_an_event_without_time_is_placed_by_its_window_start() -> None:
    row = _one([_event("7", None, window_start=_at(150.0).isoformat())])
    assert row["event_raised"]
    assert anomaly_events([_event(None, 150.0), _event("7", None)]).is_empty()


def test_a_fault_outside_the_logged_channels_is_left_out_and_its_windows_are_clean() -> None:
    faults = _faults(("7", *FAULT_S, False), ("8", *FAULT_S, True))
    share = fault_share(faults, START, [], _windows({"7": set(), "8": set()}))
    assert share.faults["car_number"].to_list() == ["8"]
    assert share.clean.n_windows == 60 + 40


def _alerted(kinds: dict[int, str], n: int = 60) -> tuple[list[Event], pl.DataFrame]:
    """The real alert rule on car 7's windows, flagged with the kinds listed."""
    log, car = EventLog(), CarState("7")
    alerts = Alerts(log)
    for k in range(n):
        kind = kinds.get(k)
        answer = {"is_anomaly": kind is not None, "anomaly_kind": kind or "none",
                  "anomaly_channels": "", "p_anomaly": 0.9 if kind else 0.1, "lap": 3}
        alerts.anomaly(car, answer, _at(k * WINDOW_S))
    windows = _windows({"7": set(kinds)}, n)
    return log.events, windows


def test_a_fault_flagged_while_the_same_kind_is_latched_counts_as_flagged_not_raised() -> None:
    """An alarm at 80 s (windows 16-18, no fault) holds through one quiet window, so the
    same kind flagged again in the fault's first windows raises nothing new."""
    assert ANOMALY_CLEAR_WINDOWS > 1
    events, windows = _alerted({16: "sensor", 17: "sensor", 18: "sensor",
                                20: "sensor", 21: "sensor"})
    assert len(events) == 1
    share = fault_share(FAULT, START, events, windows)
    row = share.faults.row(0, named=True)
    assert row["detector_flagged"] and not row["event_raised"] and row["latched"]
    assert row["n_flagged"] == 2
    assert share.clean == CleanWindows(n_windows=40, n_flagged=3, n_events=1)


def test_another_kind_in_the_fault_raises_its_own_event() -> None:
    events, windows = _alerted({16: "sensor", 17: "sensor", 20: "brake"})
    row = fault_share(FAULT, START, events, windows).faults.row(0, named=True)
    assert row["event_raised"] and not row["latched"]


def test_an_alarm_that_cleared_raises_again_in_the_fault() -> None:
    quiet = 20 - ANOMALY_CLEAR_WINDOWS - 1
    events, windows = _alerted({quiet: "sensor", 20: "sensor"})
    assert len(events) == 2
    row = fault_share(FAULT, START, events, windows).faults.row(0, named=True)
    assert row["event_raised"] and not row["latched"]


def test_clean_rates_are_per_window_and_per_car_hour() -> None:
    clean = CleanWindows(n_windows=720, n_flagged=9, n_events=2)
    assert clean.car_hours == pytest.approx(1.0)
    assert clean.p_flagged == pytest.approx(9 / 720)
    assert clean.events_per_car_hour == pytest.approx(2.0)
    assert clean + clean == CleanWindows(1440, 18, 4)
    assert CleanWindows(0, 0, 0).p_flagged != CleanWindows(0, 0, 0).p_flagged  # NaN


# --- live --------------------------------------------------------------------------

LIVE_RACE_S = 1200.0
"""The replayed race: 20 minutes."""
LIVE_SEED = 11
"""Seed of the replayed race: neither the training season's (5) nor any test lake's."""


def _unseen_race(root: Path) -> Lake:
    """One race with telemetry at 2 Hz from a seed of its own, 20 cars."""
    from cognirace.ingest import ingest
    from cognirace.lake import open_lake
    from cognirace.sim import RaceConfig, season_roster, simulate_one

    config = RaceConfig("vir", session="R2", event_number=9, event_date=dt.date(2025, 9, 7),
                        n_cars=20, duration_s=LIVE_RACE_S, telemetry_hz=2.0)
    simulate_one(root / "races", config, season_roster(LIVE_SEED), LIVE_SEED)
    ingest(root / "races", root / "lake")
    return open_lake(root / "lake")


@pytest.mark.slow
def test_faults_are_flagged_in_their_windows_more_often_than_clean_windows(
        lake: Lake, tmp_path: Path) -> None:
    """A detector fitted on the small season, live on an unseen race: the share of faults
    it flags within their windows beats the share of fault-free windows it flags, and
    every event it raises is counted once, in a fault or as a false alarm."""
    from cognirace.training import all_tasks, load_truth, task_examples

    task = all_tasks()["anomaly"]
    detector = Recorded(task.model().fit(task_examples(lake, [task])["anomaly"]))
    unseen = _unseen_race(tmp_path)
    (race_id,) = unseen.race_ids
    engine = RaceEngine(race_info(unseen, race_id, duration_s=LIVE_RACE_S),
                        {"anomaly": detector}.get)
    for body in race_frames(unseen, race_id, frame_s=10.0):
        engine.apply(parse_frame(body))
    engine.settle()
    truth = load_truth(unseen, [race_id])
    windows = detector.windows()
    share = fault_share(truth["faults"], truth["race"]["start_utc"][0], engine.log.events,
                        windows)

    faults = share.faults
    assert faults.height >= 2, "the race should carry faults seen in telemetry"
    assert faults["n_windows"].min() > 0  # every fault is scored live
    p_faults = float(faults["detector_flagged"].mean())
    assert p_faults > share.clean.p_flagged
    # an event is raised on a flagged window only; each one lies in a fault or is clean
    assert not (faults["event_raised"] & ~faults["detector_flagged"]).any()
    n_events = sum(e.type == ANOMALY for e in engine.log.events)
    assert share.clean.n_events <= n_events <= share.clean.n_events + faults["n_events"].sum()
