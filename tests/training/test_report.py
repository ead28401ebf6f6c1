"""The report's conventions: which way a metric improves, and the Markdown table."""

from __future__ import annotations

import math

import pytest

from cognirace.training import markdown_table
from cognirace.training.bootstrap import GainInterval
from cognirace.training.report import compare, lower_is_better, mean_metrics, verdict
from training.toy import TOY


@pytest.mark.parametrize(("metric", "lower"), [
    ("mae_s", True), ("rmse_s", True), ("pinball_s", True), ("fuel_left_end_mae_l", True),
    ("coverage_p10_p90", None), ("loss_coverage_p10_p90", None), ("n_laps", None),
    ("share_within_1s", None),
])
def test_only_named_errors_claim_a_direction(metric: str, lower: bool | None) -> None:
    assert lower_is_better(TOY, metric) is lower


def test_the_gain_is_positive_when_the_model_is_better() -> None:
    rows = compare(TOY, "races", {"mae_s": 2.0, "coverage_p10_p90": 0.7},
                   {"mae_s": 1.5, "coverage_p10_p90": 0.8}, GainInterval(0.5, 0.1, 0.9, 8))
    assert [c.metric for c in rows] == ["mae_s", "coverage_p10_p90"]  # primary first
    assert rows[0].gain == pytest.approx(0.5) and rows[0].wins
    assert rows[1].gain is None and rows[1].wins is None


@pytest.mark.parametrize(("interval", "wins", "verdict_text"), [
    (GainInterval(0.5, 0.1, 0.9, 8), True, "yes"),
    (GainInterval(0.5, -0.1, 0.9, 8), False, "no"),
    (None, None, "no interval"),
])
def test_a_win_needs_the_whole_interval_above_zero(
        interval: GainInterval | None, wins: bool | None, verdict_text: str) -> None:
    (row,) = compare(TOY, "heldout", {"mae_s": 2.0}, {"mae_s": 1.5}, interval)
    assert row.gain == pytest.approx(0.5)  # a positive point gain either way
    assert row.wins is wins and verdict(row) == verdict_text


def test_fold_means_skip_undefined_values() -> None:
    means = mean_metrics([{"mae_s": 1.0, "x": math.nan}, {"mae_s": 3.0, "x": math.nan}])
    assert means["mae_s"] == 2.0 and math.isnan(means["x"])


def test_the_markdown_table_escapes_and_aligns() -> None:
    table = markdown_table(compare(TOY, "heldout", {"mae_s": 2.0}, {"mae_s": math.nan}))
    lines = table.splitlines()
    assert lines[0].endswith("| gain | 95% interval | beats baseline |")
    assert lines[1] == "| --- | --- | ---: | ---: | ---: | ---: | --- |"
    assert lines[2] == "| toy | mae_s (primary) | 2 | - | - |  | no interval |"
    (row,) = compare(TOY, "heldout", {"mae_s": 2.0}, {"mae_s": 1.5},
                     GainInterval(0.5, 0.25, 0.75, 8))
    assert markdown_table([row]).splitlines()[2] == (
        "| toy | mae_s (primary) | 2 | 1.5 | +0.5 | [+0.25, +0.75] | yes |")
