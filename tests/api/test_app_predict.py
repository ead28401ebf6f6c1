"""Every model answers over HTTP, single and batch, exactly as it does in process."""

from __future__ import annotations

import math
from typing import Any

import orjson
import polars as pl
import pytest

from cognirace.api.store import ModelStore

MODELS = ("laptime", "tire", "fuel", "pitloss", "fcy", "driver", "traffic", "anomaly")


def in_process(store: ModelStore, name: str, rows: pl.DataFrame) -> list[dict[str, Any]]:
    """What the served model predicts for ``rows`` without HTTP (NaN sent as null)."""
    served = store.get(name)
    assert served is not None
    rows = rows.with_columns(pl.col(pl.Float64).fill_nan(None))
    return served.model.predict(rows).select(served.output_names).to_dicts()


def assert_close(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got.keys() == want.keys()
    for key, value in want.items():
        if isinstance(value, float):
            assert got[key] is not None and math.isclose(got[key], value, rel_tol=1e-9,
                                                         abs_tol=1e-12), key
        else:
            assert got[key] == value, key


@pytest.mark.parametrize("name", MODELS)
def test_single_prediction_matches_the_model_in_process(name: str, make_client: Any,
                                                        trained: Any,
                                                        shared_store: ModelStore) -> None:
    client = make_client()
    instance = trained.instances(name)[0]
    response = client.post(f"/v1/predict/{name}", json=instance)
    assert response.status_code == 200, response.text
    body = response.json()
    served = shared_store.get(name)
    assert served is not None
    assert body["model"] == name and body["version"] == served.version
    assert response.headers["x-model-version"] == served.version
    assert response.headers["x-cache"] == "miss"
    if name == "traffic":
        rows = trained.rows[name].filter((pl.col("race_id") == instance["race_id"])
                                         & (pl.col("lap") == instance["lap"]))
        cars = body["prediction"]["cars"]
        assert [c["car_number"] for c in cars] == rows["car_number"].to_list()
        for car, want in zip(cars, in_process(shared_store, name, rows), strict=True):
            assert_close({k: v for k, v in car.items() if k != "car_number"}, want)
    else:
        assert_close(body["prediction"], in_process(shared_store, name,
                                                    trained.rows[name].head(1))[0])


@pytest.mark.parametrize("name", MODELS)
def test_batch_is_one_vectorised_call_with_the_same_answers(name: str, make_client: Any,
                                                            trained: Any,
                                                            shared_store: ModelStore,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    client = make_client()
    served = shared_store.get(name)
    assert served is not None
    calls: list[int] = []
    original = type(served.model).predict

    def counting(model: Any, frame: pl.DataFrame) -> pl.DataFrame:
        calls.append(frame.height)
        return original(model, frame)

    monkeypatch.setattr(type(served.model), "predict", counting)
    n = 3
    response = client.post(f"/v1/predict/{name}/batch",
                           json={"instances": trained.instances(name, n)})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == n
    assert len(calls) == 1  # one call for the whole batch
    if name == "traffic":
        assert all(len(p["cars"]) >= 1 for p in predictions)
        assert calls[0] == sum(len(p["cars"]) for p in predictions)
    else:
        assert calls[0] == n
        monkeypatch.undo()
        for got, want in zip(predictions, in_process(shared_store, name,
                                                     trained.rows[name].head(n)), strict=True):
            assert_close(got, want)


def test_batch_over_the_limit_is_413(make_client: Any, trained: Any, problem: Any) -> None:
    client = make_client(batch_limit=2)
    instance = trained.instances("fuel")[0]
    body = problem(client.post("/v1/predict/fuel/batch", json={"instances": [instance] * 3}),
                   413)
    assert body["limit"] == 2
    ok = client.post("/v1/predict/fuel/batch", json={"instances": [instance] * 2})
    assert ok.status_code == 200


def test_identical_requests_hit_the_cache(make_client: Any, trained: Any) -> None:
    client = make_client()
    instance = trained.instances("laptime")[0]
    first = client.post("/v1/predict/laptime", json=instance)
    second = client.post("/v1/predict/laptime", json=instance)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    assert first.content == second.content
    other = dict(instance, lap_time_s=instance["lap_time_s"] + 0.5)
    assert client.post("/v1/predict/laptime", json=other).headers["x-cache"] == "miss"
    batch = client.post("/v1/predict/laptime/batch", json={"instances": [instance]})
    assert batch.headers["x-cache"] == "miss"  # another route, another entry
    metrics = client.get("/metrics").text
    assert 'cognirace_cache_hits_total{model="laptime"} 1.0' in metrics


def test_cache_can_be_switched_off(make_client: Any, trained: Any) -> None:
    client = make_client(cache_ttl_s=0)
    instance = trained.instances("fuel")[0]
    for _ in range(2):
        assert client.post("/v1/predict/fuel", json=instance).headers["x-cache"] == "miss"


def test_unknown_fields_are_ignored_so_lake_rows_can_be_sent(make_client: Any,
                                                              trained: Any) -> None:
    client = make_client()
    instance = dict(trained.instances("pitloss")[0], comment="from the pit wall")
    response = client.post("/v1/predict/pitloss", content=orjson.dumps(instance),
                           headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text


def test_null_means_unknown_for_float_inputs(make_client: Any, trained: Any) -> None:
    client = make_client()
    instance = dict(trained.instances("laptime")[0], gap_ahead_s=None, track_temp_c=None)
    response = client.post("/v1/predict/laptime", json=instance)
    assert response.status_code == 200, response.text
    assert response.json()["prediction"]["lap_time_p50_s"] > 30


def test_two_snapshots_of_one_lap_stay_separate_fields(make_client: Any, trained: Any) -> None:
    client = make_client()
    snap = trained.instances("traffic")[0]
    single = client.post("/v1/predict/traffic", json=snap).json()["prediction"]
    both = client.post("/v1/predict/traffic/batch", json={"instances": [snap, snap]}).json()
    assert both["predictions"] == [single, single]


@pytest.mark.parametrize(("name", "field"), [
    ("laptime", "pace_median3_s"), ("fcy", "race_time_left_s"), ("fuel", "engine_krev")])
def test_a_required_input_sent_as_null_is_422_not_a_default(
        make_client: Any, trained: Any, problem: Any, name: str, field: str) -> None:
    """A model that cannot answer without a value refuses its null instead of filling it
    in: a caution hazard with no race time left would read every probability as 0."""
    client = make_client()
    instance = dict(trained.instances(name)[0], **{field: None})
    body = problem(client.post(f"/v1/predict/{name}", json=instance), 422)
    assert body["errors"][0]["field"] == field


def test_a_fallback_is_named_in_the_answer(make_client: Any, trained: Any) -> None:
    """Fuel at a track it never learned answers from its cross-track fit, and says so."""
    client = make_client()
    known = client.post("/v1/predict/fuel", json=trained.instances("fuel")[0]).json()
    assert known["prediction"]["fallbacks"] == []
    unknown = client.post("/v1/predict/fuel",
                          json=dict(trained.instances("fuel")[0], track="laguna_seca"))
    assert unknown.status_code == 200, unknown.text
    assert unknown.json()["prediction"]["fallbacks"] == ["track"]
