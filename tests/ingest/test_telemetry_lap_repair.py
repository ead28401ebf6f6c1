"""Telemetry lap repair: lap start/end windows first, then the lap-distance reset, then
carrying the last good lap forward."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from cognirace.domain.channels import LAP_NUMBER_SENTINEL
from cognirace.ingest import ingest
from cognirace.ingest.telemetry_laps import REPAIR_SOURCES, repair_telemetry_laps, window_laps
from cognirace.lake import open_lake
from cognirace.lake.schema import UTC_TIME
from factories import RaceSpec, write_race

T0 = dt.datetime(2025, 7, 20, 18, 0, tzinfo=dt.UTC)
LAP_TIMES_S = (10.0, 12.0, 11.0)
"""Three laps of one car, sampled at 1 Hz from T0."""
SPEED_MPS = 400.0
"""Time runs fast in these races: 4 km laps in about 10 s, so a lap is 10 samples."""


def _at(t_s: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=t_s)


def _windows(vehicle_id: str = "GR86-002-2", lap_times_s: tuple[float, ...] = LAP_TIMES_S
             ) -> pl.DataFrame:
    """``vehicle_id, lap, lap_start, lap_end`` as the lap files give them."""
    ends = [sum(lap_times_s[: i + 1]) for i in range(len(lap_times_s))]
    starts = [0.0, *ends[:-1]]
    return pl.DataFrame(
        {"vehicle_id": vehicle_id, "lap": range(1, len(ends) + 1),
         "lap_start": [_at(s) for s in starts], "lap_end": [_at(e) for e in ends]},
        schema={"vehicle_id": pl.String, "lap": pl.Int64, "lap_start": UTC_TIME,
                "lap_end": UTC_TIME},
    )


def _samples(lap_times_s: tuple[float, ...] = LAP_TIMES_S, *, dist_lag_s: float = 0.0,
             with_dist: bool = True, vehicle_id: str = "GR86-002-2") -> pl.DataFrame:
    """One sample a second with its true lap (``true_lap``) and lap distance."""
    t_s: list[float] = []
    laps: list[int] = []
    start = 0.0
    for lap, lap_s in enumerate(lap_times_s, start=1):
        t_s += [start + k for k in range(round(lap_s))]
        laps += [lap] * round(lap_s)
        start += lap_s
    frame = pl.DataFrame({"vehicle_id": vehicle_id, "time": [_at(t) for t in t_s],
                          "lap": laps, "true_lap": laps},
                         schema={"vehicle_id": pl.String, "time": UTC_TIME, "lap": pl.Int64,
                                 "true_lap": pl.Int64})
    return frame.with_columns(_lap_distance(t_s, lap_times_s, dist_lag_s, with_dist))


def _lap_distance(t_s: list[float], lap_times_s: tuple[float, ...], lag_s: float,
                  present: bool) -> pl.Series:
    """Metres from the line, the reset ``lag_s`` after each crossing (a late beacon); all
    missing when the channel is not ``present``."""
    resets = [sum(lap_times_s[: i + 1]) + lag_s for i in range(len(lap_times_s) - 1)]
    values: list[float | None] = []
    for t in t_s:
        last = max([0.0, *(r for r in resets if r <= t)])
        values.append((t - last + (lag_s if last else 0.0)) * SPEED_MPS if present else None)
    return pl.Series("lap_dist_m", values, dtype=pl.Float64)


def _sentinel(frame: pl.DataFrame, first_s: float, last_s: float) -> pl.DataFrame:
    hit = pl.col("time").is_between(_at(first_s), _at(last_s))
    return frame.with_columns(pl.when(hit).then(LAP_NUMBER_SENTINEL).otherwise(pl.col("lap"))
                              .alias("lap"))


def test_window_laps_places_samples_in_start_end_windows() -> None:
    samples = pl.DataFrame({"vehicle_id": ["GR86-002-2"] * 4 + ["GR86-099-9"],
                            "time": [_at(t) for t in (-1.0, 9.999, 10.0, 33.0, 5.0)]},
                           schema={"vehicle_id": pl.String, "time": UTC_TIME})
    placed = window_laps(samples, _windows()).sort("vehicle_id", "time")
    # before the first lap, the end of lap 1, the start of lap 2 (an end is the next start),
    # after the last lap, a car without lap files
    assert placed["_window"].to_list() == [None, 1, 2, None, None]


def test_sentinel_stretch_across_lap_ends_takes_the_laps_of_the_windows() -> None:
    frame = _sentinel(_samples(), 7, 25)
    fixed, by_source = repair_telemetry_laps(frame.drop("true_lap"), _windows())
    assert fixed["lap"].to_list() == frame["true_lap"].to_list()
    assert by_source == {"lap times": 19}


def test_windows_beat_a_late_lap_distance_reset() -> None:
    frame = _sentinel(_samples(dist_lag_s=2.0), 0, 33)
    by_window, _ = repair_telemetry_laps(frame.drop("true_lap"), _windows())
    by_distance, by_source = repair_telemetry_laps(frame.drop("true_lap"))
    assert by_window["lap"].to_list() == frame["true_lap"].to_list()
    late = frame.with_columns(  # the first 2 s of laps 2 and 3 still count as the lap before
        pl.when(pl.col("time").is_in([_at(10), _at(11), _at(22), _at(23)]))
        .then(pl.col("true_lap") - 1).otherwise(pl.col("true_lap")).alias("late_lap"))
    assert by_distance["lap"].to_list() == late["late_lap"].to_list()
    assert by_source == {"lap distance": 33}


def test_windows_work_without_a_lap_distance_channel() -> None:
    frame = _sentinel(_samples(with_dist=False), 8, 24)
    fixed, by_source = repair_telemetry_laps(frame.drop("true_lap"), _windows())
    carried, carried_by = repair_telemetry_laps(frame.drop("true_lap"))
    assert fixed["lap"].to_list() == frame["true_lap"].to_list()
    assert by_source == {"lap times": 17}
    assert carried["lap"].max() == 3 and carried_by == {"carried forward": 17}
    assert carried["lap"].to_list() != frame["true_lap"].to_list()


def test_samples_outside_every_window_fall_back_to_lap_distance_then_carry() -> None:
    with_dist = _sentinel(_samples(vehicle_id="GR86-002-2"), 20, 33)
    no_dist = _sentinel(_samples(vehicle_id="GR86-010-5", with_dist=False), 20, 33)
    frame = pl.concat([with_dist, no_dist])
    windows = _windows(lap_times_s=LAP_TIMES_S[:2])  # car 2's lap 3 missing, no car 5
    fixed, by_source = repair_telemetry_laps(frame.drop("true_lap"), windows)
    car2 = fixed.filter(pl.col("vehicle_id") == "GR86-002-2")
    assert car2["lap"].to_list() == with_dist["true_lap"].to_list()
    assert by_source == {"carried forward": 13, "lap distance": 11, "lap times": 2}
    assert set(by_source) <= set(REPAIR_SOURCES)


@given(st.lists(st.integers(3, 30), min_size=1, max_size=6), st.data())
def test_any_sentinel_stretch_is_repaired_exactly_from_windows(
        lap_s: list[int], data: st.DataObject) -> None:
    laps = tuple(float(s) for s in lap_s)
    frame = _samples(laps, with_dist=data.draw(st.booleans()))
    n = frame.height
    first = data.draw(st.integers(0, n - 1))
    last = data.draw(st.integers(first, n - 1))
    broken = _sentinel(frame, first, last)
    fixed, by_source = repair_telemetry_laps(broken.drop("true_lap"), _windows(lap_times_s=laps))
    assert fixed["lap"].to_list() == frame["true_lap"].to_list()
    assert by_source == {"lap times": last - first + 1}


def test_ingest_places_telemetry_by_the_official_crossings_without_lap_distance(
        tmp_path: Path) -> None:
    folder = write_race(tmp_path / "barber", RaceSpec(sentinel={("002", 2), ("010", 1)}))
    tel_path = folder / "R1_barber_telemetry_data.csv"
    lines = tel_path.read_text().splitlines(keepends=True)
    tel_path.write_text("".join(line for line in lines if "Laptrigger_lapdist_dls" not in line))
    report = ingest(folder, tmp_path / "lake")[0]
    tel = open_lake(tmp_path / "lake").telemetry("barber-R1")
    car2 = tel.filter(pl.col("vehicle_id") == "GR86-002-2")
    assert dict(car2.group_by("lap").len().iter_rows()) == {1: 124, 2: 121, 3: 120}
    assert report.telemetry_laps_repaired == 121 + 125
    assert report.repairs == {}  # every sample placed by the official crossings
