"""Range and type checks of column contracts, and artifact files that never need pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cognirace.errors import ArtifactError, ModelError, SchemaError
from cognirace.models import ColumnSpec, ModelState, count_out_of_range
from cognirace.models.artifacts import read_array, read_state, write_json, write_state
from cognirace.models.schema import conform

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


CAR = (ColumnSpec("car_number", "String", "race number"),)


@pytest.mark.parametrize("numbers", [pl.Series([21, 3], dtype=pl.Int64),
                                     pl.Series([21, 3], dtype=pl.Int32),
                                     pl.Series([21.0, 3.0])])
def test_numbers_are_never_turned_into_text(numbers: pl.Series) -> None:
    # 21 cannot say whether it was car "021" or car "21": refuse, never guess.
    with pytest.raises(SchemaError, match="must be text") as caught:
        conform(pl.DataFrame({"car_number": numbers}), CAR, role="input")
    assert '"021" and "21" are two cars' in str(caught.value)


def test_text_and_missing_values_pass_as_text() -> None:
    text = pl.DataFrame({"car_number": ["021", "21"]})
    assert conform(text, CAR, role="input")["car_number"].to_list() == ["021", "21"]
    categorical = text.with_columns(pl.col("car_number").cast(pl.Categorical))
    assert conform(categorical, CAR, role="input").schema["car_number"] == pl.String
    nulls = pl.DataFrame({"car_number": [None, None]})
    assert conform(nulls, CAR, role="input").schema["car_number"] == pl.String


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
