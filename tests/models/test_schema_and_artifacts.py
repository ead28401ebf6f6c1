"""Range checks for the API, and artifact files that never need pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cognirace.errors import ArtifactError, ModelError
from cognirace.models import ColumnSpec, ModelState, count_out_of_range
from cognirace.models.artifacts import read_array, read_state, write_json, write_state

SPECS = (
    ColumnSpec("speed_kph", "Float64", "speed", "km/h", 0.0, 300.0),
    ColumnSpec("gap_s", "Float64", "gap", "s", 0.0, None),
    ColumnSpec("track", "String", "track id"),
)


def test_out_of_range_counts_ignore_missing_values() -> None:
    frame = pl.DataFrame({
        "speed_kph": [10.0, -1.0, 400.0, None, float("nan")],
        "gap_s": [0.0, 1.0, -2.0, 3.0, 4.0],
        "track": ["a", "b", "c", "d", "e"],
    })
    assert count_out_of_range(frame, SPECS) == {"speed_kph": 2, "gap_s": 1}
    assert count_out_of_range(frame.head(1), SPECS) == {}


def test_state_round_trips_through_json_and_npy(tmp_path: Path) -> None:
    state = ModelState(values={"names": ["a", "b"], "scale": 1.5},
                       arrays={"weights": np.arange(6.0).reshape(2, 3), "ids": np.arange(3)})
    files = write_state(tmp_path, state)
    assert sorted(p.name for p in files) == ["ids.npy", "state.json", "weights.npy"]
    back = read_state(tmp_path)
    assert back.values == state.values
    np.testing.assert_array_equal(back.arrays["weights"], state.arrays["weights"])


def test_object_arrays_and_nan_json_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="pickle"):
        write_state(tmp_path, ModelState(arrays={"bad": np.array([{"a": 1}], dtype=object)}))
    with pytest.raises(ModelError, match="JSON"):
        write_json(tmp_path / "x.json", {"mae": float("nan")})


def test_a_pickled_npy_is_not_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "evil.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ArtifactError, match="pickle"):
        read_array(path)


def test_missing_state_files_raise_artifact_errors(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="missing"):
        read_state(tmp_path)
    write_state(tmp_path, ModelState(arrays={"w": np.ones(2)}))
    (tmp_path / "arrays" / "w.npy").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        read_state(tmp_path)


def test_torch_state_dicts_load_with_weights_only(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from cognirace.models.artifacts import load_torch_state, save_torch_state

    source, target = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    path = save_torch_state(tmp_path / "weights.pt", source)
    load_torch_state(path, target)
    assert torch.equal(source.weight, target.weight)
    with pytest.raises(ArtifactError, match="does not fit"):
        load_torch_state(path, torch.nn.Linear(4, 2))
