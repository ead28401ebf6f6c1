"""``cognirace backtest`` refuses the seasons the demo trains and scores on."""

from __future__ import annotations

from typer.testing import CliRunner

from cognirace.cli.backtest_cmd import trained_seeds
from cognirace.cli.main import app


def test_the_demos_seeds_are_known() -> None:
    seeds = trained_seeds()
    assert {7, 1007, 2022, 2031, 3012, 3021} <= seeds
    assert not seeds & set(range(5001, 5100))


def test_a_training_seed_is_refused_before_any_work() -> None:
    result = CliRunner().invoke(app, ["backtest", "--registry", "/nonexistent",
                                      "--seed", "2022", "--races", "3"])
    assert result.exit_code != 0
    assert "demo's own" in result.output
