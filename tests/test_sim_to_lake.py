"""End to end: simulated race files through the ingest agree with the simulator's truth.

Two short races with every quirk turned up (lap 32768 in telemetry and lap files, number
0, an ECU clock days off with drift, batched ``meta_time``, rows out of order), one with
telemetry at 2 Hz, are written by the simulator and ingested; the lake is then compared
with the ``truth/`` tables. The truth is used here only, as the answer key: the ingest
never sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from cognirace.domain.channels import LAP_NUMBER_SENTINEL
from cognirace.ingest import RaceReport, ingest
from cognirace.ingest.laps import MAX_LAP
from cognirace.lake import Lake, open_lake
from cognirace.sim import QuirkRates, RaceConfig, season_roster, simulate_one

SEED = 20250720
"""A seed whose two races have a caution, pit stops and every quirk (asserted below)."""
QUIRKS = QuirkRates(p_lap_sentinel_car=0.5, p_ecu_drift_car=0.3, p_number_zero_car=0.25,
                    p_lap_file_glitch_row=0.05)
RACES = (
    RaceConfig("barber", "R1", n_cars=8, duration_s=900.0, telemetry_hz=2.0, quirks=QUIRKS),
    RaceConfig("cota", "R2", event_number=2, n_cars=8, duration_s=900.0, quirks=QUIRKS),
)
LAP_TIME_TOLERANCE_S = 0.05
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"
ECU_PLACEMENT_S = 0.5
"""How close the lake's real time of a sample is to its true time: the ECU offset is
estimated from the fastest delivery of a batch (a few tenths of a second), s."""


@dataclass(frozen=True)
class Season:
    """The simulated files, the lake built from them and the truth, by lake race id."""

    src: Path
    lake: Lake
    reports: dict[str, RaceReport]
    folders: dict[str, Path]

    def truth(self, table: str) -> pl.DataFrame:
        """One truth table over all races, with the lake's ``race_id``."""
        frames = []
        for race_id, folder in self.folders.items():
            session = self.lake.races.filter(pl.col("race_id") == race_id)["session"].item()
            frame = pl.read_parquet(folder / "truth" / f"{session}_{table}.parquet")
            frames.append(frame.with_columns(pl.lit(race_id).alias("race_id")))
        return pl.concat(frames)


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Season:
    root = tmp_path_factory.mktemp("sim_to_lake")
    roster = season_roster(SEED)
    written = [simulate_one(root / "src", config, roster, SEED) for config in RACES]
    reports = ingest(root / "src", root / "lake")
    lake = open_lake(root / "lake")
    folders = {}
    for race in written:
        cfg = race.config
        match = lake.races.filter((pl.col("track") == cfg.track)
                                  & (pl.col("session") == cfg.session))
        assert match.height == 1
        folders[match["race_id"].item()] = race.folder
    return Season(root / "src", lake, {r.race_id: r for r in reports}, folders)


def _truth_laps(season: Season) -> pl.DataFrame:
    """Truth laps with each car's chassis and the vehicle id its files carry."""
    cars = season.truth("cars").select("race_id", "car_number", "chassis", "vehicle_id_written")
    return season.truth("laps").join(cars, on=["race_id", "car_number"])


def _lake_laps(season: Season) -> pl.DataFrame:
    """Lake laps with the chassis of their car."""
    chassis = season.lake.cars.select("race_id", "vehicle_id", "chassis")
    return season.lake.laps.join(chassis, on=["race_id", "vehicle_id"], how="left")


def test_the_races_carry_every_quirk_the_test_relies_on(season: Season) -> None:
    cars = season.truth("cars")
    laps = season.truth("laps")
    assert (cars["vehicle_number_written"] == 0).sum() >= 2
    assert cars.filter(pl.col("race_id") == "barber-R1")["lap_sentinel"].any()
    assert (cars["ecu_offset_s"].abs() > 86_400).all()
    assert (cars["ecu_drift_ppm"] != 0).any()
    assert (laps["lap_in_start_file"] != laps["lap"]).any()
    assert season.truth("cautions").height >= 1
    assert season.truth("pit_stops").height >= 2


def test_every_truth_lap_is_in_the_lake_with_its_time(season: Season) -> None:
    truth = _truth_laps(season)
    lake = _lake_laps(season).select(
        "race_id", "chassis", "lap", pl.col("car_number").alias("lake_number"),
        pl.col("lap_time_s").alias("lake_lap_time_s"), pl.col("lap_end").alias("lake_end"))
    joined = truth.join(lake, on=["race_id", "chassis", "lap"], how="left")
    assert joined.height == truth.height
    assert joined["lake_lap_time_s"].null_count() == 0
    err_s = (pl.col("lake_lap_time_s") - pl.col("lap_time_s")).abs().max()
    assert joined.select(err_s).item() < LAP_TIME_TOLERANCE_S
    end_err_s = (pl.col("lake_end") - pl.col("lap_end_utc")).dt.total_milliseconds().abs().max()
    assert joined.select(end_err_s).item() / 1000 < LAP_TIME_TOLERANCE_S  # HOUR read as local
    assert (joined["lake_number"] == joined["car_number"]).all()
    assert season.lake.laps.height == truth.height  # and nothing the truth lacks
    assert not season.lake.laps["repaired"].any()  # the official timing needs no repair


def test_every_logged_car_gets_its_true_number_whatever_it_logged(season: Season) -> None:
    cars = season.truth("cars")
    assert (cars["vehicle_number_written"] == 0).any()
    lake = season.lake.cars.select("race_id", pl.col("vehicle_id").alias("vehicle_id_written"),
                                   pl.col("chassis").alias("lake_chassis"),
                                   pl.col("car_number").alias("lake_number"))
    joined = cars.join(lake, on=["race_id", "vehicle_id_written"], how="left")
    assert joined.height == cars.height
    assert (joined["lake_number"] == joined["car_number"]).all()
    assert (joined["lake_chassis"] == joined["chassis"]).all()


