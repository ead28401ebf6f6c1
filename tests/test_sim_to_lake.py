"""End to end: simulated race files through the ingest agree with the simulator's truth.

Two short races with every quirk turned up (lap 32768 in telemetry and lap files, number
0, ECU drift), one with telemetry at 2 Hz, are written by the simulator and ingested;
the lake is then compared with the ``truth/`` tables. The truth is used here only, as
the answer key: the ingest never sees it.
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
"""A seed whose two races have cautions, pit stops and every quirk (asserted below)."""
QUIRKS = QuirkRates(p_lap_sentinel_car=0.5, p_ecu_drift_car=0.3, p_number_zero_car=0.25,
                    p_lap_file_glitch_row=0.05)
RACES = (
    RaceConfig("barber", "R1", n_cars=8, duration_s=900.0, telemetry_hz=2.0, quirks=QUIRKS),
    RaceConfig("cota", "R2", event_number=2, n_cars=8, duration_s=900.0, quirks=QUIRKS),
)
LAP_TIME_TOLERANCE_S = 0.05
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"


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
    assert (cars["ecu_offset_s"].abs() > 86_400).any()
    assert (laps["lap_in_start_file"] != laps["lap"]).any()
    assert season.truth("cautions").height >= 2
    assert season.truth("pit_stops").height >= 2


def test_every_truth_lap_is_in_the_lake_with_its_time(season: Season) -> None:
    truth = _truth_laps(season)
    lake = _lake_laps(season).select(
        "race_id", "chassis", "lap", pl.col("car_number").cast(pl.Int64).alias("lake_number"),
        pl.col("lap_time_s").alias("lake_lap_time_s"))
    joined = truth.join(lake, on=["race_id", "chassis", "lap"], how="left")
    assert joined.height == truth.height
    assert joined["lake_lap_time_s"].null_count() == 0
    err_s = (pl.col("lake_lap_time_s") - pl.col("lap_time_s")).abs().max()
    assert joined.select(err_s).item() < LAP_TIME_TOLERANCE_S
    assert (joined["lake_number"] == joined["car_number"]).all()
    assert season.lake.laps.height == truth.height  # and nothing the truth lacks


def test_cars_that_logged_number_zero_get_their_true_number(season: Season) -> None:
    zero = season.truth("cars").filter(pl.col("vehicle_number_written") == 0)
    lake = season.lake.cars.select("race_id", pl.col("vehicle_id").alias("vehicle_id_written"),
                                   pl.col("chassis").alias("lake_chassis"),
                                   pl.col("car_number").cast(pl.Int64).alias("lake_number"))
    joined = zero.join(lake, on=["race_id", "vehicle_id_written"], how="left")
    assert joined.height == zero.height
    assert (joined["lake_number"] == joined["car_number"]).all()
    assert (joined["lake_chassis"] == joined["chassis"]).all()


def test_fcy_laps_are_the_truth_caution_laps(season: Season) -> None:
    truth = _truth_laps(season).select("race_id", "chassis", "lap", "caution")
    lake = _lake_laps(season).select("race_id", "chassis", "lap", "flag")
    joined = truth.join(lake, on=["race_id", "chassis", "lap"])
    assert joined.height == truth.height
    assert joined["flag"].null_count() == 0
    assert ((joined["flag"] == "FCY") == joined["caution"]).all()
    cautions = season.truth("cautions")
    for race_id, first, last in cautions.select("race_id", "start_lap", "end_lap").iter_rows():
        fcy = joined.filter((pl.col("race_id") == race_id) & (pl.col("flag") == "FCY"))
        assert set(range(first, last + 1)) <= set(fcy["lap"].to_list())


def test_pit_laps_are_the_truth_pit_stops(season: Season) -> None:
    stops = season.truth("pit_stops").select("race_id", "car_number", "lap", "pit_time_s")
    lake = season.lake.laps.filter(pl.col("in_pit")).select(
        "race_id", pl.col("car_number").cast(pl.Int64), "lap",
        pl.col("pit_time_s").alias("lake_pit_time_s"))
    keys = ["race_id", "car_number", "lap"]
    assert sorted(lake.select(keys).rows()) == sorted(stops.select(keys).rows())
    joined = stops.join(lake, on=keys)
    err_s = (pl.col("lake_pit_time_s") - pl.col("pit_time_s")).abs().max()
    assert joined.select(err_s).item() < LAP_TIME_TOLERANCE_S


def test_lap_file_glitches_are_the_repaired_laps(season: Season) -> None:
    truth = _truth_laps(season).with_columns(
        pl.any_horizontal(pl.col(f"lap_in_{key}_file") != pl.col("lap")
                          for key in ("start", "end", "time")).alias("glitched"))
    lake = _lake_laps(season).select("race_id", "chassis", "lap", "repaired")
    joined = truth.join(lake, on=["race_id", "chassis", "lap"])
    assert joined.height == truth.height
    assert (joined["repaired"] == joined["glitched"]).all()
    for race_id, report in season.reports.items():
        expected = int(joined.filter(pl.col("race_id") == race_id)["glitched"].sum())
        assert report.laps_repaired == expected


def _raw_laps(folder: Path) -> pl.DataFrame:
    """Lap number as the logger wrote it, per car and sample (``meta_time``)."""
    path = next(p for p in folder.glob("*.csv") if "telemetry" in p.name)
    raw = pl.read_csv(path, columns=["vehicle_id", "meta_time", "lap"])
    return raw.unique(["vehicle_id", "meta_time"]).select(
        "vehicle_id", pl.col("lap").alias("raw_lap"),
        pl.col("meta_time").str.to_datetime(TIME_FORMAT, time_unit="us", time_zone="UTC")
        .alias("time"))


def _true_sample_laps(season: Season, race_id: str) -> pl.DataFrame:
    """The true lap of every lake sample: the first lap that ends after it, per the truth."""
    ends = (_truth_laps(season).filter(pl.col("race_id") == race_id)
            .select(pl.col("vehicle_id_written").alias("vehicle_id"),
                    pl.col("lap").alias("true_lap"), "lap_end_utc")
            .sort("lap_end_utc"))
    samples = season.lake.telemetry(race_id).select("vehicle_id", "time", "lap").sort("time")
    return samples.join_asof(ends, left_on="time", right_on="lap_end_utc", by="vehicle_id",
                             strategy="forward", allow_exact_matches=False,
                             check_sortedness=False)


def test_telemetry_laps_are_the_true_laps_after_repair(season: Season) -> None:
    race_id = "barber-R1"
    placed = _true_sample_laps(season, race_id).join(
        _raw_laps(season.folders[race_id]), on=["vehicle_id", "time"], how="left")
    assert placed["raw_lap"].null_count() == 0
    impossible = (pl.col("raw_lap") < 0) | (pl.col("raw_lap") > MAX_LAP)
    glitched = placed.filter(impossible)
    assert glitched.height > 100
    assert (glitched["raw_lap"] == LAP_NUMBER_SENTINEL).all()
    report = season.reports[race_id]
    assert report.telemetry_laps_repaired == glitched.height
    # every car has lap files, so every sample was placed by its lap's start and end
    assert f"telemetry lap numbers recovered: {glitched.height:,} from lap times" in report.notes
    for frame in (placed, glitched):
        right = frame.select((pl.col("lap") == pl.col("true_lap")).mean()).item()
        assert right >= 0.995, f"{right} of samples on their true lap"


def test_results_positions_are_the_truth_classification(season: Season) -> None:
    last_end = season.truth("laps").group_by("race_id", "car_number").agg(
        pl.col("lap_end_s").max())
    truth = (season.truth("cars").join(last_end, on=["race_id", "car_number"], how="left")
             .sort("race_id", pl.col("status") == "DNF", "laps", "lap_end_s",
                   descending=[False, False, True, False], nulls_last=True)
             .with_columns(pl.int_range(1, pl.len() + 1).over("race_id").alias("position")))
    lake = season.lake.results.select("race_id", pl.col("car_number").cast(pl.Int64),
                                      pl.col("position").cast(pl.Int64))
    assert sorted(lake.rows()) == sorted(truth.select(lake.columns).rows())
