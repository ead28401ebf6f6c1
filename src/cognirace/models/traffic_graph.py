"""The field at the line as a graph, the baseline's design, and the traffic scorer.

Plain numpy and Polars, so the baseline and the scorer never load PyTorch. Nodes keep
the order of the input rows (predictions are row-aligned); the neighbours ahead and
behind are found by sorting each ``(race_id, lap)`` graph by position.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import polars as pl

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

GAP_CAP_S = 10.0
"""Gaps are capped here, s: beyond it a car is out of reach either way."""
PACE_CAP_S = 5.0
"""Pace differences are capped here, s per lap (a car on a slow lap, not a pace)."""
GAP_BUCKETS_S: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0, 5.0)
"""Upper edges of the baseline's gap-ahead buckets, s (one more bucket above the last)."""
NODE_FEATURES: tuple[str, ...] = (
    "rel_pace_s", "has_pace", "tire_age_laps", "lap", "position", "gap_ahead_s", "is_leader",
    "gap_behind_s", "is_last", "pace_diff_ahead_s", "pace_diff_behind_s",
)
"""Node features, in column order; pace differences are own pace minus the other car's
(positive: this car is slower), relative pace is to the field median green lap."""


@dataclass(frozen=True)
class TrafficGraph:
    """Disjoint graphs of many laps as one: nodes, directed edges, edge features.

    Attributes:
        nodes: Node features (``NODE_FEATURES``), one row per input row, input order.
        src: Edge sources (the car a message comes from), node indices.
        dst: Edge targets (the car receiving it).
        edges: Edge features: signed gap at the line (source minus target, s; positive
            when the source is behind) and pace difference (source minus target, s).
    """

    nodes: FloatArray
    src: IntArray
    dst: IntArray
    edges: FloatArray

    def with_nodes(self, nodes: FloatArray) -> TrafficGraph:
        """The same graph with other node features (e.g. standardised)."""
        return replace(self, nodes=nodes)


