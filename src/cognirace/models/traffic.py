"""Traffic: passes and time lost to traffic on the next lap, from a graph of the field.

One row per car and lap: a green lap followed by another green lap of the same car
(``green_lap`` on both), so the next lap is raced on track, not in the pits. The rows of
one ``(race_id, lap)`` are one graph: the field as it stands once every car has crossed
the line at the end of that lap.

Labels come from the timing files for passes: the car directly ahead at the line of lap
``L`` (position - 1 among the cars that completed lap ``L``) is passed when this car
completes lap ``L + 1`` first and that car's lap ``L + 1`` did not end in the pit lane
(a place gained in the pits is not a pass). ``was_passed_next`` is the same seen from
the car directly behind. Time lost to traffic on lap ``L + 1`` is the simulator's
``traffic_s``, which real timing files do not carry.

``TrafficGnnModel`` is a small message-passing network (PyTorch, CPU): cars are nodes
with pace relative to the field, tire age, laps run (a fuel proxy), position and the
gaps and pace differences to the cars directly ahead and behind; edges join cars within
``edge_window_s`` of each other at the line, carrying the signed gap and pace
difference. It trains full-batch on every lap's graph at once and keeps the epoch with
the lowest loss on a fifth of the training races held out (early stopping), so a small
season does not overfit. ``GapPaceLogisticBaseline`` fits one logistic regression on gap and pace
difference for each pass probability and takes the training mean of the traffic loss by
gap bucket.
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
from cognirace.models.fcy import ridge_logistic
from cognirace.models.schema import ColumnSpec
from cognirace.models.task import Task, truth_by_car
from cognirace.models.traffic_graph import (
    GAP_BUCKETS_S,
    NODE_FEATURES,
    TrafficGraph,
    build_graph,
    gap_bucket,
    pass_design,
    score_traffic,
)

FloatArray = npt.NDArray[np.float64]

KEYS: tuple[str, ...] = ("race_id", "lap", "car_number")
PASS_AHEAD, PASSED, TRAFFIC = "passed_ahead_next", "was_passed_next", "traffic_next_s"
WEIGHTS_FILE = "traffic_gnn.pt"
BASELINE_L2 = 1.0
"""Ridge penalty of the baseline's logistic coefficients (rows' worth of weight)."""

INPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("race_id", "String", "Race, as in the lake; with `lap`, the graph a row is in"),
    ColumnSpec("lap", "Int32", "Lap just completed", "laps", 1, 500),
    ColumnSpec("car_number", "String",
               "Race number as text (`021` and `21` are two cars); names the node, never "
               "read as a number"),
    ColumnSpec("position", "Int32", "Position at the line", "", 1, 200),
    ColumnSpec("gap_ahead_s", "Float64", "Gap to the car ahead at the line (null: leader)",
               "s", 0.0, 10_000.0),
    ColumnSpec("gap_leader_s", "Float64", "Gap to the leader at the line", "s", 0.0, 10_000.0),
    ColumnSpec("pace_median3_s", "Float64", "Median of the car's last 3 green laps", "s",
               20.0, 1_000.0),
    ColumnSpec("field_median_green_s", "Float64", "Field median green lap of this lap", "s",
               20.0, 1_000.0),
    ColumnSpec("tire_age_laps", "Int32", "Laps on the tire set", "laps", 0, 500),
)
TARGETS: tuple[ColumnSpec, ...] = (
    ColumnSpec(PASS_AHEAD, "Boolean", "Passed the car directly ahead on the next lap"),
    ColumnSpec(PASSED, "Boolean", "Was passed by the car directly behind on the next lap"),
    ColumnSpec(TRAFFIC, "Float64", "Time lost to traffic on the next lap (simulator truth)",
               "s", 0.0, 60.0),
)
OUTPUTS: tuple[ColumnSpec, ...] = (
    ColumnSpec("p_pass_ahead", "Float64",
               "Probability of passing the car directly ahead within the next lap", "", 0.0, 1.0),
    ColumnSpec("p_passed", "Float64",
               "Probability of being passed by the car behind within the next lap", "", 0.0, 1.0),
    ColumnSpec("traffic_loss_s", "Float64", "Expected time lost to traffic next lap", "s",
               0.0, 60.0),
)


def _labels(frame: pl.DataFrame) -> tuple[FloatArray, FloatArray, FloatArray]:
    return (frame[PASS_AHEAD].cast(pl.Float64).to_numpy(),
            frame[PASSED].cast(pl.Float64).to_numpy(),
            frame[TRAFFIC].to_numpy().astype(np.float64))


def _outputs(p_ahead: FloatArray, p_passed: FloatArray, loss_s: FloatArray) -> pl.DataFrame:
    return pl.DataFrame({
        "p_pass_ahead": np.clip(p_ahead, 0.0, 1.0).astype(np.float64),
        "p_passed": np.clip(p_passed, 0.0, 1.0).astype(np.float64),
        "traffic_loss_s": np.clip(loss_s, 0.0, 60.0).astype(np.float64),
    })


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
    kind_version = "1"
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    mean_: FloatArray
    scale_: FloatArray
    net_: Any
    epochs_kept_: int

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
        return _net_module().TrafficNet(len(NODE_FEATURES), self.hidden, self.n_layers)

    def _fit(self, frame: pl.DataFrame) -> None:
        train_net = _net_module().train_net
        if frame.is_empty():
            raise DataError("no traffic rows to learn from", column=PASS_AHEAD,
                            hint="build rows with traffic_rows from races with green laps")
        graph = build_graph(frame, self.edge_window_s)
        self.mean_ = graph.nodes.mean(axis=0)
        std = graph.nodes.std(axis=0)
        self.scale_ = np.where(std > 1e-9, std, 1.0)
        fit_rows, held_rows = _split_races(frame, self.validation_share, self.seed)
        validation = None
        if held_rows.height:
            validation = (self._scaled(build_graph(held_rows, self.edge_window_s)),
                          _labels(held_rows))
        self.net_ = self._new_net()
        self.epochs_kept_ = train_net(
            self.net_, self._scaled(build_graph(fit_rows, self.edge_window_s)),
            _labels(fit_rows), seed=self.seed, epochs=self.epochs,
            learning_rate=self.learning_rate, weight_decay=self.weight_decay,
            validation=validation)

    def _scaled(self, graph: TrafficGraph) -> TrafficGraph:
        return graph.with_nodes((graph.nodes - self.mean_) / self.scale_)

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        run_net = _net_module().run_net
        if frame.is_empty():
            return _outputs(*(np.zeros(0) for _ in range(3)))
        graph = self._scaled(build_graph(frame, self.edge_window_s))
        return _outputs(*run_net(self.net_, graph))

    def _save_state(self, directory: Path) -> list[Path]:
        files = write_state(directory, ModelState(
            values={"epochs_kept": self.epochs_kept_},
            arrays={"mean": self.mean_, "scale": self.scale_}))
        return [*files, save_torch_state(directory / WEIGHTS_FILE, self.net_)]

    def _load_state(self, directory: Path) -> None:
        state = read_state(directory)
        self.mean_ = np.asarray(state.arrays["mean"], dtype=np.float64)
        self.scale_ = np.asarray(state.arrays["scale"], dtype=np.float64)
        self.epochs_kept_ = int(state.values["epochs_kept"])
        net = self._new_net()
        load_torch_state(directory / WEIGHTS_FILE, net)
        net.eval()
        self.net_ = net


class GapPaceLogisticBaseline(Model):
    """Baseline: logistic regressions on gap and pace difference; mean loss by gap bucket.

    Each pass probability is a logistic regression on the gap (s) and pace difference
    (s) to the car directly ahead (or behind), with a light ridge penalty so a season
    with one class only still fits; the traffic loss is the training mean per bucket
    of the gap ahead (``GAP_BUCKETS_S``).
    """

    kind = "traffic_logistic"
    kind_version = "1"
    inputs = INPUTS
    targets = TARGETS
    outputs = OUTPUTS
    keys: ClassVar[tuple[str, ...]] = KEYS

    coef_ahead_: FloatArray
    coef_passed_: FloatArray
    bucket_loss_s_: FloatArray

    def _fit(self, frame: pl.DataFrame) -> None:
        if frame.is_empty():
            raise DataError("no traffic rows to learn from", column=PASS_AHEAD)
        y_ahead, y_passed, loss_s = _labels(frame)
        self.coef_ahead_, self.coef_passed_ = (
            ridge_logistic(np.column_stack([np.ones(frame.height), pass_design(frame, side)]),
                           y, np.array([0.0, BASELINE_L2, BASELINE_L2]))
            for side, y in (("ahead", y_ahead), ("behind", y_passed)))
        buckets = gap_bucket(frame)
        overall = float(loss_s.mean())
        self.bucket_loss_s_ = np.array([
            float(loss_s[buckets == b].mean()) if np.any(buckets == b) else overall
            for b in range(len(GAP_BUCKETS_S) + 1)])

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        def prob(side: str, coef: FloatArray) -> FloatArray:
            z = coef[0] + pass_design(frame, side) @ coef[1:]
            return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30, 30))), dtype=np.float64)
        return _outputs(prob("ahead", self.coef_ahead_), prob("behind", self.coef_passed_),
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


def _next_lap(features: pl.DataFrame) -> pl.DataFrame:
    """Each car's lap ``L + 1`` under the key of lap ``L``: its end time, pit and green flags."""
    return features.select(
        "race_id", "car_number", (pl.col("lap") - 1).cast(pl.Int32).alias("lap"),
        pl.col("lap_end").alias("next_end"), pl.col("in_pit").alias("next_in_pit"),
        pl.col("green_lap").alias("next_green"))


