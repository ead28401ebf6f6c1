"""Traffic: passes and time lost to traffic on the next lap, from a graph of the field.

The rows of one ``(race_id, lap)`` are one graph: every car of the field as it stands
once each has crossed the line at the end of that lap; labels come from the next lap
where it is raced on track (``traffic_labels``: who builds the rows, and why every car
is a node whatever it does next). Every input is known at that line: position, gaps,
the car's recent green pace, the field's pace on the lap, tire age.

``TrafficGnnModel`` is a small message-passing network (PyTorch, CPU): cars are nodes
with pace relative to the field, tire age, laps run (a fuel proxy), position, the gaps
and pace differences to the cars directly ahead and behind, and the track's pass rate
in the training races (some tracks are hard to pass at); edges join cars within
``edge_window_s`` of each other at the line, carrying the signed gap and pace
difference. It trains full-batch on every lap's graph at once and keeps the epoch with
the lowest loss on a fifth of the training races held out (early stopping), so a small
season does not overfit. ``GapPaceLogisticBaseline``, the rule it must beat, fits one
logistic regression on gap and pace difference for each pass probability and takes the
training mean of the traffic loss by gap bucket.

Missing values: a car without a green lap yet has no pace (``pace_median3_s`` or
``field_median_green_s`` null); both models then read it at the field's pace and its
row's ``fallbacks`` name the null input. ``gap_ahead_s`` is null for the leader only;
every other input is required.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.errors import DataError, ModelError
from cognirace.models.artifacts import (
    ModelState,
    load_torch_state,
    read_state,
    save_torch_state,
    write_state,
)
from cognirace.models.base import Model
from cognirace.models.task import Task
from cognirace.models.traffic_baseline import GapPaceLogisticBaseline
from cognirace.models.traffic_columns import INPUTS, KEYS, OUTPUTS, TARGETS, labels, outputs
from cognirace.models.traffic_graph import (
    NODE_FEATURES,
    TrafficGraph,
    build_graph,
    check_leaders,
    nan_as_null,
    score_traffic,
    traffic_parts,
)
from cognirace.models.traffic_labels import PASS_AHEAD, PASSED, graph_nodes, labelled
from cognirace.models.traffic_labels import traffic_rows as build_rows

FloatArray = npt.NDArray[np.float64]

WEIGHTS_FILE = "traffic_gnn.pt"
PRIOR_ROWS = 200.0
"""Weight, in labelled rows, of the pooled pass rate in each track's rate (``pass_rates``)."""


def pass_rates(frame: pl.DataFrame) -> tuple[dict[str, float], float]:
    """Each track's share of passes (both labels) on the labelled rows, and the pooled one.

    A track's share is pulled toward the pooled share by ``PRIOR_ROWS`` rows' worth of
    weight, so a track seen in few rows does not get an extreme rate.
    """
    rows = frame.filter(labelled(frame)).select(
        "track", y=(pl.col(PASS_AHEAD).cast(pl.Float64) + pl.col(PASSED).cast(pl.Float64)) / 2)
    pooled = float(rows["y"].mean())  # type: ignore[arg-type]
    per_track = rows.group_by("track").agg(pl.col("y").sum(), n=pl.len())
    return ({str(t): (y + PRIOR_ROWS * pooled) / (n + PRIOR_ROWS)
             for t, y, n in per_track.iter_rows()}, pooled)


def _logit(p: FloatArray) -> FloatArray:
    q = np.clip(p, 1e-4, 1.0 - 1e-4)
    return np.asarray(np.log(q / (1.0 - q)), dtype=np.float64)


def _net_module() -> ModuleType:
    """The PyTorch network's module, imported on first use (PyTorch is heavy and optional).

    Raises:
        ModelError: PyTorch is not installed.
    """
    try:
        return import_module("cognirace.models.traffic_net")
    except ImportError as exc:
        raise ModelError("the traffic model needs PyTorch", value=str(exc),
                         hint="install the CPU build: pip install torch==2.13.0") from exc


