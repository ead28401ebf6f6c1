"""The base class enforces its contract on models that break it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from cognirace.errors import ArtifactError, ModelError, NotFittedError, SchemaError
from cognirace.models import ColumnSpec, Model
from cognirace.models.base import HEADER_FILE
from models.reference import LinearLapTimeModel, lap_frame


@pytest.fixture
def frame(rng: np.random.Generator) -> pl.DataFrame:
    return lap_frame(rng, 60)


def test_positional_hyperparameters_are_refused_at_class_definition() -> None:
    with pytest.raises(ModelError, match="keyword-only"):
        class Positional(LinearLapTimeModel):
            def __init__(self, ridge: float = 0.0) -> None:
                super().__init__(ridge=ridge)


def test_a_kind_must_be_snake_case() -> None:
    with pytest.raises(ModelError, match="snake case"):
        class BadKind(LinearLapTimeModel):
            kind = "Bad Kind"


def test_the_fitted_model_learns_the_truth(frame: pl.DataFrame) -> None:
    model = LinearLapTimeModel().fit(frame)
    assert model.coef_[1] == pytest.approx(0.08, abs=0.02)
    assert model.coef_[2] == pytest.approx(0.03, abs=0.01)


def test_integer_inputs_are_cast_but_text_is_refused(frame: pl.DataFrame) -> None:
    model = LinearLapTimeModel().fit(frame)
    as_int = frame.with_columns(pl.col("tire_age_laps").cast(pl.Int64))
    assert model.predict(as_int)["lap_time_pred_s"].dtype == pl.Float64
    with pytest.raises(SchemaError, match="tire_age_laps"):
        model.predict(frame.with_columns(pl.lit("old").alias("tire_age_laps")))


def test_fit_needs_the_targets(frame: pl.DataFrame) -> None:
    with pytest.raises(SchemaError, match="lap_time_s"):
        LinearLapTimeModel().fit(frame.drop("lap_time_s"))


def test_keys_are_copied_only_when_present(frame: pl.DataFrame) -> None:
    model = LinearLapTimeModel().fit(frame)
    assert model.predict(frame.drop("race_id", "lap")).columns == ["car_number", "lap_time_pred_s"]


class WrongOutput(LinearLapTimeModel):
    kind = "wrong_output"

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        return super()._predict(frame).rename({"lap_time_pred_s": "lap_time"})


class WrongDtype(LinearLapTimeModel):
    kind = "wrong_dtype"

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        return super()._predict(frame).cast(pl.Float32)


class WrongHeight(LinearLapTimeModel):
    kind = "wrong_height"

    def _predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        return super()._predict(frame).head(1)


@pytest.mark.parametrize(("cls", "message"), [
    (WrongOutput, "returned columns"), (WrongDtype, "wrong dtypes"), (WrongHeight, "rows"),
])
def test_a_model_breaking_its_output_contract_fails_loudly(
    cls: type[Model], message: str, frame: pl.DataFrame,
) -> None:
    with pytest.raises(ModelError, match=message):
        cls().fit(frame).predict(frame)


def test_load_refuses_another_kind_or_kind_version(frame: pl.DataFrame, tmp_path: Path) -> None:
    LinearLapTimeModel().fit(frame).save(tmp_path)
    with pytest.raises(ArtifactError, match="wrong_output"):
        WrongOutput.load(tmp_path)
    header = json.loads((tmp_path / HEADER_FILE).read_text())
    (tmp_path / HEADER_FILE).write_text(json.dumps({**header, "kind_version": "0"}))
    with pytest.raises(ArtifactError, match="retrain"):
        LinearLapTimeModel.load(tmp_path)


def test_load_refuses_unknown_hyperparameters(frame: pl.DataFrame, tmp_path: Path) -> None:
    LinearLapTimeModel().fit(frame).save(tmp_path)
    header = json.loads((tmp_path / HEADER_FILE).read_text())
    header["hyperparameters"]["exec"] = "import os"
    (tmp_path / HEADER_FILE).write_text(json.dumps(header))
    with pytest.raises(ArtifactError, match="hyperparameters"):
        LinearLapTimeModel.load(tmp_path)


def test_metrics_survive_save_and_load(frame: pl.DataFrame, tmp_path: Path) -> None:
    model = LinearLapTimeModel().fit(frame)
    model.metrics_ = {"mae_s": 0.16}
    model.save(tmp_path)
    assert LinearLapTimeModel.load(tmp_path).metadata().metrics == {"mae_s": 0.16}


def test_column_specs_are_checked() -> None:
    with pytest.raises(ModelError, match="dtype"):
        ColumnSpec("speed_kph", "float", "speed")
    with pytest.raises(ModelError, match="low > high"):
        ColumnSpec("speed_kph", "Float64", "speed", "km/h", 300.0, 0.0)
    with pytest.raises(ModelError, match="snake case"):
        ColumnSpec("Speed", "Float64", "speed")
    spec = ColumnSpec("gap_s", "Float64", "gap to the car ahead", "s", 0.0, None)
    assert ColumnSpec.from_dict(spec.to_dict()) == spec
    assert spec.range == (0.0, None)


def test_hyperparameters_cannot_look_like_learned_state() -> None:
    with pytest.raises(ModelError, match="learned state"):
        class Trailing(LinearLapTimeModel):
            def __init__(self, *, alpha_: float = 1.0) -> None:
                self.alpha_ = alpha_


class Exploding(LinearLapTimeModel):
    kind = "exploding"

    def _fit(self, frame: pl.DataFrame) -> None:
        super()._fit(frame)
        raise ModelError("diverged")


def test_a_fit_that_raises_leaves_the_model_unfitted(frame: pl.DataFrame) -> None:
    model = Exploding()
    with pytest.raises(ModelError, match="diverged"):
        model.fit(frame)
    assert not model.is_fitted
    with pytest.raises(NotFittedError):
        model.predict(frame)
