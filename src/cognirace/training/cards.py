"""Model cards: what a published model is for, what it reads, and how well it does.

A card travels with every registry version, in Markdown for people and JSON for the
API and dashboards. It is built from the task and the fitted model's own metadata, so
inputs and units cannot drift from what the model really reads, and its numbers are
the evaluation just run: always the model beside its baseline, on races it did not see.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cognirace.models.base import Model
from cognirace.models.schema import ColumnSpec
from cognirace.models.task import Task
from cognirace.training.report import Comparison, markdown_table

EVALUATION_TEXT = {
    "races": "held-out races (whole races kept out of training)",
    "loto": "leave-one-track-out (mean over folds: each track's races kept out in turn)",
}


@dataclass(frozen=True)
class TrainingData:
    """What a model learned from, for its card.

    Attributes:
        lake: The lake folder.
        races: Race ids of the rows.
        tracks: Track keys of the rows.
        n_rows: Examples fitted on.
        data_fingerprint: Fingerprint of those examples.
        seed: Seed of the training run (split draw, model seeds).
    """

    lake: str
    races: tuple[str, ...]
    tracks: tuple[str, ...]
    n_rows: int
    data_fingerprint: str
    seed: int


def _finite(value: float | None) -> float | None:
    """JSON has no NaN: an undefined metric is stored as null."""
    return None if value is None or not math.isfinite(value) else value


def card_json(task: Task, model: Model, baseline: Model, data: TrainingData,
              comparisons: Sequence[Comparison]) -> dict[str, Any]:
    """The JSON model card (every number finite or null)."""
    meta = model.metadata()
    return {
        "name": task.name, "purpose": task.title,
        "model": {"class": meta.model_class, "kind": meta.kind,
                  "kind_version": meta.kind_version, "hyperparameters": meta.hyperparameters},
        "baseline": {"class": baseline.metadata().model_class, "kind": baseline.kind,
                     "registry_name": f"{task.name}-baseline"},
        "inputs": [c.to_dict() for c in meta.inputs],
        "targets": [c.to_dict() for c in meta.targets],
        "outputs": [c.to_dict() for c in meta.outputs],
        "keys": list(meta.keys),
        "training_data": {
            "lake": data.lake, "n_races": len(data.races), "races": list(data.races),
            "tracks": list(data.tracks), "n_rows": data.n_rows,
            "data_fingerprint": data.data_fingerprint, "seed": data.seed,
        },
        "primary_metric": task.primary, "higher_is_better": task.higher_is_better,
        "evaluation": [{
            "evaluation": c.evaluation, "metric": c.metric, "primary": c.primary,
            "baseline": _finite(c.baseline), "model": _finite(c.model), "gain": _finite(c.gain),
        } for c in comparisons],
        "target_source": task.target_source,
        "real_data": task.real_data_note,
        "limits": list(task.limits),
    }


def _columns_markdown(specs: Sequence[ColumnSpec]) -> list[str]:
    if not specs:
        return ["(none)"]
    lines = ["| column | type | unit | range | meaning |", "| --- | --- | --- | --- | --- |"]
    for s in specs:
        bounds = "" if s.low is None and s.high is None else \
            f"{'' if s.low is None else f'{s.low:g}'}..{'' if s.high is None else f'{s.high:g}'}"
        lines.append(f"| `{s.name}` | {s.dtype} | {s.unit or '-'} | {bounds or '-'} | "
                     f"{s.description} |")
    return lines


def card_markdown(task: Task, model: Model, baseline: Model, data: TrainingData,
                  comparisons: Sequence[Comparison]) -> str:
    """The Markdown model card, in the order a reader asks: what, from what, how well."""
    meta = model.metadata()
    direction = "higher" if task.higher_is_better else "lower"
    lines = [
        f"# Model card: {task.name}", "", task.title, "",
        f"- Model: `{meta.model_class}` (kind `{meta.kind}` v{meta.kind_version})",
        f"- Baseline: `{baseline.metadata().model_class}`, published as "
        f"`{task.name}-baseline`",
        f"- Primary metric: `{task.primary}` ({direction} is better)", "",
        "## Inputs", "", *_columns_markdown(meta.inputs), "",
        "## Outputs", "", *_columns_markdown(meta.outputs), "",
        "## Training data", "",
        f"- Lake: `{data.lake}`",
        f"- {len(data.races)} races on {len(data.tracks)} tracks "
        f"({', '.join(data.tracks)}), {data.n_rows:,} examples",
        f"- Data fingerprint: `{data.data_fingerprint}`",
        f"- Seed: {data.seed}", "",
        "## Metrics against the baseline", "",
    ]
    for evaluation, text in EVALUATION_TEXT.items():
        rows = [c for c in comparisons if c.evaluation == evaluation]
        if rows:
            lines += [f"On {text}; gain is positive when the model is better.", "",
                      markdown_table(rows).rstrip("\n"), ""]
    folds = [c for c in comparisons if c.primary and c.evaluation.startswith("track=")]
    if folds:
        lines += [f"Primary metric with each track held out in turn ({task.primary}):", "",
                  markdown_table(folds, with_evaluation=True).rstrip("\n"), ""]
    lines += [
        "## Target source", "", task.target_source, "",
        "## With real data only", "", task.real_data_note or "Works as trained.", "",
        "## Known limits", "", *([f"- {limit}" for limit in task.limits] or ["- none known"]),
    ]
    return "\n".join(lines) + "\n"


__all__ = ["EVALUATION_TEXT", "TrainingData", "card_json", "card_markdown"]
