"""``cognirace train`` and ``cognirace evaluate`` on a small lake, through Typer."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cognirace.cli import commands
from cognirace.errors import ArtifactError, ConfigError
from cognirace.lake import Lake
from cognirace.training import catalogue
from training.toy import TOY


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    """The command line, with the toy task as the whole catalogue."""
    monkeypatch.setattr(catalogue, "all_tasks", lambda: {"toy": TOY})
    cli = typer.Typer()
    commands.register(cli)
    return cli


def test_train_then_evaluate(app: typer.Typer, season: Lake, heldout: Lake,
                             tmp_path: Path) -> None:
    runner, registry = CliRunner(), str(tmp_path / "registry")
    trained = runner.invoke(app, ["train", "--lake", str(season.root), "--registry", registry,
                                  "--models", "toy", "--seed", "3", "--quiet"],
                            env={"COLUMNS": "160"})
    assert trained.exit_code == 0, trained.output
    assert "mae_s (primary)" in trained.output and "loto" in trained.output
    assert (tmp_path / "registry" / "toy" / "v1" / "card.md").is_file()
    assert (tmp_path / "registry" / "toy-baseline" / "aliases" / "production.json").is_file()
    table = tmp_path / "evaluation.md"
    evaluated = runner.invoke(app, ["evaluate", "--lake", str(heldout.root), "--registry",
                                    registry, "--markdown", str(table)],
                              env={"COLUMNS": "160"})
    assert evaluated.exit_code == 0, evaluated.output
    assert "beat their baseline" in evaluated.output
    assert table.read_text().startswith("| model | metric | baseline | model | gain |")


def test_settings_give_the_defaults(app: typer.Typer, season: Lake, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COGNIRACE_LAKE_DIR", str(season.root))
    monkeypatch.setenv("COGNIRACE_REGISTRY_URL", str(tmp_path / "from-settings"))
    result = CliRunner().invoke(app, ["train", "--quiet"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "from-settings" / "toy" / "v1" / "manifest.json").is_file()


def test_an_unknown_model_is_named(app: typer.Typer, season: Lake, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", "--lake", str(season.root), "--registry",
                                      str(tmp_path), "--models", "nope"])
    assert isinstance(result.exception, ConfigError)
    assert "known models: toy" in str(result.exception)


def test_evaluate_on_an_empty_registry_says_to_train(app: typer.Typer, heldout: Lake,
                                                     tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["evaluate", "--lake", str(heldout.root), "--registry",
                                      str(tmp_path / "empty")])
    assert isinstance(result.exception, ArtifactError)
    assert "cognirace train" in str(result.exception)
