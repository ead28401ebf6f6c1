"""Seasons and lakes at an S3 URL give what local folders give, and are never half-written.

A real S3 API is served on 127.0.0.1 by moto (``conftest.s3_endpoint``); each test gets
its own bucket, and the environment a user would set for it (``AWS_ENDPOINT_URL`` and
keys). The season is small: one track, two races of 4 cars, telemetry at 1 Hz; training
uses the training tests' season (two tracks, 12 cars). Most tests run the commands with
``--engine local``; the two on Ray (in the xdist group of ``test_engines``)
pass the endpoint and keys as storage options, since Ray's workers started before the
test set its environment.
"""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from cognirace.cli.main import app
from cognirace.ingest.remote import UrlRacePiece, ingest_at, stage_url_piece
from cognirace.ingest.report import RaceReport
from cognirace.scale import LocalEngine
from cognirace.scale.remote import list_files, publish_files
from cognirace.scale.storage import Location, location
from registry_files import files_of

SEED = 11
SEASON = ["--tracks", "sonoma", "--races", "2", "--cars", "4", "--telemetry-hz", "1",
          "--seed", str(SEED)]


def files_at(url: str) -> dict[str, bytes]:
    """Every object under a URL (hidden ones too) by its relative path, with its bytes."""
    where = location(url)
    return {rel: where.fs.cat_file(where.path(rel))
            for rel in list_files(where, hidden=True)}


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def lake_content(files: dict[str, bytes], season: str) -> dict[str, Any]:
    """A lake's files, the races table and the reports with ``season`` as ``<season>``
    in their ``source_dir`` (the one place where a lake names where it read from)."""
    content: dict[str, Any] = {}
    for name, data in files.items():
        if name == "races.parquet":
            races = pl.read_parquet(io.BytesIO(data))
            content[name] = races.with_columns(
                pl.col("source_dir").str.replace(season, "<season>", literal=True)).to_dicts()
        elif name.startswith("reports/"):
            report = json.loads(data)
            report["source_dir"] = report["source_dir"].replace(season, "<season>")
            content[name] = report
        else:
            content[name] = data
    return content


