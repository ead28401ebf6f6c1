"""The rule the traffic network must beat: logistic regressions on gap and pace difference.

A race engineer reads a pass off two numbers: how close the car is to the one ahead,
and how much faster it is. ``GapPaceLogisticBaseline`` fits exactly that, on the same
training rows as the network (their labelled rows), once for each side of a pass, and
takes the training mean of the traffic loss by bucket of the gap ahead.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.errors import DataError
from cognirace.models.artifacts import ModelState
from cognirace.models.base import Model
from cognirace.models.fcy import ridge_logistic
from cognirace.models.traffic_columns import (
    BASELINE_INPUTS,
    KEYS,
    OUTPUTS,
    TARGETS,
    labels,
    outputs,
)
from cognirace.models.traffic_graph import (
    GAP_BUCKETS_S,
    check_leaders,
    gap_bucket,
    nan_as_null,
    pass_design,
)
from cognirace.models.traffic_labels import PASS_AHEAD, labelled

FloatArray = npt.NDArray[np.float64]

BASELINE_L2 = 1.0
"""Ridge penalty of the baseline's logistic coefficients (rows' worth of weight)."""


class GapPaceLogisticBaseline(Model):
    """Baseline: logistic regressions on gap and pace difference; mean loss by gap bucket.

    Each pass probability is a logistic regression on the gap (s) and pace difference
    (s) to the car directly ahead (or behind), with a light ridge penalty so a season
    with one class only still fits; the traffic loss is the training mean per bucket
    of the gap ahead (``GAP_BUCKETS_S``).
    """

    kind = "traffic_logistic"
    kind_version = "2"  # reads only the inputs it uses; fitted on labelled rows
    inputs = BASELINE_INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    coef_ahead_: FloatArray
    coef_passed_: FloatArray
    bucket_loss_s_: FloatArray

    def _fit(self, frame: pl.DataFrame) -> None:
        frame = nan_as_null(frame)
        keep = labelled(frame).to_numpy()
        if not keep.any():
            raise DataError("no traffic rows to learn from", column=PASS_AHEAD)
        y_ahead, y_passed, loss_s = (y[keep] for y in labels(frame))
        n = int(keep.sum())
        self.coef_ahead_, self.coef_passed_ = (
            ridge_logistic(np.column_stack([np.ones(n), pass_design(frame, side)[keep]]),
                           y, np.array([0.0, BASELINE_L2, BASELINE_L2]))
            for side, y in (("ahead", y_ahead), ("behind", y_passed)))
        buckets = gap_bucket(frame)[keep]
        overall = float(loss_s.mean())
        self.bucket_loss_s_ = np.array([
            float(loss_s[buckets == b].mean()) if np.any(buckets == b) else overall
            for b in range(len(GAP_BUCKETS_S) + 1)])

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        frame = nan_as_null(frame)
        check_leaders(frame)

        def prob(side: str, coef: FloatArray) -> FloatArray:
            z = coef[0] + pass_design(frame, side) @ coef[1:]
            return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))), dtype=np.float64)
        return outputs(frame, prob("ahead", self.coef_ahead_), prob("behind", self.coef_passed_),
                       self.bucket_loss_s_[gap_bucket(frame)])

    def _get_state(self) -> ModelState:
        return ModelState(values={
            "coef_ahead": [float(v) for v in self.coef_ahead_],
            "coef_passed": [float(v) for v in self.coef_passed_],
            "bucket_loss_s": [float(v) for v in self.bucket_loss_s_]})

    def _set_state(self, state: ModelState) -> None:
        self.coef_ahead_ = np.asarray(state.values["coef_ahead"], dtype=np.float64)
        self.coef_passed_ = np.asarray(state.values["coef_passed"], dtype=np.float64)
        self.bucket_loss_s_ = np.asarray(state.values["bucket_loss_s"], dtype=np.float64)


__all__ = ["BASELINE_L2", "GapPaceLogisticBaseline"]
