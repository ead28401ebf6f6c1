"""The traffic task's examples: every car at the line, labelled from the next lap's order.

A row is one car at the end of lap ``L``, with what is known once every car has crossed
that line (position, gaps, pace, tire age). The rows of one ``(race_id, lap)`` are one
graph, and every car that completed lap ``L`` is in it, whatever it does next: a car
that pits on lap ``L + 1`` still races the cars around it until it turns in, and who
pits next is not known at the line. Keeping only the cars with a next green lap would
let the future choose the graph.

Labels come from lap ``L + 1`` and exist only where both laps are raced on track: a
green lap followed by a green lap of the same car (``green_lap`` on both). Elsewhere the
three label columns are null and the row is a node only, never fitted or scored on:

- passes, from the timing files: the car directly ahead at the line of lap ``L``
  (position - 1 among the cars that completed lap ``L``) is passed when this car
  completes lap ``L + 1`` first and that car's lap ``L + 1`` did not end in the pit
  lane (a place gained in the pits is not a pass); ``was_passed_next`` is the same seen
  from the car directly behind;
- time lost to traffic on lap ``L + 1``: the simulator's ``traffic_s``, which real
  timing files do not carry.

Graphs without any labelled row (a lap under caution for everyone) are left out, and so
is a car missing a value the model needs at the line (a lap without an end time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from cognirace.errors import DataError
from cognirace.models.task import truth_by_car

PASS_AHEAD, PASSED, TRAFFIC = "passed_ahead_next", "was_passed_next", "traffic_next_s"
LABELS: tuple[str, ...] = (PASS_AHEAD, PASSED, TRAFFIC)
GRAPH: tuple[str, ...] = ("race_id", "lap")


def labelled(frame: pl.DataFrame) -> pl.Series:
    """Whether each row carries labels (a node only otherwise)."""
    return frame.select(pl.all_horizontal(pl.col(name).is_not_null() for name in LABELS)
                        ).to_series()


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
    other_end = pl.col("next_end").shift(-offset).over(GRAPH)
    other_pit = pl.col("next_in_pit").shift(-offset).over(GRAPH)
    other_pos = pl.col("position").shift(-offset).over(GRAPH)
    adjacent = other_pos == pl.col("position") + offset
    swapped = (pl.col("next_end") < other_end) if offset < 0 else (other_end < pl.col("next_end"))
    return (adjacent & ~other_pit & swapped).fill_null(False)


def traffic_rows(features: pl.DataFrame, truth: Mapping[str, pl.DataFrame] | None = None,
                 *, inputs: Sequence[str], required: Sequence[str]) -> pl.DataFrame:
    """Every car at the line of every lap with a labelled row (see the module doc).

    Args:
        features: The lap feature table.
        truth: The simulator's truth tables; ``laps`` gives the traffic loss.
        inputs: The input columns to keep, after ``track``.
        required: Inputs a node must have (a car without one is left out).

    Raises:
        DataError: ``truth`` has no ``laps`` table (the traffic loss label needs it).
    """
    if truth is None or truth.get("laps") is None or truth["laps"].is_empty():
        raise DataError("traffic rows need the simulator's truth laps (traffic_s)",
                        hint="train this task on simulated races with truth/ folders")
    loss = truth_by_car(truth, "laps").select(
        "race_id", "car_number", (pl.col("lap") - 1).cast(pl.Int32).alias("lap"),
        pl.col("traffic_s").cast(pl.Float64).alias("_loss_s"))
    laps = (features.join(_next_lap(features), on=["race_id", "car_number", "lap"], how="left")
            .join(loss, on=["race_id", "car_number", "lap"], how="left")
            .sort(*GRAPH, "position"))
    has = (pl.col("green_lap") & pl.col("next_green").fill_null(False)
           & pl.col("_loss_s").is_not_null())
    laps = laps.with_columns(
        **{PASS_AHEAD: pl.when(has).then(_neighbour_outcome(-1)),
           PASSED: pl.when(has).then(_neighbour_outcome(1)),
           TRAFFIC: pl.when(has).then(pl.col("_loss_s"))})
    return graph_nodes(laps.filter(pl.col(PASS_AHEAD).is_not_null().any().over(GRAPH)),
                       inputs=inputs, required=required, labels=LABELS)


def graph_nodes(laps: pl.DataFrame, *, inputs: Sequence[str], required: Sequence[str],
                labels: Sequence[str] = ()) -> pl.DataFrame:
    """The cars of each line's graph as nodes: a car missing a required input is left
    out (its row would be refused), then ``track``, the inputs and any ``labels``, in
    graph and position order. ``traffic_rows`` keeps its nodes so; a live stream builds
    the graph of one line from the same call."""
    return (laps.drop_nulls(list(required)).select("track", *inputs, *labels)
            .sort(*GRAPH, "position"))


__all__ = ["GRAPH", "LABELS", "PASSED", "PASS_AHEAD", "TRAFFIC", "graph_nodes", "labelled",
           "traffic_rows"]
