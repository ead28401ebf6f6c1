"""What training and evaluation found, as plain data, and its Markdown table.

Reports are dataclasses with no printing library in them: the command line renders
them with Rich, the README takes ``markdown_table``'s output, tests read the fields.
Every comparison puts a model and its baseline side by side on the same rows, with
the gain signed so that positive always means the model is better.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cognirace.models.task import Task
from cognirace.training.bootstrap import GainInterval

_ERROR_METRIC = re.compile(r"(^|_)(mae|rmse|mse|mape|pinball|error|loss|bias)(_|$)")
"""Metric names that measure an error, so lower is better (``mae_s``, ``pinball_s``)."""

_UNDIRECTED_METRIC = re.compile(r"^n_|coverage")
"""Counts and interval coverages: neither more nor less is better (a P10-P90 interval
should cover 80%), even when the name also says ``loss`` (``loss_coverage_p10_p90``)."""


def lower_is_better(task: Task, metric: str) -> bool | None:
    """Which way ``metric`` improves: from the task for its primary metric, else from the
    name (errors and losses fall); None when the name does not say (a coverage, whose
    target is a value, not an extreme), so no gain is claimed for it."""
    if metric == task.primary:
        return not task.higher_is_better
    if _UNDIRECTED_METRIC.search(metric):
        return None
    return True if _ERROR_METRIC.search(metric) else None


@dataclass(frozen=True)
class Comparison:
    """One metric of a model against its baseline on the same rows.

    Attributes:
        task: Task name (``laptime``).
        evaluation: Which rows: ``races`` (held-out races), ``loto`` (mean over the
            leave-one-track-out folds), ``track=<key>`` (one fold), ``heldout`` (an
            unseen lake).
        metric: Metric name, unit as suffix (``mae_s``).
        baseline: The baseline's value.
        model: The model's value.
        gain: How much better the model is (positive: better), in the metric's unit;
            None when the metric has no better direction (see ``lower_is_better``).
        primary: Whether this is the metric the model must win on.
        low: Lower end of the gain's 95% bootstrap interval (by race), if it has one.
        high: Upper end of that interval.
    """

    task: str
    evaluation: str
    metric: str
    baseline: float
    model: float
    gain: float | None
    primary: bool
    low: float | None = None
    high: float | None = None

    @property
    def has_interval(self) -> bool:
        """Whether the gain carries a bootstrap interval."""
        return self.low is not None and self.high is not None

    @property
    def wins(self) -> bool | None:
        """Whether the model beats the baseline here: the gain's whole interval above zero.

        None when the metric has no direction, or when the gain has no interval (too
        few races to resample): a point gain alone is not a win.
        """
        if self.gain is None or math.isnan(self.gain) or self.low is None:
            return None
        return self.low > 0


def compare(task: Task, evaluation: str, baseline: Mapping[str, float],
            model: Mapping[str, float], interval: GainInterval | None = None
            ) -> list[Comparison]:
    """Pair the two metric dicts; the primary metric first, then by name.

    ``interval`` is the bootstrap interval of the primary metric's gain.
    """
    names = sorted(set(baseline) | set(model), key=lambda n: (n != task.primary, n))
    rows = []
    for name in names:
        b, m = float(baseline.get(name, math.nan)), float(model.get(name, math.nan))
        direction = lower_is_better(task, name)
        gain = None if direction is None else (b - m if direction else m - b)
        primary = name == task.primary
        low, high = ((interval.low, interval.high) if primary and interval is not None
                     else (None, None))
        rows.append(Comparison(task.name, evaluation, name, b, m, gain, primary, low, high))
    return rows


def ablation_name(task: Task, variant: str) -> str:
    """The metric name of an ablation's row: ``brier (without n_off_pace)``."""
    return f"{task.primary} ({variant})"


def compare_ablation(task: Task, evaluation: str, variant: str, baseline: Mapping[str, float],
                     ablated: Mapping[str, float], interval: GainInterval | None
                     ) -> Comparison:
    """The primary metric of a model variant against the same baseline, with its interval:
    set beside the full model's row, it shows what the left-out input is worth."""
    b, m = float(baseline.get(task.primary, math.nan)), float(ablated.get(task.primary,
                                                                          math.nan))
    gain = task.gain(m, b)
    low, high = (interval.low, interval.high) if interval is not None else (None, None)
    return Comparison(task.name, evaluation, ablation_name(task, variant), b, m, gain, False,
                      low, high)


