"""The traffic models' column contracts, and the frame both of them answer with.

Both models read the field at the line (see ``traffic_labels``) and answer with the
same outputs; the baseline reads fewer inputs (no tire age, no gap to the leader, no
track), and an input a model does not read is not required of its callers.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import numpy.typing as npt
import polars as pl

from cognirace.models.schema import FALLBACKS, ColumnSpec, fallbacks_spec
from cognirace.models.traffic_graph import fallbacks
from cognirace.models.traffic_labels import PASS_AHEAD, PASSED, TRAFFIC

FloatArray = npt.NDArray[np.float64]

KEYS: tuple[str, ...] = ("race_id", "lap", "car_number")

_SPECS: dict[str, ColumnSpec] = {spec.name: spec for spec in (
    ColumnSpec("race_id", "String", "Race, as in the lake; with `lap`, the graph a row is in",
               nullable=False),
    ColumnSpec("track", "String",
               "Track key (`barber`): how often passes happen there, learned from the "
               "training races (the pooled rate at a track they lack, see `fallbacks`)",
               nullable=False),
    ColumnSpec("lap", "Int32", "Lap just completed", "laps", 1, 500, nullable=False),
    ColumnSpec("car_number", "String",
               "Race number as text (`021` and `21` are two cars); names the node, never "
               "read as a number", nullable=False),
    ColumnSpec("position", "Int32", "Position at the line", "", 1, 200, nullable=False),
    ColumnSpec("gap_ahead_s", "Float64",
               "Gap to the car ahead at the line; null for the leader (position 1) only",
               "s", 0.0, 10_000.0),
    ColumnSpec("gap_leader_s", "Float64", "Gap to the leader at the line", "s", 0.0, 10_000.0,
               nullable=False),
    ColumnSpec("pace_median3_s", "Float64",
               "Median of the car's last 3 green laps (null before its first: the car is "
               "read at the field's pace, see `fallbacks`)", "s", 20.0, 1_000.0),
    ColumnSpec("field_median_green_s", "Float64",
               "Field median green lap of this lap (null when none yet: as above)", "s",
               20.0, 1_000.0),
    ColumnSpec("tire_age_laps", "Int32", "Laps on the tire set", "laps", 0, 500,
               nullable=False),
)}
INPUTS: tuple[ColumnSpec, ...] = tuple(_SPECS.values())
BASELINE_INPUTS: tuple[ColumnSpec, ...] = tuple(_SPECS[name] for name in (
    "race_id", "lap", "car_number", "position", "gap_ahead_s", "pace_median3_s",
    "field_median_green_s"))
"""The baseline reads the gaps and paces of each car and its neighbours only."""
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
    fallbacks_spec("`pace_median3_s` or `field_median_green_s` null: the car is read at the "
                   "field's pace (a neighbour's unknown pace is named on its own row); "
                   "`track` (graph network only) when the training races lack the track: "
                   "its pass rate is the pooled one"),
)


def labels(frame: pl.DataFrame) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Pass ahead, passed (1.0/0.0) and traffic loss (s); NaN on a row without labels."""
    return (frame[PASS_AHEAD].cast(pl.Float64).to_numpy(),
            frame[PASSED].cast(pl.Float64).to_numpy(),
            frame[TRAFFIC].to_numpy().astype(np.float64))


def outputs(frame: pl.DataFrame, p_ahead: FloatArray, p_passed: FloatArray,
             loss_s: FloatArray, *, known_tracks: Collection[str] | None = None
             ) -> pl.DataFrame:
    """The output frame: probabilities and loss clipped to their ranges, and each row's
    ``fallbacks`` (``track`` among them when ``known_tracks`` is given and lacks it)."""
    return pl.DataFrame({
        "p_pass_ahead": np.clip(p_ahead, 0.0, 1.0).astype(np.float64),
        "p_passed": np.clip(p_passed, 0.0, 1.0).astype(np.float64),
        "traffic_loss_s": np.clip(loss_s, 0.0, 60.0).astype(np.float64),
        FALLBACKS: fallbacks(frame, known_tracks),
    })



__all__ = ["BASELINE_INPUTS", "INPUTS", "KEYS", "OUTPUTS", "TARGETS", "labels", "outputs"]
