"""Scoring the telemetry anomaly detector: detection and kind F1, false alarms per hour.

Detection counts a window as found when it is flagged and its truth class is a fault;
per kind, a window counts for kind ``k`` when it is flagged *as* ``k``. False alarms are
flagged clean windows per car-hour of clean windows (the target is under one). Laps are
scored too: a lap is faulty when any of its windows is, flagged when any is flagged.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.features.windows import WINDOW_S

KINDS: tuple[str, ...] = ("none", "sensor", "brake", "power", "gearbox")
"""Window classes; ``none`` is a clean window."""
TARGET = "fault_kind"
SECONDS_PER_HOUR = 3600.0
BoolArray = npt.NDArray[np.bool_]


def false_alarms_per_hour(flags: BoolArray, clean: BoolArray) -> float:
    """Flagged clean windows per car-hour of clean windows (5 s each)."""
    hours = float(clean.sum()) * WINDOW_S / SECONDS_PER_HOUR
    return float((flags & clean).sum()) / hours if hours > 0 else 0.0


def _prf(found: BoolArray, truth: BoolArray) -> tuple[float, float, float]:
    """Precision, recall and F1 of ``found`` against ``truth`` (0 when undefined)."""
    tp = float((found & truth).sum())
    precision = tp / float(found.sum()) if found.any() else 0.0
    recall = tp / float(truth.sum()) if truth.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def _lap_f1(rows: pl.DataFrame, flags: BoolArray) -> float:
    laps = pl.DataFrame({"race_id": rows["race_id"], "vehicle_id": rows["vehicle_id"],
                         "lap": rows["lap"], "fault": rows[TARGET] != "none", "flag": flags})
    per_lap = laps.group_by("race_id", "vehicle_id", "lap").agg(
        pl.col("fault").any(), pl.col("flag").any())
    return _prf(per_lap["flag"].to_numpy(), per_lap["fault"].to_numpy())[2]


def score_anomaly(rows: pl.DataFrame, predictions: pl.DataFrame) -> dict[str, float]:
    """Window precision, recall and F1, F1 per kind, lap F1 and false alarms per car-hour."""
    truth = rows[TARGET].to_numpy().astype(str)
    flags = predictions["is_anomaly"].to_numpy().astype(bool)
    kinds = predictions["anomaly_kind"].to_numpy().astype(str)
    fault = truth != "none"
    precision, recall, f1 = _prf(flags, fault)
    metrics = {"n_rows": float(rows.height), "n_fault_windows": float(fault.sum()),
               "precision": precision, "recall": recall, "f1": f1,
               "false_alarms_per_car_hour": false_alarms_per_hour(flags, ~fault),
               "lap_f1": _lap_f1(rows, flags) if rows.height else 0.0}
    for kind in KINDS[1:]:
        metrics[f"f1_{kind}"] = _prf(flags & (kinds == kind), truth == kind)[2]
    return metrics


def anomaly_parts(rows: pl.DataFrame, predictions: pl.DataFrame) -> pl.DataFrame:
    """Window detection F1 as additive parts, one row per window (``Task.parts``):
    ``num`` is 2 for a found fault window, ``den`` 2 for it, 1 for a false alarm or a
    missed fault window, so ``sum(num) / sum(den) = 2 TP / (2 TP + FP + FN)`` is the F1."""
    fault = rows[TARGET] != "none"
    flag = predictions["is_anomaly"].fill_null(False)
    tp = (flag & fault).cast(pl.Float64)
    fp_fn = (flag != fault).cast(pl.Float64)
    return pl.DataFrame({"race_id": rows["race_id"], "num": 2.0 * tp, "den": 2.0 * tp + fp_fn})


__all__ = ["KINDS", "TARGET", "anomaly_parts", "false_alarms_per_hour", "score_anomaly"]