def _sorted_view(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows sorted by graph and position, with the neighbours' values beside each row."""
    graph = ("race_id", "lap")
    rel = (pl.col("pace_median3_s") - pl.col("field_median_green_s"))
    view = (frame.with_row_index("_row").sort("race_id", "lap", "position")
            .with_columns(rel_pace_s=rel.clip(-PACE_CAP_S, PACE_CAP_S).fill_null(0.0),
                          has_pace=rel.is_not_null().cast(pl.Float64),
                          _gl=pl.col("gap_leader_s").fill_null(0.0)))
    behind_adjacent = pl.col("position").shift(-1).over(graph) == pl.col("position") + 1
    return view.with_columns(
        _ahead_pace=pl.col("rel_pace_s").shift(1).over(graph),
        _behind_pace=pl.col("rel_pace_s").shift(-1).over(graph),
        _behind_gap=pl.when(behind_adjacent).then(pl.col("gap_ahead_s").shift(-1).over(graph)),
        _graph=pl.struct(*graph).rank("dense").cast(pl.Int64),
    )


def _node_matrix(view: pl.DataFrame) -> FloatArray:
    """Node features of the sorted view (``NODE_FEATURES`` order)."""
    def cap(name: str) -> pl.Expr:
        return pl.col(name).fill_null(GAP_CAP_S).clip(0.0, GAP_CAP_S)

    def pace_diff(name: str) -> pl.Expr:
        return (pl.col("rel_pace_s") - pl.col(name)).fill_null(0.0).clip(-PACE_CAP_S, PACE_CAP_S)

    cols = view.select(
        "rel_pace_s", "has_pace", pl.col("tire_age_laps").cast(pl.Float64),
        pl.col("lap").cast(pl.Float64), pl.col("position").cast(pl.Float64),
        cap("gap_ahead_s"), is_leader=pl.col("gap_ahead_s").is_null().cast(pl.Float64),
        gap_behind_s=cap("_behind_gap"),
        is_last=pl.col("_behind_gap").is_null().cast(pl.Float64),
        pace_diff_ahead_s=pace_diff("_ahead_pace"),
        pace_diff_behind_s=-pace_diff("_behind_pace"),
    )
    return cols.to_numpy().astype(np.float64)


def node_features(frame: pl.DataFrame) -> FloatArray:
    """Node features in the order of ``frame``'s rows."""
    view = _sorted_view(frame)
    out = np.empty((frame.height, len(NODE_FEATURES)))
    out[view["_row"].to_numpy()] = _node_matrix(view)
    return out


def _edges(view: pl.DataFrame, window_s: float) -> tuple[IntArray, IntArray, FloatArray]:
    """Directed edges between cars of one graph at most ``window_s`` apart at the line."""
    rows = view["_row"].to_numpy().astype(np.int64)
    graph = view["_graph"].to_numpy()
    gl = view["_gl"].to_numpy().astype(np.float64)
    pace = view["rel_pace_s"].to_numpy().astype(np.float64)
    bounds = np.flatnonzero(np.diff(graph)) + 1
    src, dst = [], []
    for part in np.split(np.arange(len(rows)), bounds):
        near = np.abs(gl[part][:, None] - gl[part][None, :]) <= window_s
        np.fill_diagonal(near, False)
        i, j = np.nonzero(near)
        src.append(part[j])
        dst.append(part[i])
    s = np.concatenate(src) if src else np.zeros(0, np.int64)
    d = np.concatenate(dst) if dst else np.zeros(0, np.int64)
    feats = np.column_stack([gl[s] - gl[d], np.clip(pace[s] - pace[d], -PACE_CAP_S, PACE_CAP_S)])
    return rows[s], rows[d], feats.astype(np.float64)


def build_graph(frame: pl.DataFrame, window_s: float) -> TrafficGraph:
    """The graphs of every ``(race_id, lap)`` in ``frame``, nodes in row order."""
    view = _sorted_view(frame)
    nodes = np.empty((frame.height, len(NODE_FEATURES)))
    nodes[view["_row"].to_numpy()] = _node_matrix(view)
    src, dst, edges = _edges(view, window_s)
    return TrafficGraph(nodes, src, dst, edges)


def pass_design(frame: pl.DataFrame, side: str) -> FloatArray:
    """The baseline's two inputs: gap and pace difference to the car ahead or behind."""
    names = (("gap_ahead_s", "pace_diff_ahead_s") if side == "ahead"
             else ("gap_behind_s", "pace_diff_behind_s"))
    nodes = node_features(frame)
    return nodes[:, [NODE_FEATURES.index(n) for n in names]]


def gap_bucket(frame: pl.DataFrame) -> IntArray:
    """Bucket of the gap ahead (``GAP_BUCKETS_S``; the leader falls in the last one)."""
    gap = frame["gap_ahead_s"].fill_null(GAP_CAP_S).to_numpy()
    return np.asarray(np.digitize(gap, GAP_BUCKETS_S, right=True), dtype=np.int64)


def auc(y: FloatArray, p: FloatArray) -> float:
    """ROC AUC (Mann-Whitney, ties count half); 0.5 when only one class is present."""
    n_pos = float(y.sum())
    n_neg = float(len(y) - n_pos)
    if n_pos == 0 or n_neg == 0:
        return 0.5
    ranks = pl.Series(p).rank("average").to_numpy()
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def score_traffic(rows: pl.DataFrame, predictions: pl.DataFrame) -> dict[str, float]:
    """AUC and Brier score of both pass probabilities, MAE of the traffic loss.

    ``brier`` (the primary) is the mean of the two pass Brier scores: both probabilities
    count, and the pass ahead alone is one side of the same events.
    """
    metrics: dict[str, float] = {"n_rows": float(rows.height)}
    if rows.is_empty():
        return {**metrics, "brier": 0.0}
    for name, label in (("pass_ahead", "passed_ahead_next"), ("passed", "was_passed_next")):
        y = rows[label].cast(pl.Float64).to_numpy()
        p = predictions[f"p_{name}"].to_numpy()
        metrics[f"n_{name}"] = float(y.sum())
        metrics[f"auc_{name}"] = auc(y, p)
        metrics[f"brier_{name}"] = float(np.mean((p - y) ** 2))
    metrics["brier"] = (metrics["brier_pass_ahead"] + metrics["brier_passed"]) / 2.0
    err = predictions["traffic_loss_s"].to_numpy() - rows["traffic_next_s"].to_numpy()
    metrics["mae_traffic_loss_s"] = float(np.mean(np.abs(err)))
    return metrics


__all__ = [
    "GAP_BUCKETS_S",
    "NODE_FEATURES",
    "TrafficGraph",
    "auc",
    "build_graph",
    "gap_bucket",
    "node_features",
    "pass_design",
    "score_traffic",
]