def _split_races(frame: pl.DataFrame, share: float,
                 seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows of the races kept for fitting and of the ``share`` held out (none under 3 races)."""
    races = sorted(set(frame["race_id"].to_list()))
    n_held = round(share * len(races))
    if len(races) < 3 or n_held == 0:
        return frame, frame.clear()
    held = set(np.random.default_rng(seed).choice(races, n_held, replace=False).tolist())
    is_held = frame["race_id"].is_in(list(held))
    return frame.filter(~is_held), frame.filter(is_held)


class TrafficGnnModel(Model):
    """A two-layer message-passing network over the field at the line (see module doc).

    Hyperparameters:
        hidden: Width of the node states.
        n_layers: Message-passing rounds (2 reaches cars two neighbours away).
        edge_window_s: Cars at most this far apart at the line are joined, s.
        epochs: Full-batch Adam steps over all training graphs.
        learning_rate: Adam step size.
        weight_decay: L2 penalty on the weights (AdamW).
        validation_share: Share of the training races held out to pick the epoch with
            the lowest validation loss (early stopping); 0 trains all ``epochs`` on all.
        seed: Seeds the weight initialisation, so a fit is reproducible.
    """

    kind = "traffic_gnn"
    kind_version = "2"  # every car of the field is a node; fallbacks output
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    mean_: FloatArray
    scale_: FloatArray
    net_: Any
    epochs_kept_: int
    track_rate_: dict[str, float]
    pooled_rate_: float

    def __init__(self, *, hidden: int = 32, n_layers: int = 2, edge_window_s: float = 2.0,
                 epochs: int = 120, learning_rate: float = 0.02, weight_decay: float = 1e-4,
                 validation_share: float = 0.2, seed: int = 0) -> None:
        self.hidden = hidden
        self.n_layers = n_layers
        self.edge_window_s = edge_window_s
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_share = validation_share
        self.seed = seed

    def _new_net(self) -> Any:
        return _net_module().new_net(len(NODE_FEATURES) + 1, self.hidden, self.n_layers)

    def _fit(self, frame: pl.DataFrame) -> None:
        train_net = _net_module().train_net
        if not labelled(frame).any():
            raise DataError("no traffic rows to learn from", column=PASS_AHEAD,
                            hint="build rows with traffic_rows from races with green laps")
        frame = nan_as_null(frame)
        self.track_rate_, self.pooled_rate_ = pass_rates(frame)
        nodes = self._graph(frame).nodes
        self.mean_ = nodes.mean(axis=0)
        std = nodes.std(axis=0)
        self.scale_ = np.where(std > 1e-9, std, 1.0)
        fit_rows, held_rows = _split_races(frame, self.validation_share, self.seed)
        validation = None
        if held_rows.height:
            validation = (self._scaled(self._graph(held_rows)), labels(held_rows))
        self.net_ = self._new_net()
        self.epochs_kept_ = train_net(
            self.net_, self._scaled(self._graph(fit_rows)),
            labels(fit_rows), seed=self.seed, epochs=self.epochs,
            learning_rate=self.learning_rate, weight_decay=self.weight_decay,
            validation=validation)

    def _graph(self, frame: pl.DataFrame) -> TrafficGraph:
        """The field's graph, each node also carrying its track's pass rate (log-odds)."""
        graph = build_graph(frame, self.edge_window_s)
        return graph.with_nodes(np.column_stack([graph.nodes, _logit(self._rates(frame))]))

    def _rates(self, frame: pl.DataFrame) -> FloatArray:
        """Each row's track pass rate; the pooled rate at a track the training data lacked."""
        return np.asarray(frame["track"].replace_strict(
            self.track_rate_, default=self.pooled_rate_, return_dtype=pl.Float64).to_numpy(),
            dtype=np.float64)

    def _scaled(self, graph: TrafficGraph) -> TrafficGraph:
        return graph.with_nodes((graph.nodes - self.mean_) / self.scale_)

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        frame = nan_as_null(frame)
        check_leaders(frame)
        if frame.is_empty():
            return outputs(frame, *(np.zeros(0) for _ in range(3)),
                           known_tracks=self.track_rate_)
        run_net = _net_module().run_net
        graph = self._scaled(self._graph(frame))
        return outputs(frame, *run_net(self.net_, graph), known_tracks=self.track_rate_)

    def _save_state(self, directory: Path) -> list[Path]:
        files = write_state(directory, ModelState(
            values={"epochs_kept": self.epochs_kept_, "track_rate": self.track_rate_,
                    "pooled_rate": self.pooled_rate_},
            arrays={"mean": self.mean_, "scale": self.scale_}))
        return [*files, save_torch_state(directory / WEIGHTS_FILE, self.net_)]

    def _load_state(self, directory: Path) -> None:
        state = read_state(directory)
        self.track_rate_ = {str(k): float(v) for k, v in state.values["track_rate"].items()}
        self.pooled_rate_ = float(state.values["pooled_rate"])
        self.mean_ = np.asarray(state.arrays["mean"], dtype=np.float64)
        self.scale_ = np.asarray(state.arrays["scale"], dtype=np.float64)
        self.epochs_kept_ = int(state.values["epochs_kept"])
        net = self._new_net()
        load_torch_state(directory / WEIGHTS_FILE, net)
        net.eval()
        self.net_ = net


class TrafficGnnWithoutTrackRate(TrafficGnnModel):
    """Ablation: the graph network with every track at the pooled pass rate.

    Scored beside the model (``Task.ablations``) so the model card says how much of the
    gain over the baseline is the track's pass rate, which the baseline does not read.
    """

    kind = "traffic_gnn_without_track_rate"

    def _rates(self, frame: pl.DataFrame) -> FloatArray:
        return np.full(frame.height, self.pooled_rate_)


_NODE_INPUTS = [s.name for s in INPUTS if s.name != "track"]
_REQUIRED = [s.name for s in INPUTS if not s.nullable]


def traffic_rows(features: pl.DataFrame,
                 truth: Mapping[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """Every car at the line of every lap with labels (``traffic_labels.traffic_rows``),
    with the model's inputs.

    Raises:
        DataError: ``truth`` has no ``laps`` table (the traffic loss label needs it).
    """
    return build_rows(features, truth, inputs=_NODE_INPUTS, required=_REQUIRED)


def line_graph(features: pl.DataFrame) -> pl.DataFrame:
    """The graph of one line (lap feature rows of the cars that crossed it) as the
    model's nodes, kept as ``traffic_rows`` keeps them (no labels)."""
    return graph_nodes(features, inputs=_NODE_INPUTS, required=_REQUIRED)


TASK = Task(
    name="traffic",
    title="Passes and time lost to traffic on the next lap, from a graph of the field",
    model=TrafficGnnModel,
    baseline=GapPaceLogisticBaseline,
    rows=traffic_rows,
    score=score_traffic,
    primary="brier",
    parts=traffic_parts,
    ablations={"without track pass rate": TrafficGnnWithoutTrackRate},
    target_source="passes: timing files (order at the line on consecutive green laps, the "
                  "car directly ahead or behind, pit laps excluded); time lost to traffic: "
                  "the simulator's truth (`traffic_s`)",
    real_data_note="Real timing files give the pass labels and every input, so the pass "
                   "probabilities can be trained on real races; they carry no time lost to "
                   "traffic, so traffic_loss_s is learned from the simulator only.",
    limits=(
        "The graph is the field once every car has crossed the line; live, the cars "
        "behind are known only after they cross.",
        "Passes are seen at the line only: a pass and a re-pass within one lap count as none.",
        "Lapped cars are nodes like any other; a lapping move on a backmarker is not a pass "
        "label because only the car directly ahead by position counts.",
        "traffic_loss_s is the simulator's traffic model, not measured time loss.",
        "The track's pass rate is learned from the training races; at a track they lack "
        "the pooled rate stands in (`fallbacks` names `track`), so leave-one-track-out "
        "shows the model without it. The ablation `without track pass rate` says how "
        "much of the gain it is; the baseline does not read the track.",
        "A car's own passing skill (racecraft) is not an input: it shows only through "
        "its pace.",
    ),
    needs_truth=True,
)


__all__ = [
    "TASK",
    "GapPaceLogisticBaseline",
    "TrafficGnnModel",
    "TrafficGnnWithoutTrackRate",
    "line_graph",
    "pass_rates",
    "traffic_rows",
]