def _neighbour_outcome(offset: int) -> pl.Expr:
    """Whether this car and the car ``offset`` places away swapped order on the next lap.

    ``offset`` -1 looks at the car ahead (this car finishes first: a pass), +1 at the car
    behind (it finishes first: this car was passed). The other car's next lap must exist
    and end on track.
    """
    other_end = pl.col("next_end").shift(-offset).over("race_id", "lap")
    other_pit = pl.col("next_in_pit").shift(-offset).over("race_id", "lap")
    other_pos = pl.col("position").shift(-offset).over("race_id", "lap")
    adjacent = other_pos == pl.col("position") + offset
    swapped = (pl.col("next_end") < other_end) if offset < 0 else (other_end < pl.col("next_end"))
    return (adjacent & ~other_pit & swapped).fill_null(False)


def traffic_rows(features: pl.DataFrame,
                 truth: Mapping[str, pl.DataFrame] | None = None) -> pl.DataFrame:
    """One row per car and green lap followed by a green lap (see the module doc).

    Raises:
        DataError: ``truth`` has no ``laps`` table (the traffic loss label needs it).
    """
    if truth is None or truth.get("laps") is None or truth["laps"].is_empty():
        raise DataError("traffic rows need the simulator's truth laps (traffic_s)",
                        hint="train this task on simulated races with truth/ folders")
    loss = truth_by_car(truth, "laps").select(
        "race_id", "car_number",
        (pl.col("lap") - 1).cast(pl.Int32).alias("lap"),
        pl.col("traffic_s").cast(pl.Float64).alias(TRAFFIC))
    laps = (features.join(_next_lap(features), on=["race_id", "car_number", "lap"], how="left")
            .sort("race_id", "lap", "position"))
    laps = laps.with_columns(**{PASS_AHEAD: _neighbour_outcome(-1),
                                PASSED: _neighbour_outcome(1)})
    rows = (laps.filter(pl.col("green_lap") & pl.col("next_green").fill_null(False))
            .join(loss, on=["race_id", "car_number", "lap"], how="inner"))
    return rows.select("track", *(s.name for s in INPUTS), PASS_AHEAD, PASSED, TRAFFIC
                       ).sort("race_id", "lap", "position")


TASK = Task(
    name="traffic",
    title="Passes and time lost to traffic on the next lap, from a graph of the field",
    model=TrafficGnnModel,
    baseline=GapPaceLogisticBaseline,
    rows=traffic_rows,
    score=score_traffic,
    primary="brier",
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
    ),
    needs_truth=True,
)


__all__ = [
    "TASK",
    "GapPaceLogisticBaseline",
    "TrafficGnnModel",
    "traffic_rows",
]
