"""Calibration: the simulator against the real 2025 races, track by track, side by side.

Real figures come from ingesting ``../shared/real/`` (the 14 races' timing, lap and weather
files and the telemetry heads, read in place) into a temporary lake with ``cognirace
ingest``; simulated ones from a demo season simulated on a fresh seed (six races per
track by default) plus one Barber race with telemetry at the real logger's 23 Hz,
ingested the same way. Every figure is computed by the same code from both lakes:

* lap times: best lap, median green lap, the interquartile range of the field's green
  laps, the median over drivers of the standard deviation of a driver's green laps
  (laps within 7% of the median); green = flagged GF/FF, lap 2 on, neither in- nor
  out-lap;
* race: the winner's laps, the share of laps flagged FCY, cautions (runs of laps most
  cars ran under FCY), laps ending in the pit lane, cars that started;
* cautions over the whole season (``strategy.caution_record``; a track's two races hold
  too few to say anything alone): their mean length in laps, and the share of the cars
  running at a caution's start that stop in it, each with the real figure's 95%
  interval (two standard errors of the mean length; Wilson's for the share), which the
  simulated figure is ``in`` or ``OUT`` of;
* weather: the race's mean air and track temperature and humidity;
* telemetry: per channel, the sample rate, the range and the standard deviation of first
  differences (noise and motion) over the real head's window (42 s of Barber Race 1's
  formation lap, behind the pace car) and, simulated, the same stretch of a lap at
  caution pace (the closest the simulator comes to a formation lap);
* file format (raw bytes, which the lake does not keep): samples, distinct ``meta_time``
  and channels per sample among 10,000 rows of one car, sample interval, ``meta_time``
  after the sample, the ECU clock's offset, rows out of time order, float artifacts.

A real figure is the range (lowest..highest) over the track's two races; a simulated one
the median over the simulated races (its own range beside it). Status ``in``: inside the
real range; ``near``: inside it widened by the figure's tolerance (two races cannot pin
a range: lap times 0.5%, spreads 20%, laps and cautions 1, FCY share 0.05, pit laps 2,
cars 1, temperatures 2 °C, humidity 5%, telemetry x0.5..x2 for noise, 15% for ranges);
``OUT`` otherwise.

    python bench/calibrate.py [--seed N] [--races N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from calibrate_sensors import blade_noise, print_sensors, sensor_figures
from cognirace.lake import Lake, open_lake
from cognirace.sim import QuirkRates, RaceConfig, season_roster, simulate_one, simulate_season
from cognirace.strategy.caution_record import caution_spells, summarise

REAL = Path(__file__).resolve().parents[2] / "shared" / "real"
REAL_HEAD = REAL / "rish2jain__ToyotaGR" / "Data" / "barber" / "Samples" / \
    "R1_barber_telemetry_data_sample.csv"
TELEMETRY_HZ = 23.0
"""The real logger's rate: the telemetry race runs at it."""


GREEN = pl.col("flag").is_in(["GF", "FF"]) & (pl.col("lap") >= 2) & ~pl.col("in_pit") \
    & ~pl.col("out_lap")
"""A green lap: flagged green or chequered, not lap 1, neither ending nor starting in the pits."""

TELEMETRY_CHANNELS = ("speed_kph", "rpm", "gear", "aps", "ath", "pbrake_f", "pbrake_r",
                      "accx_g", "accy_g", "steering_deg", "lap_dist_m")
BLADE_HEADS = ("sonoma-R1", "sonoma-R2", "road_america-R1", "road_america-R2")
"""Real races whose telemetry head logs the throttle blade ``ath`` (three samples each)."""
REAL_WINDOW_START_M = 2627.0
"""Lap distance where the real head's window starts (it runs to the end of the lap)."""


