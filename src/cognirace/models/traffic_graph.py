"""The field at the line as a graph, the baseline's design, and the traffic scorer.

Plain numpy and Polars, so the baseline and the scorer never load PyTorch. Nodes keep
the order of the input rows (predictions are row-aligned); the neighbours ahead and
behind are found by sorting each ``(race_id, lap)`` graph by position.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.errors import SchemaError
from cognirace.models.schema import FALLBACKS
from cognirace.models.traffic_labels import GRAPH, PASS_AHEAD, PASSED, TRAFFIC, labelled

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
PACE_INPUTS: tuple[str, ...] = ("pace_median3_s", "field_median_green_s")
"""Inputs of a car's pace relative to the field; either null leaves the car without one."""


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
    """Rows sorted by graph and position, with the neighbours' values beside each row.

    A car without a pace (``pace_median3_s`` or ``field_median_green_s`` null: no green
    lap yet) runs at the field's pace (relative pace 0) with ``has_pace`` 0; its row's
    ``fallbacks`` say so (see ``fallbacks``).
    """
    rel = (pl.col("pace_median3_s") - pl.col("field_median_green_s"))
    view = (frame.with_row_index("_row").sort(*GRAPH, "position")
            .with_columns(rel_pace_s=rel.clip(-PACE_CAP_S, PACE_CAP_S).fill_null(0.0),
                          has_pace=rel.is_not_null().cast(pl.Float64)))
    behind_adjacent = pl.col("position").shift(-1).over(GRAPH) == pl.col("position") + 1
    return view.with_columns(
        _ahead_pace=pl.col("rel_pace_s").shift(1).over(GRAPH),
        _behind_pace=pl.col("rel_pace_s").shift(-1).over(GRAPH),
        _behind_gap=pl.when(behind_adjacent).then(pl.col("gap_ahead_s").shift(-1).over(GRAPH)),
        _graph=pl.struct(*GRAPH).rank("dense").cast(pl.Int64),
    )


def _cap(name: str) -> pl.Expr:
    """A gap, s, capped at ``GAP_CAP_S``; no car there (leader, last) reads as the cap."""
    return pl.col(name).fill_null(GAP_CAP_S).clip(0.0, GAP_CAP_S)


def _pace_diff(name: str) -> pl.Expr:
    """Own relative pace minus the neighbour's in ``name``, s; 0 without a neighbour."""
    return (pl.col("rel_pace_s") - pl.col(name)).fill_null(0.0).clip(-PACE_CAP_S, PACE_CAP_S)


def _pass_columns() -> list[pl.Expr]:
    """Gap and pace difference to the car ahead and to the car behind, in that order."""
    return [_cap("gap_ahead_s"), _pace_diff("_ahead_pace").alias("pace_diff_ahead_s"),
            _cap("_behind_gap").alias("gap_behind_s"),
            (-_pace_diff("_behind_pace")).alias("pace_diff_behind_s")]


def _node_matrix(view: pl.DataFrame) -> FloatArray:
    """Node features of the sorted view (``NODE_FEATURES`` order)."""
    cols = view.select(
        "rel_pace_s", "has_pace", pl.col("tire_age_laps").cast(pl.Float64),
        pl.col("lap").cast(pl.Float64), pl.col("position").cast(pl.Float64),
        *_pass_columns(),
        is_leader=pl.col("gap_ahead_s").is_null().cast(pl.Float64),
        is_last=pl.col("_behind_gap").is_null().cast(pl.Float64),
    )
    return cols.select(NODE_FEATURES).to_numpy().astype(np.float64)


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
    gl = view["gap_leader_s"].to_numpy().astype(np.float64)
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
    """The baseline's two inputs: gap and pace difference to the car ahead or behind.

    Reads only ``GRAPH``, ``position``, ``gap_ahead_s`` and the two pace columns.
    """
    names = (["gap_ahead_s", "pace_diff_ahead_s"] if side == "ahead"
             else ["gap_behind_s", "pace_diff_behind_s"])
    view = _sorted_view(frame)
    out = np.empty((frame.height, 2))
    out[view["_row"].to_numpy()] = view.select(*_pass_columns()).select(names).to_numpy()
    return out


