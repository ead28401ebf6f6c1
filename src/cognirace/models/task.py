"""A learning task: what one of the eight models learns, from which rows, against what.

The training and evaluation layer treats every model the same way through its ``Task``:
build the rows (inputs, target, keys) from the lap feature table and, where real data
lacks the target, the simulator's truth; fit the model and its baseline on the same
rows; score both with the same metrics on races neither saw. Keeping the row builder
next to the model keeps the label honest: it is written once, in one place, and never
computed from the model's own inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import polars as pl

from cognirace.errors import DataError
from cognirace.models.base import Model

if TYPE_CHECKING:
    from cognirace.lake import Lake

Rows = Callable[[pl.DataFrame, "Mapping[str, pl.DataFrame] | None"], pl.DataFrame]
"""``(features, truth) -> rows``: the lap feature table (``cognirace.features``) and, for
tasks that need it, the simulator's truth tables by name (``laps``, ``pit_stops``,
``cautions``, ``faults``, ``cars``), each keyed by the lake's ``race_id`` and
``car_number`` (text, as in the lake: ``"021"`` and ``"21"`` are two cars; see
``truth_by_car``). Returns one row per example with ``race_id``, ``track``, the model's
inputs, its targets and any columns the metrics need."""

Source = Callable[["Lake"], pl.DataFrame]
"""Builds the table a task's ``rows`` reads, from a lake, when the lap feature table is
not it: telemetry windows for the anomaly detector, per-lap style vectors for the driver
embedding. Such builders live in ``cognirace.features`` so training and live use share
them."""

Scorer = Callable[[pl.DataFrame, pl.DataFrame], dict[str, float]]
"""``(rows, predictions) -> metrics``; predictions are row-aligned with ``rows``."""

Parts = Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame]
"""``(rows, predictions) -> parts``: the primary metric split into additive pieces, one
row per example (or per race), with columns ``race_id``, ``num`` and ``den`` such that
``sum(num) / sum(den)`` equals ``score(rows, predictions)[primary]``. A mean error is
(error, 1) per row; an F1 score is (2 TP, 2 TP + FP + FN). Races are the unit of the
bootstrap that puts an interval on every gain: resampling whole races keeps the laps of
one race, which share weather, cautions and field, together."""


@dataclass(frozen=True)
class Task:
    """One model's learning problem.

    Attributes:
        name: Registry name and API route (``laptime``, ``tire``, ``fuel``, ``pitloss``...).
        title: One line for reports and model cards.
        model: The model class (default hyperparameters are used by ``cognirace train``).
        baseline: The simple baseline class, fitted and scored on the same rows.
        rows: Builds the examples (see ``Rows``).
        score: Scores predictions (see ``Scorer``).
        primary: The metric the model must win on; lower is better unless ``higher_is_better``.
        higher_is_better: Whether a larger ``primary`` is better (AUC, accuracy).
        target_source: Where the label comes from, for the model card (timing files, or the
            simulator's truth for targets real data lacks).
        real_data_note: What a user with only real data gets from this model.
        limits: Known limits, for the model card.
        needs_truth: Whether ``rows`` needs the truth tables to build its labels.
        reads_truth: Whether ``rows`` reads the truth tables where the lake has them
            (simulated races) and builds its rows without them (real races), for an
            input whose only record independent of the label is the simulator's.
        source: Builds the table ``rows`` receives in place of the lap feature table;
            ``None`` for the lap feature table itself.
        history: Whether the task also learns from (and is scored on) a history lake:
            past seasons' timing files, which exist in far greater number than
            telemetry. Rare events (cautions) need them.
        parts: Splits ``primary`` into per-race additive pieces (see ``Parts``), for the
            bootstrap interval of the gain; ``None`` leaves the gain without one.
        ablations: Variants of the model without one input or part, by a short name
            (``"without n_off_pace"``): fitted and scored beside the model on the same
            rows, and published in the model card, so the card says where the gain
            comes from. Each is a model class with default hyperparameters.
    """

    name: str
    title: str
    model: type[Model]
    baseline: type[Model]
    rows: Rows
    score: Scorer
    primary: str
    higher_is_better: bool = False
    target_source: str = "timing files"
    real_data_note: str = ""
    limits: tuple[str, ...] = field(default_factory=tuple)
    needs_truth: bool = False
    reads_truth: bool = False
    source: Source | None = None
    history: bool = False
    parts: Parts | None = None
    ablations: Mapping[str, type[Model]] = field(default_factory=dict)

    def gain(self, model_value: float, baseline_value: float) -> float:
        """How much the model beats the baseline on ``primary``: positive is better."""
        diff = model_value - baseline_value
        return diff if self.higher_is_better else -diff


def truth_by_car(truth: Mapping[str, pl.DataFrame], table: str) -> pl.DataFrame:
    """The truth table ``table``, refused unless its ``car_number`` is text like the lake's.

    Truth joins the lap feature table on ``race_id`` and ``car_number``. A numeric
    column cannot say whether it meant car ``"021"`` or car ``"21"``, and a task cannot
    know where it came from; ``cognirace.training.load_truth``, which reads the
    simulator's files and knows how that simulator wrote them, makes the numbers text
    once, for every task.

    Raises:
        DataError: ``car_number`` is not a String column.
    """
    frame = truth[table]
    dtype = frame.schema.get("car_number")
    if dtype is not None and dtype != pl.String:
        raise DataError(f"truth table {table!r} has car_number of type {dtype}, not text",
                        column="car_number",
                        hint="car numbers are text (\"021\" and \"21\" are two cars); "
                             "read truth with cognirace.training.load_truth")
    return frame


__all__ = ["Parts", "Rows", "Scorer", "Source", "Task", "truth_by_car"]
