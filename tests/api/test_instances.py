"""Instances made from lake rows are ones the service answers, as the model in process."""

from __future__ import annotations

import math
from typing import Any

import polars as pl
import pytest

from cognirace.api.instances import acceptable, instances
from cognirace.api.store import ModelStore
from cognirace.models.schema import ColumnSpec

MODELS = ("laptime", "tire", "fuel", "pitloss", "fcy", "driver", "traffic", "anomaly")


@pytest.mark.parametrize("name", MODELS)
def test_every_instance_is_answered_like_the_model_in_process(
        name: str, make_client: Any, trained: Any, shared_store: ModelStore) -> None:
    served = shared_store.get(name)
    assert served is not None
    made = list(instances(name, trained.rows[name], served.model.input_schema()))
    assert made
    client = make_client()
    for body, frame in made[:3]:
        response = client.post(f"/v1/predict/{name}", json=body)
        assert response.status_code == 200, response.text
        got = response.json()["prediction"]
        want = served.model.predict(frame).select(served.output_names).to_dicts()
        first = got
        if name == "traffic":
            assert len(got["cars"]) == frame.height
            first = got["cars"][0]
        for key, value in want[0].items():
            if isinstance(value, float):
                assert math.isclose(first[key], value, rel_tol=1e-9, abs_tol=1e-12), key
            else:
                assert first[key] == value, key


def test_rows_the_service_would_refuse_are_skipped() -> None:
    spec = ColumnSpec("lap_time_s", "Float64", "Lap time", "s", 20.0, 1000.0)
    rows = pl.DataFrame({"lap_time_s": [90.0, 5.0, None, float("nan"), 2000.0]})
    kept = [body["lap_time_s"] for body, _ in instances("laptime", rows, [spec])]
    assert kept == [90.0, None]
    assert not acceptable(float("inf"), spec) and acceptable(None, spec)
    assert not acceptable(None, ColumnSpec("lap", "Int32", "Lap", "", 1, 500))
    required = ColumnSpec("lap_time_s", "Float64", "Lap time", "s", 20.0, 1000.0,
                          nullable=False)
    assert not acceptable(None, required) and acceptable(90.0, required)


def test_car_numbers_are_kept_only_as_the_routes_take_them() -> None:
    spec = ColumnSpec("car_number", "String", "Race number")
    assert acceptable("021", spec) and acceptable("3#2", spec)
    assert not acceptable(None, spec) and not acceptable(" 21", spec)
    assert not acceptable(21, spec)
