"""Simulate, ingest, train and backtest on a local Ray give what a local run gives.

One Ray (2 CPUs) serves the whole module (``conftest.ray_cluster``); the seasons are
small: two tracks, two short races each, 6 cars, telemetry at 2 Hz.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cognirace.cli.main import app
from cognirace.lake import Lake
from registry_files import files_of, registry_content

pytestmark = pytest.mark.xdist_group("ray")

SEASON = ["--tracks", "sonoma", "--tracks", "barber", "--races", "2", "--cars", "6",
          "--telemetry-hz", "2", "--seed", "11"]


def hidden_under(root: Path) -> list[str]:
    """Names starting with ``.`` (staging left behind) under ``root``."""
    return [str(p) for p in root.rglob(".*")]


def run(*args: str) -> None:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)


@pytest.fixture(scope="module")
def seasons(ray_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same season simulated locally and on Ray."""
    root = tmp_path_factory.mktemp("seasons")
    run("simulate", "--out", str(root / "local"), *SEASON)
    run("simulate", "--out", str(root / "ray"), *SEASON, "--engine", "ray")
    return root / "local", root / "ray"


@pytest.fixture(scope="module")
def local_lake(seasons: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The season ingested locally: the reference lake."""
    lake = tmp_path_factory.mktemp("local") / "lake"
    run("ingest", str(seasons[0]), "--lake", str(lake), "-q")
    return lake


def test_simulate_on_ray_writes_the_local_files_byte_for_byte(
        seasons: tuple[Path, Path]) -> None:
    local, on_ray = files_of(seasons[0]), files_of(seasons[1])
    assert sum(name.endswith("_R2.csv") for name in local) >= 2  # both tracks' races
    assert any("telemetry" in name for name in local)
    assert local == on_ray
    assert hidden_under(seasons[1]) == []


def test_ingest_on_ray_writes_the_local_lake_byte_for_byte(
        seasons: tuple[Path, Path], local_lake: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    run("ingest", str(seasons[0]), "--lake", str(lake), "-q", "--engine", "ray")
    local = files_of(local_lake)
    assert len([n for n in local if n.startswith("reports/")]) == 4
    assert any(n.startswith("telemetry/race_id=") for n in local)
    assert files_of(lake) == local
    assert hidden_under(lake) == []


def test_a_killed_piece_is_run_again_and_the_lake_is_the_local_one(
        seasons: tuple[Path, Path], local_lake: Path, tmp_path: Path) -> None:
    from cognirace.ingest.parallel import ingest_on
    from cognirace.scale.ray_engine import RayEngine
    from scale.faults import stage_killed_once

    marks = tmp_path / "marks"
    marks.mkdir()
    lake = tmp_path / "lake"
    reports = ingest_on(RayEngine(), seasons[0], lake,
                        stage=functools.partial(stage_killed_once, marks))
    assert all(r.ok for r in reports)
    assert (marks / "killed").read_text(encoding="utf-8") in {r.race_id for r in reports}
    assert files_of(lake) == files_of(local_lake)
    assert hidden_under(lake) == []


def test_without_retries_a_killed_piece_leaves_the_lake_as_it_was(
        seasons: tuple[Path, Path], tmp_path: Path) -> None:
    import ray

    from cognirace.ingest.parallel import ingest_on
    from cognirace.scale.ray_engine import RayEngine
    from scale.faults import stage_killed_once

    lake = tmp_path / "lake"
    first = next(p for p in sorted(seasons[0].glob("*/*")) if p.is_dir())
    run("ingest", str(first), "--lake", str(lake), "-q")
    before = files_of(lake)
    marks = tmp_path / "marks"
    marks.mkdir()
    with pytest.raises(ray.exceptions.RayError):
        ingest_on(RayEngine(max_retries=0), seasons[0], lake,
                  stage=functools.partial(stage_killed_once, marks))
    assert (marks / "killed").exists()
    assert files_of(lake) == before
    assert hidden_under(lake) == []


@pytest.fixture(scope="module")
def season_lake(ray_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The training tests' small season (12 cars, 30-minute races)."""
    from training.conftest import tiny_lake

    return tiny_lake(tmp_path_factory.mktemp("train"), seed=5)


def test_train_on_ray_publishes_the_local_registry_apart_from_timestamps(
        season_lake: Lake, tmp_path: Path) -> None:
    from cognirace.scale.ray_engine import RayEngine
    from cognirace.training import open_registry, select_tasks, train
    from cognirace.training.parallel import train_on

    tasks = select_tasks(["pitloss", "laptime"])
    local = train(season_lake, open_registry(tmp_path / "local"), tasks, seed=2)
    seen: list[str] = []
    splits: list[tuple[str, str]] = []
    on_ray = train_on(RayEngine(), season_lake, open_registry(tmp_path / "ray"), tasks,
                      seed=2, on_split=lambda task, split: splits.append((task, split)),
                      on_task=lambda done: seen.append(done.task))
    assert sorted(seen) == ["laptime", "pitloss"]
    tracks = season_lake.races["track"].n_unique()
    assert tracks >= 2  # so each model has a race split and a fold per track, as tasks
    for task in ("laptime", "pitloss"):
        held = [split for name, split in splits if name == task]
        assert len(held) == 1 + tracks and held.count("races") == 1
    assert [t.task for t in on_ray.tasks] == [t.task for t in local.tasks]
    assert [t.comparisons for t in on_ray.tasks] == [t.comparisons for t in local.tasks]
    expected = registry_content(tmp_path / "local")
    assert sum(name.endswith("manifest.json") for name in expected) == 4
    assert registry_content(tmp_path / "ray") == expected
    assert hidden_under(season_lake.root) == []


def test_backtest_on_ray_gives_the_local_table(season_lake: Lake, tmp_path: Path) -> None:
    from cognirace.cli.backtest_cmd import run_races
    from cognirace.scale import LocalEngine
    from cognirace.scale.ray_engine import RayEngine
    from cognirace.sim import RaceConfig
    from cognirace.strategy.backtest_report import build_report, render
    from cognirace.strategy.backtest_run import BacktestSettings, RaceJob
    from cognirace.strategy.snapshot_at import SNAPSHOT_MODELS
    from cognirace.training import all_tasks, open_registry, task_examples

    registry = open_registry(tmp_path / "registry")
    tasks = [all_tasks()[name] for name in SNAPSHOT_MODELS]
    for task, rows in zip(tasks, task_examples(season_lake, tasks).values(), strict=True):
        version = registry.publish(task.model().fit(rows), task.name, metrics={},
                                   data_fingerprint="backtest-test")
        registry.set_alias(task.name, "production", version)
    jobs = [RaceJob(i, 6, RaceConfig(
        track, session="R1", event_number=event, n_cars=10, duration_s=1500.0,
        event_date=dt.date(2025, 4, 6) + dt.timedelta(days=14 * event), telemetry_hz=0.0))
        for i, (track, event) in enumerate([("sonoma", 1), ("barber", 2)])]
    settings = BacktestSettings(n_sims=100, cars_per_race=0, seed=6)
    url = str(tmp_path / "registry")
    finished: list[int] = []
    local = run_races(LocalEngine(), jobs, url, settings, workers=1, on_race=lambda o: None)
    with RayEngine() as engine:
        on_ray = run_races(engine, jobs, url, settings, workers=1,
                           on_race=lambda o: finished.append(o.race))
    assert sorted(finished) == [0, 1]
    assert sum(len(o.points) for o in local) >= 2
    assert [(o.race, [p.finish for p in o.points], o.skipped) for o in on_ray] == \
        [(o.race, [p.finish for p in o.points], o.skipped) for o in local]
    meta: dict[str, object] = {"seed": 6, "n_sims": 100, "cars_per_race": 0, "workers": 1,
                               "registry": url, "elapsed_s": 1.0}
    assert render(build_report(on_ray, meta)) == render(build_report(local, meta))


def test_a_piece_runs_polars_on_the_one_cpu_ray_gives_it(ray_cluster: Any) -> None:
    """Ray runs a piece per CPU; a piece whose Polars took every core would only contend
    with its neighbours (the simulate speed-up on 2 CPUs depends on it)."""
    from cognirace.scale.ray_engine import RayEngine
    from scale.faults import polars_threads

    with RayEngine() as engine:
        seen = [threads for _, threads in engine.map(polars_threads, [0, 1, 2, 3])]
        held = [threads for _, threads in engine.map_with(lambda: None,
                                                          lambda _, x: polars_threads(x),
                                                          [0, 1])]
    assert seen == [("1", 1)] * 4
    assert held == [("1", 1)] * 2


def test_ray_engine_without_ray_says_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    from cognirace.cli.main import main

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    monkeypatch.setattr(sys, "argv", ["cognirace", "simulate", "--out", str(tmp_path / "s"),
                                      "--engine", "ray"])
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "needs Ray" in err and "pip install -e '.[ray]'" in err
    assert not (tmp_path / "s").exists()


def test_an_address_without_ray_and_an_unknown_engine_are_refused() -> None:
    from cognirace.errors import ConfigError
    from cognirace.scale import open_engine

    with pytest.raises(ConfigError, match="--engine ray"):
        open_engine("local", address="auto")
    with pytest.raises(ConfigError, match="unknown engine"):
        open_engine("dask")


def test_a_cluster_that_refuses_the_connection_is_named_with_what_to_check(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray's own ConnectionError (a head that is down, or a token that does not match
    the cluster's) becomes an error that names the address and says what to check."""
    import types

    from cognirace.errors import ConfigError
    from cognirace.scale import ray_engine

    def refuse(**_kwargs: Any) -> None:
        raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.9:6380")

    fake = types.SimpleNamespace(is_initialized=lambda: False, init=refuse)
    monkeypatch.setattr(ray_engine, "require_ray", lambda: fake)
    with pytest.raises(ConfigError, match="cannot join the Ray cluster") as refused:
        ray_engine.RayEngine(address="10.0.0.9:6380")
    assert refused.value.value == "10.0.0.9:6380"
    assert "RAY_AUTH_TOKEN" in str(refused.value)