def _race_row(laps: pl.DataFrame, results: pl.DataFrame, weather: pl.DataFrame
              ) -> dict[str, float]:
    green = laps.filter(GREEN)["lap_time_s"].to_numpy()
    med = float(np.median(green)) if len(green) else float("nan")
    per_driver = (laps.filter(GREEN & (pl.col("lap_time_s") < 1.07 * med))
                  .group_by("car").agg(pl.col("lap_time_s").std().alias("sd"), pl.len())
                  .filter(pl.col("len") >= 5))["sd"].to_numpy()
    by_lap = laps.group_by("lap").agg((pl.col("flag") == "FCY").mean().alias("f")).sort("lap")
    yellow = (by_lap["f"] > 0.5).to_numpy().astype(np.int64)
    started = results.filter(pl.col("laps") > 0)
    q1, q3 = np.percentile(green, [25, 75]) if len(green) else (np.nan, np.nan)
    return {
        "best lap (s)": float(laps.filter(pl.col("flag").is_in(["GF", "FF"]))["lap_time_s"]
                              .min() or np.nan),
        "median green lap (s)": med,
        "green-lap IQR, field (s)": float(q3 - q1),
        "green-lap sd, driver (s)": float(np.median(per_driver)) if len(per_driver) else np.nan,
        "laps (winner)": float(started["laps"].max() or np.nan),
        "FCY share of laps": float((laps["flag"] == "FCY").mean() or 0.0),
        "cautions": float((np.diff(np.concatenate([[0], yellow])) == 1).sum()),
        "pit-lane crossings": float(laps["in_pit"].sum()),
        "cars": float(started.height),
        "air temp (C)": float(weather["air_temp_c"].mean() or np.nan),
        "track temp (C)": float(weather["track_temp_c"].drop_nulls().mean() or np.nan)
        if weather["track_temp_c"].drop_nulls().len() else float("nan"),
        "humidity (%)": float(weather["humidity"].mean() or np.nan),
    }


def race_figures(lake: Lake) -> pl.DataFrame:
    """One row per race of the lake: every race figure."""
    laps = (lake.laps.filter(pl.col("lap_time_s").is_not_null() & pl.col("flag").is_not_null()
                             & pl.col("car_number").is_not_null())
            .with_columns(pl.col("car_number").alias("car"))
            .sort("race_id", "car", "lap")
            .with_columns(pl.col("in_pit").shift(1).over("race_id", "car").fill_null(False)
                          .alias("out_lap")))
    rows = []
    for race_id, track in lake.races.select("race_id", "track").iter_rows():
        row = _race_row(laps.filter(pl.col("race_id") == race_id),
                        lake.results.filter(pl.col("race_id") == race_id),
                        lake.weather.filter(pl.col("race_id") == race_id))
        rows.append({"race_id": race_id, "track": track, **row})
    return pl.DataFrame(rows)


def _channel_stats(window: pl.DataFrame) -> pl.DataFrame:
    t = window["time"].dt.epoch("ms").to_numpy() / 1000.0
    steps = np.diff(t)
    active = float(steps[steps < 1.0].sum()) + 0.043
    rows = []
    for ch in TELEMETRY_CHANNELS:
        if ch not in window.columns or window[ch].drop_nulls().is_empty():
            continue
        got = window.select("time", ch).drop_nulls()
        v = got[ch].cast(pl.Float64).to_numpy()
        tt = got["time"].dt.epoch("ms").to_numpy() / 1000.0
        d = np.diff(v)[np.diff(tt) < 0.5]
        rows.append({"channel": ch, "rate_hz": len(v) / active, "min": float(v.min()),
                     "max": float(v.max()), "sd_diff": float(np.std(d)) if len(d) else np.nan})
    return pl.DataFrame(rows)


def caution_stretches(lake: Lake, sim_folder: Path, from_m: float) -> list[pl.DataFrame]:
    """Each simulated car's samples on the race's first caution lap from ``from_m`` metres
    on, cars in the pit lane or with a fault left out (``sim_folder`` holds the race's
    truth)."""
    tel = lake.telemetry(lake.race_ids[0]).sort("vehicle_id", "time")
    truth = sim_folder / "truth"
    caution = pl.read_parquet(truth / "R1_cautions.parquet").filter(
        pl.col("end_lap") > pl.col("start_lap")).row(0, named=True)
    lap = caution["start_lap"] + 1
    cars = pl.read_parquet(truth / "R1_cars.parquet")
    faulty = pl.read_parquet(truth / "R1_faults.parquet")["car_number"]
    laps = pl.read_parquet(truth / "R1_laps.parquet").filter(
        (pl.col("lap") == lap) & ~pl.col("pit_in") & ~pl.col("pit_out")
        & ~pl.col("car_number").is_in(faulty.implode())).join(
        cars.select("car_number", "vehicle_id_written"), on="car_number")
    out = []
    for row in laps.sort("car_number").iter_rows(named=True):
        one = tel.filter((pl.col("vehicle_id") == row["vehicle_id_written"])
                         & pl.col("time").is_between(row["lap_start_utc"], row["lap_end_utc"]))
        # from the last reading before ``from_m``: the lap distance of the lap's first
        # samples may still read the previous lap's end (it resets a little late)
        before = one.filter(pl.col("lap_dist_m") < from_m)
        at = one.filter(pl.col("lap_dist_m") >= from_m)
        if before.height and at.height:
            out.append(one.filter(pl.col("time").is_between(before["time"].max(),
                                                            at["time"].max())
                                  & (pl.col("time") > before["time"].max())))
        elif at.height and from_m <= 0.0:
            out.append(one)
    if not out:
        raise SystemExit("no simulated car ran the caution lap in the telemetry race")
    return out


