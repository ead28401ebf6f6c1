"""The model contract as one reusable check, run over every model.

A new model plugs in by adding a ``ContractCase`` to ``CASES`` in ``test_contract.py``
(a factory for an unfitted model and a small training frame); the same checks then hold
it to the contract of ``cognirace.models.base``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cognirace.errors import NotFittedError, SchemaError
from cognirace.models import Model, count_out_of_range
from cognirace.models.base import HEADER_FILE

UNSAFE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".dill", ".cloudpickle"}


@dataclass(frozen=True)
class ContractCase:
    """One model under the contract: how to build it and what to train it on."""

    id: str
    factory: Callable[[], Model]
    frame: Callable[[np.random.Generator], pl.DataFrame]


def check_model_contract(factory: Callable[[], Model], frame: pl.DataFrame, tmp: Path) -> None:
    """Hold a model to the whole contract; each step says what it checks."""
    model = factory()
    check_init_stores_only(model)
    check_refuses_before_fit(model, frame, tmp / "unfitted")
    assert model.fit(frame) is model, "fit must return self"
    assert model.is_fitted
    predictions = check_predictions(model, frame)
    check_metadata_matches(model, frame, predictions)
    check_round_trip(model, frame, predictions, tmp / "saved")
    check_missing_input_refused(model, frame)


def _json_normal(value: Any) -> Any:
    """What a value becomes after a JSON round trip (tuples turn into lists)."""
    return json.loads(json.dumps(value))


def check_init_stores_only(model: Model) -> None:
    """``__init__`` stores its arguments under their own names and nothing else."""
    assert set(vars(model)) == set(model.param_names()), "__init__ must only store parameters"
    assert not model.is_fitted
    clone = type(model)(**model.get_params())
    assert clone.get_params() == model.get_params()
    json.dumps(model.get_params())  # hyperparameters must be JSON-ready


def check_refuses_before_fit(model: Model, frame: pl.DataFrame, directory: Path) -> None:
    """Predict and save raise ``NotFittedError``; metadata works without a fit."""
    with pytest.raises(NotFittedError):
        model.predict(frame)
    with pytest.raises(NotFittedError):
        model.save(directory)
    assert model.metadata().data_fingerprint is None


def check_predictions(model: Model, frame: pl.DataFrame) -> pl.DataFrame:
    """Keys then outputs, one row per input row when row-aligned, deterministic."""
    predictions = model.predict(frame)
    keys = [k for k in model.keys if k in frame.columns] if model.row_aligned else []
    assert predictions.columns == keys + [s.name for s in model.output_schema()]
    if model.row_aligned:
        assert predictions.height == frame.height
        assert_frame_equal(predictions.select(keys), frame.select(keys))
    assert_frame_equal(model.predict(frame), predictions)
    return predictions


def check_metadata_matches(model: Model, frame: pl.DataFrame, predictions: pl.DataFrame) -> None:
    """Metadata describes what predict returns, and the training data fits its ranges."""
    meta = model.metadata()
    assert meta.kind == model.kind and meta.kind_version == model.kind_version
    assert meta.data_fingerprint is not None and meta.data_fingerprint.startswith("sha256:")
    for spec in meta.outputs:
        assert predictions.schema[spec.name] == spec.polars_dtype, spec.name
        assert spec.description and spec.name.islower()
    assert count_out_of_range(predictions, meta.outputs) == {}
    assert count_out_of_range(frame, (*meta.inputs, *meta.targets)) == {}
    assert {s.name for s in meta.inputs} <= set(frame.columns)
    json.dumps(meta.to_dict())


def check_round_trip(
    model: Model, frame: pl.DataFrame, predictions: pl.DataFrame, directory: Path,
) -> None:
    """save writes safe files it reports; load gives identical predictions and metadata."""
    files = model.save(directory)
    on_disk = sorted(p for p in directory.rglob("*") if p.is_file())
    assert sorted(files) == on_disk, "save must return every file it wrote"
    assert directory / HEADER_FILE in files
    assert not [p for p in files if p.suffix in UNSAFE_SUFFIXES], "no pickle artifacts"
    loaded = type(model).load(directory)
    assert_frame_equal(loaded.predict(frame), predictions)
    assert _json_normal(loaded.metadata().to_dict()) == _json_normal(model.metadata().to_dict())


def check_missing_input_refused(model: Model, frame: pl.DataFrame) -> None:
    """A frame without an input column is refused with a ``SchemaError`` naming it."""
    first = model.input_schema()[0].name
    with pytest.raises(SchemaError) as info:
        model.predict(frame.drop(first))
    assert first in str(info.value)

