"""Simulated races against the real 2025 races, and telemetry that is not too clean.

The real figures come from the real ``23_`` analysis files, read in place from
``../shared/real`` (the project root's sibling); the tests skip when it is absent. A
figure is the real range over a track's two races, widened by the tolerance two races
call for (``bench/calibrate.py`` prints the full comparison).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cognirace.domain.laptime import parse_duration_s
from cognirace.domain.tracks import TRACKS, track_from_name
from cognirace.sim import plan_season, season_roster, simulate_race
from cognirace.sim.drivers import pick_field
from cognirace.sim.engine import RaceResult
from cognirace.sim.sensors import HEAVY_TAILED, NOISE, CarSensors, read_sensors
from cognirace.sim.telemetry import ALL_CHANNELS, synthesize_car

REAL = Path(__file__).resolve().parents[3] / "shared" / "real"
SEED = 31
TOLERANCE = {"best": ("rel", 0.005), "median": ("rel", 0.006), "iqr": ("rel", 0.3),
             "sd": ("rel", 0.3), "laps": ("abs", 1.0), "fcy": ("abs", 0.08)}


def _figures(laps: pl.DataFrame) -> dict[str, float]:
    """Figures of one race from ``car, lap, t, flag, pit`` rows."""
    laps = laps.sort("car", "lap").with_columns(
        pl.col("pit").shift(1).over("car").fill_null(False).alias("out"))
    green = laps.filter(pl.col("flag").is_in(["GF", "FF"]) & (pl.col("lap") >= 2)
                        & ~pl.col("pit") & ~pl.col("out"))
    t = green["t"].to_numpy()
    median = float(np.median(t))
    sds = (green.filter(pl.col("t") < 1.07 * median).group_by("car")
           .agg(pl.col("t").std(), pl.len()).filter(pl.col("len") >= 5)["t"].to_numpy())
    q1, q3 = np.percentile(t, [25, 75])
    return {"best": float(green["t"].min()), "median": median, "iqr": float(q3 - q1),
            "sd": float(np.median(sds)), "laps": float(laps["lap"].max()),
            "fcy": float((laps["flag"] == "FCY").mean())}


def _real_laps(path: Path) -> pl.DataFrame:
    text = path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    raw = pl.read_csv(io.StringIO(text), separator=";", infer_schema=False)
    raw = raw.rename({c: c.strip() for c in raw.columns})
    return raw.select(
        pl.col("NUMBER").str.strip_chars().alias("car"),
        pl.col("LAP_NUMBER").cast(pl.Int64).alias("lap"),
        pl.col("LAP_TIME").map_elements(parse_duration_s, return_dtype=pl.Float64).alias("t"),
        pl.col("FLAG_AT_FL").str.strip_chars().alias("flag"),
        (pl.col("CROSSING_FINISH_LINE_IN_PIT").fill_null("").str.strip_chars() == "B")
        .alias("pit"),
    )


@pytest.fixture(scope="module")
def real_figures() -> dict[str, list[dict[str, float]]]:
    if not REAL.is_dir():
        pytest.skip(f"the real 2025 files are not at {REAL}")
    out: dict[str, list[dict[str, float]]] = {}
    for path in sorted(REAL.glob("edimaudo__grcup-analytics/data/*/*/23_*")):
        track = track_from_name(str(path))
        assert track is not None and re.search(r"Race \d", str(path))
        out.setdefault(track.key, []).append(_figures(_real_laps(path)))
    assert sorted(out) == sorted(TRACKS)
    return out


def _sim_laps(race: RaceResult) -> pl.DataFrame:
    lap, car = np.nonzero(race.completed())
    last = (race.laps_done[car] == lap + 1) & (race.end_s[lap, car] >= race.finish_s - 1e-6)
    flag = np.where(last, "FF", np.where(race.caution_lap[lap, car], "FCY", "GF"))
    return pl.DataFrame({"car": car, "lap": lap + 1, "t": race.lap_time_s[lap, car],
                         "flag": flag, "pit": race.pit_in[lap, car]})


@pytest.fixture(scope="module")
def sim_figures() -> dict[str, list[dict[str, float]]]:
    roster = season_roster(SEED)
    out: dict[str, list[dict[str, float]]] = {}
    for i, config in enumerate(plan_season("demo", races=4, seed=SEED)):
        rng = np.random.default_rng([SEED, i])
        race = simulate_race(config, [roster[j] for j in pick_field(roster, config.n_cars, rng)],
                             rng)
        out.setdefault(config.track, []).append(_figures(_sim_laps(race)))
    return out


@pytest.mark.parametrize("track", sorted(TRACKS))
def test_simulated_races_fall_in_the_real_range(
    track: str, real_figures: dict[str, list[dict[str, float]]],
    sim_figures: dict[str, list[dict[str, float]]],
) -> None:
    for name, (kind, tol) in TOLERANCE.items():
        real = [f[name] for f in real_figures[track]]
        low, high = min(real), max(real)
        pad = tol * high if kind == "rel" else tol
        sim = float(np.median([f[name] for f in sim_figures[track]]))
        assert low - pad <= sim <= high + pad, f"{track} {name}: {sim:.3f} vs {low}..{high}"


@pytest.fixture(scope="module")
def telemetry() -> dict[str, np.ndarray]:
    roster = season_roster(SEED)
    from cognirace.sim import RaceConfig

    race = simulate_race(RaceConfig("cota", n_cars=4, duration_s=900.0), roster[:4],
                         np.random.default_rng(SEED))
    car = int(np.argmax(race.laps_done))  # one that ran the whole race
    tel = synthesize_car(race, car, 20.0, np.random.default_rng(SEED))
    return {"lap": tel.lap, **tel.values}


def test_throttle_blade_is_no_exact_function_of_the_pedal(
    telemetry: dict[str, np.ndarray],
) -> None:
    aps, ath, lap = telemetry["aps"], telemetry["ath"], telemetry["lap"]
    part = (aps > 10) & (aps < 90)
    slope, intercept = np.polyfit(aps[part], ath[part], 1)
    residual = ath[part] - (slope * aps[part] + intercept)
    assert np.std(residual) > 0.3  # not ath = a * aps + b
    slopes = [np.polyfit(aps[part & (lap == k)], ath[part & (lap == k)], 1)[0]
              for k in range(2, int(lap.max())) if (part & (lap == k)).sum() > 20]
    assert np.std(slopes) > 0.002  # the relation wanders from lap to lap


def test_rear_brake_is_no_constant_share_of_the_front(telemetry: dict[str, np.ndarray]) -> None:
    front, rear = telemetry["pbrake_f"], telemetry["pbrake_r"]
    braking = front > 5
    ratio = rear[braking] / front[braking]
    assert np.std(ratio) > 0.02
    assert ratio[front[braking] > 60].mean() < ratio[front[braking] < 20].mean()  # the knee


def test_channels_carry_sensor_noise() -> None:
    rng = np.random.default_rng(SEED)
    n = 5000
    true = {name: np.full(n, 50.0) for name in ALL_CHANNELS}
    read = read_sensors(true, np.ones(n, dtype=np.int64), 20.0, CarSensors.draw(rng), rng)
    for name, sd in NOISE.items():
        x = read[name]
        robust = 1.4826 * np.median(np.abs(x - np.median(x)))
        assert 0.85 * sd < robust < 1.15 * sd, name
        tails = np.std(x) / robust
        assert tails > 1.3 if name in HEAVY_TAILED else tails < 1.1, name


def test_no_two_laps_are_the_same_trace_scaled(telemetry: dict[str, np.ndarray]) -> None:
    lap, speed, dist = telemetry["lap"], telemetry["speed"], telemetry["Laptrigger_lapdist_dls"]
    grid = np.linspace(500.0, 4500.0, 200)
    traces = [np.interp(grid, dist[lap == k], speed[lap == k]) for k in (3, 4, 5)]
    for a, b in ((0, 1), (1, 2)):
        ratio = traces[a] / traces[b]
        assert np.std(ratio / ratio.mean()) > 0.004  # the line varies along the lap