def telemetry_figures(lake: Lake, sim_folder: Path | None) -> pl.DataFrame:
    """Channel figures over the real head's window, or the same stretch of a simulated
    lap at caution pace (``sim_folder`` holds the race's truth)."""
    if sim_folder is None:
        return _channel_stats(lake.telemetry("barber-R1").sort("vehicle_id", "time"))
    return _channel_stats(caution_stretches(lake, sim_folder, REAL_WINDOW_START_M)[0])


def sensor_table(real_lake: Lake, tel_lake: Lake, tel_folder: Path, blade_lake: Lake,
                 blade_folder: Path) -> dict[str, int]:
    """The sensor figures (``calibrate_sensors``), real heads against simulated cars."""
    real = sensor_figures(real_lake.telemetry("barber-R1").sort("time"))
    real["noise ath (%)"] = blade_noise([real_lake.telemetry(r).sort("time")
                                         for r in BLADE_HEADS])
    sims = [sensor_figures(w) for w in caution_stretches(tel_lake, tel_folder,
                                                         REAL_WINDOW_START_M)]
    blades = caution_stretches(blade_lake, blade_folder, 0.0)
    for fig, window in zip(sims, blades, strict=False):
        fig["noise ath (%)"] = blade_noise([window])
    return print_sensors(real, sims)


def file_figures(path: Path, rows: int = 10_000) -> dict[str, str]:
    """File-format figures over the first ``rows`` rows of the file's first car."""
    raw = pl.read_csv(path, infer_schema=False, n_rows=4 * rows)
    raw = raw.filter(pl.col("vehicle_id") == raw["vehicle_id"][0]).head(rows)
    fmt = "%Y-%m-%dT%H:%M:%S%.3fZ"
    ts = raw["timestamp"].str.to_datetime(fmt).dt.epoch("ms").to_numpy()
    meta = raw["meta_time"].str.to_datetime(fmt).dt.epoch("ms").to_numpy()
    samples = np.unique(ts)
    step = np.diff(samples)
    per_sample = raw.group_by("timestamp").agg(pl.col("telemetry_name").n_unique())[
        "telemetry_name"].to_numpy()
    late = (meta - ts) / 1000.0
    offset = float(np.percentile(late, 1))
    behind = -offset if offset < 0 else offset
    days, rem = divmod(abs(behind), 86_400)
    text = raw["telemetry_value"].to_list()
    dup = raw.height - raw.unique(["timestamp", "telemetry_name"]).height
    return {
        "samples (distinct timestamp)": f"{len(samples):,}",
        "distinct meta_time": f"{len(np.unique(meta)):,}",
        "channels per sample (5..95%)":
            f"{np.percentile(per_sample, 5):.0f}..{np.percentile(per_sample, 95):.0f}",
        "sample interval, median (ms)": f"{np.median(step):.0f}",
        "intervals 42..46 ms": f"{np.mean((step >= 42) & (step <= 46)):.0%}",
        "meta_time after sample (s, 1..100%)":
            f"{np.percentile(late, 1) - offset:.2f}..{late.max() - offset:.2f}",
        "ECU clock behind meta_time": f"{int(days)} d {rem / 3600:.2f} h" if offset else "0",
        "rows stepping back in time": f"{np.mean(np.diff(ts) < 0):.0%}",
        "rows stored twice": f"{dup / raw.height:.1%}",
        "values with float artifacts": f"{np.mean([len(v) > 12 and '.' in v for v in text]):.1%}",
    }


TOLERANCE: dict[str, tuple[str, float]] = {
    "best lap (s)": ("rel", 0.005), "median green lap (s)": ("rel", 0.005),
    "green-lap IQR, field (s)": ("rel", 0.2), "green-lap sd, driver (s)": ("rel", 0.2),
    "laps (winner)": ("abs", 1.0), "FCY share of laps": ("abs", 0.05),
    "cautions": ("abs", 1.0), "pit-lane crossings": ("abs", 2.0), "cars": ("abs", 1.0),
    "air temp (C)": ("abs", 2.0), "track temp (C)": ("abs", 2.0),
    "humidity (%)": ("abs", 5.0),
}
"""How far outside the real range a simulated figure is still ``near``."""