def nan_as_null(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with NaN in the optional float inputs read as null (missing), so a NaN
    takes the same documented path as a null and never reaches the network."""
    names = [n for n in ("gap_ahead_s", *PACE_INPUTS) if n in frame.columns]
    return frame.with_columns(pl.col(names).fill_nan(None))


def check_leaders(frame: pl.DataFrame) -> None:
    """Refuse a null ``gap_ahead_s`` anywhere but at position 1.

    Null means "no car ahead": the leader. On another car it would silently make that
    car a leader, so it is an error, not a default.

    Raises:
        SchemaError: A car behind the leader has no gap to the car ahead.
    """
    bad = frame.filter(pl.col("gap_ahead_s").is_null() & (pl.col("position") > 1))
    if bad.height:
        raise SchemaError(
            f"gap_ahead_s is null for {bad.height} car(s) behind the leader",
            column="gap_ahead_s", value=bad.row(0, named=True).get("car_number"),
            hint="null means no car ahead (position 1); send the gap to the car ahead, "
                 "s, for every other car")


def fallbacks(frame: pl.DataFrame, known_tracks: Collection[str] | None = None) -> pl.Series:
    """Per row, the pace inputs that were null (the car then runs at the field's pace),
    and ``track`` when ``known_tracks`` is given and lacks the row's track."""
    named = [pl.when(pl.col(name).is_null()).then(pl.lit(name)) for name in PACE_INPUTS]
    if known_tracks is not None:
        named.append(pl.when(~pl.col("track").is_in(list(known_tracks))).then(pl.lit("track")))
    return frame.select(pl.concat_list(named).list.drop_nulls().alias(FALLBACKS)).to_series()


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


def _squared_errors(rows: pl.DataFrame, predictions: pl.DataFrame
                    ) -> tuple[FloatArray, FloatArray]:
    """Squared error of each pass probability on the labelled rows (ahead, passed)."""
    keep = labelled(rows).to_numpy()
    errors = []
    for name, label in (("pass_ahead", PASS_AHEAD), ("passed", PASSED)):
        y = rows[label].cast(pl.Float64).to_numpy()[keep]
        p = predictions[f"p_{name}"].to_numpy()[keep]
        errors.append((p - y) ** 2)
    return errors[0], errors[1]


def score_traffic(rows: pl.DataFrame, predictions: pl.DataFrame) -> dict[str, float]:
    """AUC and Brier score of both pass probabilities, MAE of the traffic loss.

    Only labelled rows count (the others are nodes of the graph only). ``brier`` (the
    primary) is the mean of the two pass Brier scores: both probabilities count, and the
    pass ahead alone is one side of the same events.
    """
    keep = labelled(rows).to_numpy()
    metrics: dict[str, float] = {"n_rows": float(keep.sum())}
    if not keep.any():
        return {**metrics, "brier": 0.0}
    se_ahead, se_passed = _squared_errors(rows, predictions)
    for name, label, se in (("pass_ahead", PASS_AHEAD, se_ahead),
                            ("passed", PASSED, se_passed)):
        y = rows[label].cast(pl.Float64).to_numpy()[keep]
        metrics[f"n_{name}"] = float(y.sum())
        metrics[f"auc_{name}"] = auc(y, predictions[f"p_{name}"].to_numpy()[keep])
        metrics[f"brier_{name}"] = float(np.mean(se))
    metrics["brier"] = (metrics["brier_pass_ahead"] + metrics["brier_passed"]) / 2.0
    err = predictions["traffic_loss_s"].to_numpy()[keep] - rows[TRAFFIC].to_numpy()[keep]
    metrics["mae_traffic_loss_s"] = float(np.mean(np.abs(err)))
    return metrics


def traffic_parts(rows: pl.DataFrame, predictions: pl.DataFrame) -> pl.DataFrame:
    """The primary ``brier`` as additive parts: per labelled row, the sum of its two
    squared errors over 2 (``sum(num) / sum(den)`` is ``score_traffic(...)["brier"]``)."""
    se_ahead, se_passed = _squared_errors(rows, predictions)
    return pl.DataFrame({
        "race_id": rows["race_id"].filter(labelled(rows)),
        "num": pl.Series(se_ahead + se_passed, dtype=pl.Float64),
        "den": pl.Series(np.full(len(se_ahead), 2.0), dtype=pl.Float64)})


__all__ = [
    "GAP_BUCKETS_S",
    "NODE_FEATURES",
    "PACE_INPUTS",
    "TrafficGraph",
    "auc",
    "build_graph",
    "check_leaders",
    "fallbacks",
    "gap_bucket",
    "nan_as_null",
    "node_features",
    "pass_design",
    "score_traffic",
    "traffic_parts",
]