def test_fcy_laps_are_the_truth_caution_laps(season: Season) -> None:
    truth = _truth_laps(season).select("race_id", "chassis", "lap", "caution")
    lake = _lake_laps(season).select("race_id", "chassis", "lap", "flag")
    joined = truth.join(lake, on=["race_id", "chassis", "lap"])
    assert joined.height == truth.height
    assert joined["flag"].null_count() == 0
    assert ((joined["flag"] == "FCY") == joined["caution"]).all()
    assert joined.filter(pl.col("flag") == "FCY").height > 0


def test_pit_laps_are_the_truth_pit_stops(season: Season) -> None:
    stops = season.truth("pit_stops").select("race_id", "car_number", "lap", "pit_time_s")
    lake = season.lake.laps.filter(pl.col("in_pit")).select(
        "race_id", "car_number", "lap", pl.col("pit_time_s").alias("lake_pit_time_s"))
    keys = ["race_id", "car_number", "lap"]
    assert sorted(lake.select(keys).rows()) == sorted(stops.select(keys).rows())
    joined = stops.join(lake, on=keys)
    err_s = (pl.col("lake_pit_time_s") - pl.col("pit_time_s")).abs().max()
    assert joined.select(err_s).item() < LAP_TIME_TOLERANCE_S  # moved to the in-lap


def test_lap_file_glitches_never_reach_the_laps_and_every_event_is_counted(
        season: Season) -> None:
    truth = _truth_laps(season)
    glitched = truth.filter(pl.any_horizontal(
        pl.col(f"lap_in_{key}_file") != pl.col("lap") for key in ("start", "end", "time")))
    assert glitched.height > 0
    for race_id, report in season.reports.items():
        assert report.laps_source == "official timing"
        assert sum(report.lap_end_events.values()) == report.rows_read["lap_end"]
        assert report.lap_end_events["laps only the lap files know (not added)"] == 0
        laps = truth.filter(pl.col("race_id") == race_id)
        assert report.lap_end_events["official crossings"] == laps.height


def test_the_ecu_clock_is_placed_in_real_time(season: Season) -> None:
    """The estimated offset is the true one within the fastest delivery."""
    cars = season.truth("cars").filter(pl.col("race_id") == "barber-R1")
    offsets = season.reports["barber-R1"].ecu_offset_s
    for vid, true_s in cars.select("vehicle_id_written", "ecu_offset_s").iter_rows():
        assert 0.0 <= offsets[vid] + true_s < ECU_PLACEMENT_S, vid


def _raw_laps(folder: Path) -> pl.DataFrame:
    """Lap number as the logger wrote it, per car and ECU sample."""
    path = next(p for p in folder.glob("*.csv") if "telemetry" in p.name)
    raw = pl.read_csv(path, columns=["vehicle_id", "timestamp", "lap"])
    return raw.unique(["vehicle_id", "timestamp"]).select(
        "vehicle_id", pl.col("lap").alias("raw_lap"),
        pl.col("timestamp").str.to_datetime(TIME_FORMAT, time_unit="us", time_zone="UTC")
        .alias("ecu"))


def _true_sample_laps(season: Season, race_id: str) -> pl.DataFrame:
    """The true lap of every lake sample: the first lap that ends after it, per the truth
    (0 before the start: the lap the timing counts from)."""
    ends = (_truth_laps(season).filter(pl.col("race_id") == race_id)
            .select(pl.col("vehicle_id_written").alias("vehicle_id"),
                    pl.col("lap").alias("true_lap"), "lap_end_utc")
            .sort("lap_end_utc"))
    samples = season.lake.telemetry(race_id).select("vehicle_id", "time", "lap").sort("time")
    return samples.join_asof(ends, left_on="time", right_on="lap_end_utc", by="vehicle_id",
                             strategy="forward", allow_exact_matches=False,
                             check_sortedness=False)


def test_telemetry_laps_are_the_true_laps(season: Season) -> None:
    race_id = "barber-R1"
    placed = _true_sample_laps(season, race_id).drop_nulls("true_lap")
    right = placed.select((pl.col("lap") == pl.col("true_lap")).mean()).item()
    assert right >= 0.995, f"{right} of samples on their true lap"
    raw = _raw_laps(season.folders[race_id])
    assert (raw["raw_lap"] == LAP_NUMBER_SENTINEL).sum() > 100  # the logger lost count
    assert season.reports[race_id].telemetry_laps_repaired >= \
        int((raw["raw_lap"] == LAP_NUMBER_SENTINEL).sum())
    tel = season.lake.telemetry(race_id)
    assert tel["lap"].max() <= MAX_LAP
    assert tel.height == raw.height  # one row per ECU sample, none merged


def test_results_positions_are_the_truth_classification(season: Season) -> None:
    last_end = season.truth("laps").group_by("race_id", "car_number").agg(
        pl.col("lap_end_s").max())
    truth = (season.truth("cars").join(last_end, on=["race_id", "car_number"], how="left")
             .sort("race_id", pl.col("status") == "DNF", "laps", "lap_end_s",
                   descending=[False, False, True, False], nulls_last=True)
             .with_columns(pl.int_range(1, pl.len() + 1).over("race_id").alias("position")))
    lake = season.lake.results.select("race_id", "car_number",
                                      pl.col("position").cast(pl.Int64))
    assert sorted(lake.rows()) == sorted(truth.select(lake.columns).rows())