def mean_metrics(folds: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Mean of each metric over folds, ignoring folds where it is undefined (NaN)."""
    names = sorted({name for fold in folds for name in fold})
    means = {}
    for name in names:
        values = [float(f[name]) for f in folds if name in f and math.isfinite(float(f[name]))]
        means[name] = sum(values) / len(values) if values else math.nan
    return means


@dataclass(frozen=True)
class TaskTraining:
    """What training one task did and found.

    Attributes:
        task: Task name; the model is published under it, the baseline under
            ``<task>-baseline``.
        title: The task's one-line description.
        version: Registry version of the model (now ``production``).
        baseline_version: Registry version of the baseline.
        n_rows: Examples the final model was fitted on.
        n_races: Races they came from.
        n_tracks: Tracks they came from.
        data_fingerprint: Fingerprint of those rows.
        seconds: Time its fits took, s, added up (fits of several tasks run side by side,
            so these add up to more than the run's wall time).
        comparisons: Model against baseline on held-out races, leave-one-track-out
            (mean) and each track fold.
    """

    task: str
    title: str
    version: str
    baseline_version: str
    n_rows: int
    n_races: int
    n_tracks: int
    data_fingerprint: str
    seconds: float
    comparisons: tuple[Comparison, ...]


@dataclass(frozen=True)
class TrainingReport:
    """What ``train`` did: one entry per task, in training order."""

    lake: str
    registry: str
    seed: int
    tasks: tuple[TaskTraining, ...]
    seconds: float

    def comparisons(self, evaluations: Iterable[str] = ("races", "loto")) -> list[Comparison]:
        """The comparisons of the given evaluations (default: the two summaries)."""
        wanted = set(evaluations)
        return [c for t in self.tasks for c in t.comparisons if c.evaluation in wanted]


@dataclass(frozen=True)
class EvaluationReport:
    """What ``evaluate`` found on a lake the models did not train on.

    Attributes:
        lake: The evaluated lake.
        registry: Where the models came from.
        versions: Task name to the evaluated model version.
        n_rows: Task name to the rows scored.
        comparisons: Model against baseline, evaluation ``heldout``.
    """

    lake: str
    registry: str
    versions: dict[str, str] = field(default_factory=dict)
    n_rows: dict[str, int] = field(default_factory=dict)
    comparisons: tuple[Comparison, ...] = ()

    def primary_wins(self) -> dict[str, bool]:
        """Task name to whether the model beats its baseline on the primary metric."""
        return {c.task: bool(c.wins) for c in self.comparisons if c.primary}


def wins_line(wins: Mapping[str, bool]) -> str:
    """One sentence for the end of an evaluation: how many models win, and what a win is."""
    losers = sorted(name for name, won in wins.items() if not won)
    tail = f"; not: {', '.join(losers)}" if losers else ""
    return (f"{sum(wins.values())} of {len(wins)} models beat their baseline on their primary "
            f"metric with the gain's 95% interval (bootstrap by race) above zero{tail}")


def format_value(value: float | None, *, signed: bool = False) -> str:
    """Four significant digits; an undefined value is a dash."""
    if value is None or math.isnan(value):
        return "-"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def format_interval(c: Comparison) -> str:
    """The gain's interval as ``[+0.01, +0.03]``; blank without one."""
    if c.low is None or c.high is None:
        return ""
    return f"[{format_value(c.low, signed=True)}, {format_value(c.high, signed=True)}]"


def verdict(c: Comparison) -> str:
    """``yes`` when the gain's interval is above zero, ``no`` when not, ``no interval``
    when there were too few races to resample; blank on metrics that are not primary."""
    if not c.primary:
        return ""
    if c.wins is None:
        return "no interval"
    return "yes" if c.wins else "no"


def table_rows(comparisons: Iterable[Comparison], *, with_evaluation: bool = False
               ) -> list[list[str]]:
    """The evaluation table as text cells: model, [evaluation,] metric, baseline, model,
    gain, its 95% interval by race, and whether the model wins on its primary metric
    (blank on other metrics)."""
    rows = []
    for c in comparisons:
        metric = f"{c.metric} (primary)" if c.primary else c.metric
        cells = [c.task, *([c.evaluation] if with_evaluation else []), metric,
                 format_value(c.baseline), format_value(c.model),
                 format_value(c.gain, signed=True), format_interval(c), verdict(c)]
        rows.append(cells)
    return rows


def table_header(*, with_evaluation: bool = False) -> list[str]:
    """Column titles matching ``table_rows``."""
    return ["model", *(["evaluation"] if with_evaluation else []), "metric", "baseline",
            "model", "gain", "95% interval", "beats baseline"]


def markdown_table(comparisons: Iterable[Comparison], *, with_evaluation: bool = False) -> str:
    """The comparisons as a GitHub Markdown table (for the README and model cards)."""
    header = table_header(with_evaluation=with_evaluation)
    align = ["---"] * (len(header) - 5) + ["---:"] * 4 + ["---"]  # baseline..interval
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
              for row in table_rows(comparisons, with_evaluation=with_evaluation)]
    return "\n".join(lines) + "\n"


__all__ = [
    "Comparison",
    "EvaluationReport",
    "TaskTraining",
    "TrainingReport",
    "ablation_name",
    "compare",
    "compare_ablation",
    "format_interval",
    "format_value",
    "lower_is_better",
    "markdown_table",
    "mean_metrics",
    "table_header",
    "table_rows",
    "verdict",
    "wins_line",
]