def _ingest(src: Path, lake: Path) -> Lake:
    exe = Path(sys.executable).with_name("cognirace")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "cognirace.cli.main"]
    done = subprocess.run([*cmd, "ingest", str(src), "--lake", str(lake), "-q"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"cognirace ingest {src} failed:\n{done.stdout}\n{done.stderr}")
    return open_lake(lake)


def _telemetry_race(out: Path, seed: int, track: str = "barber") -> tuple[Path, str]:
    """A short race at 23 Hz with a caution early on; its folder and race id."""
    from cognirace.sim.drivers import pick_field
    from cognirace.sim.engine import simulate_race
    from cognirace.sim.season import race_seed

    roster = season_roster(seed)
    for attempt in range(200):
        config = RaceConfig(track, "R1", event_number=50, n_cars=6, duration_s=1200.0,
                            telemetry_hz=TELEMETRY_HZ, quirks=QuirkRates())
        run_seed = seed * 1000 + attempt
        rng = np.random.default_rng(race_seed(run_seed, config).spawn(4)[0])
        drivers = [roster[i] for i in pick_field(roster, config.n_cars, rng)]
        race = simulate_race(config, drivers, rng)
        if any(c.end_lap > c.start_lap and c.start_lap <= 5 for c in race.cautions):
            summary = simulate_one(out, config, roster, run_seed)
            return summary.folder, summary.race_id
    raise SystemExit(f"no simulated {track} race with an early caution in 200 seeds")


def _status(name: str, lo: float, hi: float, value: float) -> str:
    if not np.isfinite(value):
        return "-"
    if lo - 1e-9 <= value <= hi + 1e-9:
        return "in"
    kind, tol = TOLERANCE.get(name, ("rel", 0.0))
    pad = tol * max(abs(lo), abs(hi)) if kind == "rel" else tol
    return "near" if lo - pad <= value <= hi + pad else "OUT"


def _fmt(x: float) -> str:
    if not np.isfinite(x):
        return "-"
    return f"{x:.3f}" if abs(x) < 10 else f"{x:.1f}" if abs(x) < 1000 else f"{x:.0f}"


def print_races(real: pl.DataFrame, sim: pl.DataFrame) -> dict[str, int]:
    """The per-track table of race figures; returns the count of each status."""
    counts = {"in": 0, "near": 0, "OUT": 0}
    names = [c for c in real.columns if c not in ("race_id", "track")]
    print(f"\n{'track':<13}{'figure':<26}{'real (2 races)':>20}{'sim median':>12}"
          f"{'sim range':>20}  status")
    for track in sorted(set(real["track"])):
        r = real.filter(pl.col("track") == track)
        s = sim.filter(pl.col("track") == track)
        for name in names:
            rv = r[name].drop_nulls().drop_nans().to_numpy()
            sv = s[name].drop_nulls().drop_nans().to_numpy()
            if not len(rv):
                print(f"{track:<13}{name:<26}{'not measured':>20}"
                      f"{_fmt(float(np.median(sv))) if len(sv) else '-':>12}")
                continue
            lo, hi = float(rv.min()), float(rv.max())
            med = float(np.median(sv)) if len(sv) else float("nan")
            srange = f"{_fmt(float(sv.min()))}..{_fmt(float(sv.max()))}" if len(sv) else "-"
            status = _status(name, lo, hi, med)
            counts[status] = counts.get(status, 0) + 1
            print(f"{track:<13}{name:<26}{_fmt(lo) + '..' + _fmt(hi):>20}{_fmt(med):>12}"
                  f"{srange:>20}  {status}")
        print()
    return counts


def print_cautions(real: Lake, sim: Lake) -> dict[str, int]:
    """Season-wide caution figures, real against simulated; returns the count of each
    status."""
    counts = {"in": 0, "near": 0, "OUT": 0}
    real_spells = caution_spells(real.laps)
    real_record, sim_record = summarise(real_spells), summarise(caution_spells(sim.laps))
    print(f"\n{'cautions, whole season':<40}{'real':>10}{'real 95%':>18}{'sim':>10}  status")
    print(f"{'cautions':<40}{real_record.cautions:>10}{'':>18}{sim_record.cautions:>10}")
    mean = real_record.mean_laps
    se = float(real_spells["laps"].cast(pl.Float64).std() or 0.0) / np.sqrt(real_record.cautions)
    rows = [("mean length (laps)", mean, mean - 2 * se, mean + 2 * se, sim_record.mean_laps),
            ("cars stopping in a caution (share)", real_record.stop_rate,
             *real_record.stop_rate_ci95(), sim_record.stop_rate)]
    for name, value, lo, hi, sim_value in rows:
        status = "in" if lo <= sim_value <= hi else "OUT"
        counts[status] += 1
        print(f"{name:<40}{_fmt(value):>10}{_fmt(lo) + '..' + _fmt(hi):>18}"
              f"{_fmt(sim_value):>10}  {status}")
    return counts


def print_telemetry(real: pl.DataFrame, sim: pl.DataFrame) -> dict[str, int]:
    """Per channel: rate, range and noise, real head window against the simulated one."""
    counts = {"in": 0, "near": 0, "OUT": 0}
    print(f"\n{'channel':<14}{'rate real/sim (Hz)':>20}{'range real':>22}{'range sim':>22}"
          f"{'sd(diff) real/sim':>22}  status")
    for ch in TELEMETRY_CHANNELS:
        r = real.filter(pl.col("channel") == ch)
        s = sim.filter(pl.col("channel") == ch)
        if r.is_empty() or s.is_empty():
            print(f"{ch:<14}{'(not logged at this track)':>20}")
            continue
        rr, ss = r.row(0, named=True), s.row(0, named=True)
        span = max(rr["max"] - rr["min"], 1e-9)
        ok_rate = abs(ss["rate_hz"] / rr["rate_hz"] - 1) <= 0.15
        inside = rr["min"] - 0.15 * span <= ss["min"] and ss["max"] <= rr["max"] + 0.15 * span
        ratio = ss["sd_diff"] / rr["sd_diff"] if rr["sd_diff"] > 0 else float("nan")
        ok_noise = 0.5 <= ratio <= 2.0
        status = "in" if ok_rate and inside and ok_noise else \
            "near" if ok_rate and (inside or ok_noise) else "OUT"
        counts[status] += 1
        print(f"{ch:<14}{_fmt(rr['rate_hz']) + ' / ' + _fmt(ss['rate_hz']):>20}"
              f"{_fmt(rr['min']) + '..' + _fmt(rr['max']):>22}"
              f"{_fmt(ss['min']) + '..' + _fmt(ss['max']):>22}"
              f"{_fmt(rr['sd_diff']) + ' / ' + _fmt(ss['sd_diff']):>22}  {status}")
    return counts


def print_files(real: dict[str, str], sim: dict[str, str]) -> None:
    """The raw-file figures side by side."""
    print(f"\n{'file format (10,000 rows of one car)':<44}{'real Barber R1 head':>24}"
          f"{'simulated, 23 Hz':>24}")
    for key, value in real.items():
        print(f"{key:<44}{value:>24}{sim.get(key, '-'):>24}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2026, help="seed of the simulated season")
    parser.add_argument("--races", type=int, default=6, help="simulated races per track")
    parser.add_argument("--keep", type=Path, default=None, help="keep the work folder here")
    args = parser.parse_args()
    if not REAL.is_dir():
        raise SystemExit(f"no real data at {REAL}: the calibration needs ../shared/real")
    work = args.keep or Path(tempfile.mkdtemp(prefix="cognirace-calibrate-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        real_lake = _ingest(REAL, work / "real-lake")
        sim_src = work / "sim"
        simulate_season(sim_src, season="demo", races=args.races, telemetry_hz=0.0,
                        seed=args.seed)
        tel_folder, _ = _telemetry_race(work / "sim-telemetry", args.seed)
        blade_folder, _ = _telemetry_race(work / "sim-blade", args.seed, "sonoma")
        sim_lake = _ingest(sim_src, work / "sim-lake")
        tel_lake = _ingest(tel_folder, work / "sim-telemetry-lake")
        blade_lake = _ingest(blade_folder, work / "sim-blade-lake")
        print(f"calibration: {len(real_lake.race_ids)} real races, {len(sim_lake.race_ids)} "
              f"simulated (seed {args.seed}), ingested with `cognirace ingest`")
        counts = print_races(race_figures(real_lake), race_figures(sim_lake))
        for status, n in print_cautions(real_lake, sim_lake).items():
            counts[status] += n
        tcounts = print_telemetry(telemetry_figures(real_lake, None),
                                  telemetry_figures(tel_lake, tel_folder))
        scounts = sensor_table(real_lake, tel_lake, tel_folder, blade_lake, blade_folder)
        sim_file = next(iter(sorted(tel_folder.glob("*telemetry*.csv"))))
        print_files(file_figures(REAL_HEAD), file_figures(sim_file))
        print(f"\nrace figures: {counts['in']} in, {counts['near']} near, {counts['OUT']} OUT; "
              f"telemetry channels: {tcounts['in']} in, {tcounts['near']} near, "
              f"{tcounts['OUT']} OUT; sensor figures: {scounts['in']} in, "
              f"{scounts['near']} near, {scounts['OUT']} OUT  "
              f"({time.perf_counter() - started:.0f} s)")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
