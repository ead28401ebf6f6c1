"""Which samples complete which telemetry windows live (``telemetry_inputs.Windows``):
per logger, a sample of a later window completes the open one, a sample of an earlier
window is late, and a logger gone quiet keeps its window open while the others move on."""

from __future__ import annotations

import datetime as dt

import polars as pl

from cognirace.features.windows import WINDOW_S
from cognirace.realtime.telemetry_inputs import Windows

T0 = dt.datetime(2025, 4, 27, 15, 0, tzinfo=dt.UTC)  # on a window boundary (epoch / 5 s)


def _samples(*rows: tuple[str, float]) -> pl.DataFrame:
    """Samples of ``(vehicle_id, seconds after T0)``, the speed numbering them in order."""
    return pl.DataFrame(
        {"race_id": ["r"] * len(rows), "vehicle_id": [v for v, _ in rows],
         "time": [T0 + dt.timedelta(seconds=s) for _, s in rows],
         "speed_kph": [float(i) for i in range(len(rows))]},
        schema={"race_id": pl.String, "vehicle_id": pl.String,
                "time": pl.Datetime("us", "UTC"), "speed_kph": pl.Float64})


def _seconds(frame: pl.DataFrame | None) -> list[tuple[str, float]]:
    assert frame is not None
    return [(v, (t - T0).total_seconds()) for v, t in frame.select("vehicle_id", "time").rows()]


def test_a_frame_within_the_open_windows_completes_nothing() -> None:
    windows = Windows()
    assert windows.add(_samples(("a", 0.0), ("b", 0.5))) is None
    assert windows.add(_samples(("a", 1.0), ("b", 1.5))) is None
    assert windows.n_late == 0


def test_a_later_window_completes_the_open_one_with_every_sample_in_order() -> None:
    windows = Windows()
    windows.add(_samples(("a", 0.0), ("b", 0.5)))
    windows.add(_samples(("b", 1.5), ("a", 1.0)))
    done = windows.add(_samples(("a", 4.5), ("a", WINDOW_S + 0.5), ("b", 4.8),
                                ("b", WINDOW_S + 0.1)))
    assert _seconds(done) == [("a", 0.0), ("a", 1.0), ("a", 4.5),
                              ("b", 0.5), ("b", 1.5), ("b", 4.8)]
    assert done is not None and "window_id" not in done.columns
    # the new windows hold the samples past the boundary
    done = windows.add(_samples(("a", 2 * WINDOW_S), ("b", 2 * WINDOW_S)))
    assert _seconds(done) == [("a", WINDOW_S + 0.5), ("b", WINDOW_S + 0.1)]


def test_a_frame_spanning_several_windows_completes_each_but_its_last() -> None:
    windows = Windows()
    windows.add(_samples(("a", 0.0)))
    done = windows.add(_samples(("a", WINDOW_S), ("a", 2 * WINDOW_S), ("a", 3 * WINDOW_S)))
    assert _seconds(done) == [("a", 0.0), ("a", WINDOW_S), ("a", 2 * WINDOW_S)]


def test_a_sample_of_a_completed_window_is_counted_and_dropped() -> None:
    windows = Windows()
    windows.add(_samples(("a", 0.0), ("b", 0.0)))
    windows.add(_samples(("a", WINDOW_S), ("b", WINDOW_S)))
    done = windows.add(_samples(("a", 1.0), ("b", 2 * WINDOW_S)))  # a's is late
    assert windows.n_late == 1
    assert _seconds(done) == [("b", WINDOW_S)]
    done = windows.add(_samples(("a", 2 * WINDOW_S)))
    assert _seconds(done) == [("a", WINDOW_S)]  # the late sample is not in its window


def test_a_quiet_logger_keeps_its_window_until_it_moves_on() -> None:
    windows = Windows()
    windows.add(_samples(("a", 0.0), ("b", 0.0)))
    assert _seconds(windows.add(_samples(("b", WINDOW_S)))) == [("b", 0.0)]
    assert _seconds(windows.add(_samples(("b", 2 * WINDOW_S)))) == [("b", WINDOW_S)]
    assert _seconds(windows.add(_samples(("a", 3 * WINDOW_S)))) == [("a", 0.0)]


def test_without_a_reader_windows_are_tracked_but_not_returned() -> None:
    windows = Windows()
    windows.add(_samples(("a", 0.0)))
    assert windows.add(_samples(("a", WINDOW_S)), rows=lambda: False) is None
    assert _seconds(windows.add(_samples(("a", 2 * WINDOW_S)))) == [("a", WINDOW_S)]
