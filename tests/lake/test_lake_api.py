"""The lake's reader, atomic writer and lap overlay helpers, on a lake the ingest built.

The ingest is imported in the tests that run it, so the in-code lake tests beside this
module collect whatever state the ingest is in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from cognirace.errors import DataError
from cognirace.lake import lap_telemetry, open_lake, overlay_laps, resample_by_distance
from cognirace.lake import writer as lake_writer
from factories import RaceSpec, write_race


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from cognirace.ingest import ingest

    root = tmp_path_factory.mktemp("lake")
    write_race(root / "barber")
    ingest(root / "barber", root / "lake")
    return root / "lake"


def test_open_lake_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no lake"):
        open_lake(tmp_path / "nope")


def test_an_empty_lake_reads_as_empty_frames(tmp_path: Path) -> None:
    lake = open_lake(tmp_path)
    assert lake.races.height == 0 and lake.telemetry().height == 0
    assert lake.summary().height == 0


def test_lap_telemetry_picks_one_car_and_lap(lake: Path) -> None:
    tel = lap_telemetry(open_lake(lake), "barber-R1", 2, car_number="55")
    assert tel["vehicle_id"].unique().to_list() == ["GR86-010-55"]
    assert tel["lap"].unique().to_list() == [2]
    assert tel.height == int(60.75 * 2)
    with pytest.raises(DataError):
        lap_telemetry(open_lake(lake), "barber-R1", 2, car_number="99")
    with pytest.raises(DataError):
        lap_telemetry(open_lake(lake), "barber-R1", 9, car_number="55")


def test_resampled_laps_share_one_distance_grid(lake: Path) -> None:
    out = overlay_laps(open_lake(lake), "barber-R1", [("2", 2), ("55", 3)], step_m=10.0)
    a = out.filter(pl.col("car_number") == "2")
    b = out.filter(pl.col("car_number") == "55")
    assert a["distance_m"].to_list() == b["distance_m"].to_list()
    assert a["distance_m"][0] == 0.0 and a["distance_m"][1] == 10.0
    # Speed rises linearly with distance in the built laps: 100 km/h to 150 km/h.
    length = 3675.0
    expected = 100 + 50 * a["distance_m"].to_numpy() / length
    assert np.allclose(a["speed_kph"].to_numpy(), expected, atol=0.5)
    assert (a["gear"] == 4).all()
    assert a["time_s"].is_sorted()


def test_resample_needs_two_samples(lake: Path) -> None:
    one = lap_telemetry(open_lake(lake), "barber-R1", 1, car_number="2").head(1)
    with pytest.raises(DataError):
        resample_by_distance(one)


def test_a_failed_write_leaves_the_lake_unchanged(
        lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cognirace.ingest import ingest

    before = {p.relative_to(lake): p.stat().st_mtime_ns for p in lake.rglob("*")}
    write_race(tmp_path / "barber", RaceSpec(session="R2"))

    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(lake_writer, "_commit", broken)
    with pytest.raises(OSError, match="disk full"):
        ingest(tmp_path / "barber", lake)
    after = {p.relative_to(lake): p.stat().st_mtime_ns for p in lake.rglob("*")}
    assert after == before
    assert open_lake(lake).race_ids == ["barber-R1"]


def test_the_cli_ingests_and_prints_the_report(tmp_path: Path) -> None:
    from cognirace.cli.main import _register, app

    _register()
    write_race(tmp_path / "barber")
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "barber"), "--lake",
                                      str(tmp_path / "lake"), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "barber-R1" in result.output and "quality report" in result.output
    assert (tmp_path / "lake" / "reports" / "barber-R1.json").exists()
    help_text = CliRunner().invoke(app, ["ingest", "--help"]).output
    assert "--lake" in help_text