@pytest.fixture(scope="module")
def local_season(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The season simulated into a local folder: the reference."""
    out = tmp_path_factory.mktemp("remote") / "season"
    run("simulate", "--out", str(out), *SEASON)
    return out.resolve()


@pytest.fixture(scope="module")
def local_lake(local_season: Path) -> Path:
    """The season ingested from its folder into a local lake: the reference."""
    lake = local_season.parent / "lake"
    run("ingest", str(local_season), "--lake", str(lake), "-q")
    return lake


def upload_season(local_season: Path, url: str) -> None:
    where = location(url)
    where.fs.put(str(local_season), where.root, recursive=True)
    assert set(files_at(url)) == set(files_of(local_season))


def test_simulate_to_s3_writes_the_local_files_byte_for_byte(
        local_season: Path, bucket: str) -> None:
    out = run("simulate", "--out", f"{bucket}/season", *SEASON)
    assert f"to{bucket}/season" in "".join(out.split())
    local = files_of(local_season)
    assert sum(name.endswith("telemetry_R2.csv") for name in local) == 1
    assert sum("/truth/" in name for name in local) >= 2
    assert files_at(f"{bucket}/season") == local  # nothing hidden is left behind either


def test_ingest_from_s3_into_s3_gives_the_local_lake(
        local_season: Path, local_lake: Path, bucket: str) -> None:
    upload_season(local_season, f"{bucket}/season")
    out = run("ingest", f"{bucket}/season", "--lake", f"{bucket}/lake", "-q")
    assert f"qualityreports:{bucket}/lake/reports" in "".join(out.split())
    local = files_of(local_lake)
    assert sum(n.startswith("telemetry/race_id=") for n in local) == 8  # 2 races, 4 cars
    remote = files_at(f"{bucket}/lake")
    assert lake_content(remote, f"{bucket}/season") == \
        lake_content(local, str(local_season))
    races = pl.read_parquet(io.BytesIO(remote["races.parquet"]))
    assert races["source_dir"].to_list() == [f"{bucket}/season/I_R01_2025-03-30/sonoma"] * 2


@pytest.mark.parametrize("case", ["local season, lake at s3", "season at s3, local lake"])
def test_either_end_may_be_a_local_folder(case: str, local_season: Path, local_lake: Path,
                                          bucket: str, tmp_path: Path) -> None:
    if case.startswith("local season"):
        src, lake, season = str(local_season), f"{bucket}/lake", str(local_season)
    else:
        upload_season(local_season, f"{bucket}/season")
        src, lake, season = f"{bucket}/season", str(tmp_path / "lake"), f"{bucket}/season"
    run("ingest", src, "--lake", lake, "-q")
    written = files_at(lake) if lake.startswith("s3://") else files_of(Path(lake))
    assert lake_content(written, season) == lake_content(files_of(local_lake),
                                                         str(local_season))


def _season_races(folder: Path) -> list[Any]:
    """The season's races written locally, one summary each (R1, then R2)."""
    from cognirace.sim import plan_season, season_races, write_season_race

    configs = plan_season("demo", tracks=["sonoma"], races=2, cars=4, telemetry_hz=1.0,
                          seed=SEED)
    return [write_season_race(folder, race) for race in season_races(configs, SEED)]


class InjectedError(RuntimeError):
    """The failure a test injects into a piece of work."""


def _fail_at(count: int, where: str) -> Any:
    """An ``on_file`` that raises at the ``count``-th path written ``where`` (staged or
    final)."""
    seen: list[str] = []

    def on_file(path: str) -> None:
        if (".staging/" in path) == (where == "staging"):
            seen.append(path)
            if len(seen) == count:
                raise InjectedError(path)

    return on_file


@pytest.mark.parametrize("phase", ["staging", "copy"])
def test_a_race_published_half_way_is_never_ingested(
        phase: str, local_season: Path, bucket: str, tmp_path: Path) -> None:
    season = location(f"{bucket}/season")
    first, second = _season_races(tmp_path / "season")
    publish_files(tmp_path / "season", first.files, season, name=first.race_id)
    with pytest.raises(InjectedError):
        publish_files(tmp_path / "season", second.files, season, name=second.race_id,
                      on_file=_fail_at(3, phase))
    visible = list_files(season)
    theirs = {p.relative_to(tmp_path / "season").as_posix() for p in second.files}
    assert len(visible.keys() & theirs) == (0 if phase == "staging" else 3)
    assert not any(".staging/" in rel for rel in list_files(season, hidden=True))

    out = run("ingest", f"{bucket}/season", "--lake", f"{bucket}/lake", "-q")
    races = pl.read_parquet(io.BytesIO(files_at(f"{bucket}/lake")["races.parquet"]))
    assert races["session"].to_list() == ["R1"]  # the half race is not in the lake
    assert ("left out" in out) == (phase == "copy")

    publish_files(tmp_path / "season", second.files, season, name=second.race_id)  # retry
    assert files_at(f"{bucket}/season") == files_of(local_season)  # marker gone
    run("ingest", f"{bucket}/season", "--lake", f"{bucket}/lake", "-q")
    races = pl.read_parquet(io.BytesIO(files_at(f"{bucket}/lake")["races.parquet"]))
    assert races["session"].to_list() == ["R1", "R2"]


def stage_then_fail(failing: str, batch: Location, strict: bool,
                    piece: UrlRacePiece) -> RaceReport:
    """``stage_url_piece``, then a failure for the race ``failing`` (its upload done)."""
    report = stage_url_piece(batch, strict, piece)
    if piece.race_id == failing:
        raise InjectedError(piece.race_id)
    return report


def test_a_failed_ingest_leaves_the_s3_lake_as_it_was(local_season: Path, bucket: str) -> None:
    upload_season(local_season, f"{bucket}/season")
    run("ingest", f"{bucket}/season", "--lake", f"{bucket}/lake", "-q")
    before = files_at(f"{bucket}/lake")
    assert any(name.startswith("telemetry/") for name in before)
    with pytest.raises(InjectedError):
        ingest_at(LocalEngine(), location(f"{bucket}/season"), location(f"{bucket}/lake"),
                  stage=functools.partial(stage_then_fail, "sonoma-R2"))
    assert files_at(f"{bucket}/lake") == before  # and no batch left behind


def test_the_lake_cache_downloads_only_what_changed(
        local_lake: Path, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cognirace.lake.remote as remote
    from cognirace.lake import open_lake

    lake = location(f"{bucket}/lake")
    lake.fs.put(str(local_lake), lake.root, recursive=True)
    fetched: list[str] = []
    download = remote.download

    def counted(where: Location, rels: list[str], folder: Path) -> list[Path]:
        fetched.extend(rels)
        return download(where, rels, folder)

    monkeypatch.setattr(remote, "download", counted)
    copy = remote.cached_lake(lake, tmp_path / "cache")
    assert {n: d for n, d in files_of(copy).items() if not n.startswith(".")} == \
        files_of(local_lake)
    assert len(fetched) == len(files_of(local_lake))
    assert open_lake(copy).race_ids == ["sonoma-R1", "sonoma-R2"]

    fetched.clear()
    assert remote.cached_lake(lake, tmp_path / "cache") == copy
    assert fetched == []

    lake.fs.pipe_file(lake.path("weather.parquet"), (local_lake / "cars.parquet").read_bytes())
    lake.fs.rm_file(lake.path("reports/sonoma-R2.json"))
    remote.cached_lake(lake, tmp_path / "cache")
    assert fetched == ["weather.parquet"]
    assert (copy / "weather.parquet").read_bytes() == (local_lake / "cars.parquet").read_bytes()
    assert not (copy / "reports" / "sonoma-R2.json").exists()


def test_a_url_without_its_package_names_the_extra(tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed")
    result = CliRunner().invoke(app, ["ingest", "gs://bucket/season", "--lake",
                                      str(tmp_path / "lake")])
    assert result.exit_code != 0
    assert isinstance(result.exception, Exception)
    assert "pip install 'cognirace[gcs]'" in str(result.exception)
    assert not (tmp_path / "lake").exists()


def test_memory_urls_are_refused_to_engines_of_other_processes() -> None:
    from cognirace.cli.engine_options import where
    from cognirace.errors import ConfigError

    assert where("memory://lake", "lake", "local").url == "memory://lake"
    with pytest.raises(ConfigError, match="lives in one process"):
        where("memory://lake", "lake", "ray")


TIMESTAMPS = ("created_at", "updated_at")
CARDS = ("card.json", "card.md")
"""A model card names the lake folder it was trained from: here, two different ones."""


def _registry_content(root: Path) -> dict[str, Any]:
    """Every registry file but the cards; JSON ones without their timestamps, and the
    manifests without the cards' checksums."""
    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in (*TIMESTAMPS, *CARDS)}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return {name: clean(json.loads(data)) if name.endswith(".json") else data
            for name, data in files_of(root).items() if Path(name).name not in CARDS}


@pytest.fixture(scope="module")
def training_season(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The training tests' small season (two tracks, 12 cars): ``races/`` and ``lake/``."""
    from training.conftest import tiny_lake

    root = tmp_path_factory.mktemp("training")
    tiny_lake(root, seed=5)
    return root


def test_train_reads_a_lake_at_s3_with_the_truth_beside_its_races(
        training_season: Path, bucket: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    upload_season(training_season / "races", f"{bucket}/races")
    run("ingest", f"{bucket}/races", "--lake", f"{bucket}/lake", "-q")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    models = ["-m", "pitloss", "-m", "laptime", "--seed", "2", "-q"]
    out = run("train", "--lake", f"{bucket}/lake", "--registry", str(tmp_path / "at-s3"),
              *models)
    said = f"lake {bucket}/lake: read through its copy in {tmp_path / 'cache'}"
    assert "".join(said.split()) in "".join(out.split())  # the console wraps long lines
    run("train", "--lake", str(training_season / "lake"), "--registry",
        str(tmp_path / "local"), *models)
    expected = _registry_content(tmp_path / "local")
    assert sum(name.endswith("manifest.json") for name in expected) == 4
    assert _registry_content(tmp_path / "at-s3") == expected
    copy = tmp_path / "cache" / "cognirace" / "lakes" / "s3" / bucket.removeprefix("s3://") \
        / "lake"
    assert len(list(copy.glob(".sources/*/truth/R1_pit_stops.parquet"))) == 2  # 2 tracks
    card = (tmp_path / "at-s3" / "pitloss" / "v1" / "card.md").read_text(encoding="utf-8")
    assert f"- Lake: `{copy}`" in card


@pytest.mark.xdist_group("ray")
def test_simulate_and_ingest_on_ray_at_s3_give_the_local_files(
        ray_cluster: Any, s3_endpoint: str, bucket: str, local_season: Path,
        local_lake: Path) -> None:
    from cognirace.cli.simulate_cmd import write_race_at
    from cognirace.scale import in_order
    from cognirace.scale.ray_engine import RayEngine
    from cognirace.sim import plan_season, season_races

    # Ray's workers started before this test set AWS_*: the pieces carry the options
    options = {"endpoint_url": s3_endpoint, "key": "testing", "secret": "testing"}
    season = location(f"{bucket}/season", options, what="season")
    lake = location(f"{bucket}/lake", options, what="lake")
    configs = plan_season("demo", tracks=["sonoma"], races=2, cars=4, telemetry_hz=1.0,
                          seed=SEED)
    with RayEngine() as engine:
        written = in_order(engine.map(functools.partial(write_race_at, season),
                                      season_races(configs, SEED)))
        done = ingest_at(engine, season, lake)
    assert [race.folder.as_posix() for race in written] == ["I_R01_2025-03-30/sonoma"] * 2
    assert files_at(f"{bucket}/season") == files_of(local_season)
    assert [report.race_id for report in done.reports] == ["sonoma-R1", "sonoma-R2"]
    assert lake_content(files_at(f"{bucket}/lake"), f"{bucket}/season") == \
        lake_content(files_of(local_lake), str(local_season))


@pytest.mark.xdist_group("ray")
def test_train_on_ray_reads_a_lake_at_s3_through_each_nodes_copy(
        ray_cluster: Any, s3_endpoint: str, bucket: str, training_season: Path,
        tmp_path: Path) -> None:
    import shutil

    from cognirace.lake import open_lake
    from cognirace.scale.ray_engine import RayEngine
    from cognirace.scale.remote import node_cache
    from cognirace.training import open_registry, select_tasks, train
    from cognirace.training.parallel import train_on

    upload_season(training_season / "races", f"{bucket}/races")
    run("ingest", f"{bucket}/races", "--lake", f"{bucket}/lake", "-q")
    options = {"endpoint_url": s3_endpoint, "key": "testing", "secret": "testing"}
    lake = location(f"{bucket}/lake", options, what="lake")
    tasks = select_tasks(["pitloss", "laptime"])
    copies = node_cache() / "lakes" / "s3" / bucket.removeprefix("s3://")  # the workers'
    try:
        with RayEngine() as engine:
            on_ray = train_on(engine, lake, open_registry(tmp_path / "ray"), tasks, seed=2)
        assert (copies / "lake" / "races.parquet").is_file()
    finally:
        shutil.rmtree(copies, ignore_errors=True)
    local = train(open_lake(training_season / "lake"), open_registry(tmp_path / "local"),
                  tasks, seed=2)
    assert on_ray.lake == f"{bucket}/lake"
    assert [t.comparisons for t in on_ray.tasks] == [t.comparisons for t in local.tasks]
    assert _registry_content(tmp_path / "ray") == _registry_content(tmp_path / "local")
    assert [rel for rel in list_files(lake, hidden=True) if rel.startswith(".")] == []
