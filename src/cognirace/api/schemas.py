"""Request and response models of every predict route, generated from the column contracts.

Each model class declares its inputs and outputs as ``ColumnSpec`` (dtype, unit,
physical range), so the HTTP schemas are built from them rather than written twice:
a field's description carries its unit, ``ge``/``le`` its physical range, and floats
must be finite (NaN and infinity are refused with a 422 that names the field). Float
inputs are nullable, since the lake itself holds nulls for "unknown" (no telemetry, no
car ahead), unless the model needs the value (``ColumnSpec.nullable``), then a null is a
422; integers, flags and names are not. Unknown fields are ignored, so a client
may send whole lake rows (``race_id``, ``vehicle_id``...).

The traffic model reads a whole field at once, so its instance is a snapshot of one
race at one lap: ``{"race_id"?, "lap", "cars": [...]}``; its prediction is per car,
named by its ``car_number``. Car numbers are JSON strings, as the timing prints them:
``"021"`` and ``"21"`` are two cars, so a JSON number is refused with a 422 that says
so rather than guessed at (21 cannot tell which of the two it meant).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    create_model,
    model_validator,
)
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from cognirace.domain.formats import FLAG_GREEN
from cognirace.models.schema import ColumnSpec

TRAFFIC = "traffic"
_SNAPSHOT_FIELDS = ("race_id", "lap", "track")
"""Traffic inputs given once per snapshot rather than per car."""
_INT32 = (-(2**31), 2**31 - 1)
SANITY_ABS = 1e9
"""Bound on floats whose column declares no physical range: no quantity the models read
comes near it, and it keeps arithmetic inside a model far from overflow."""
_CONFIG = ConfigDict(extra="ignore", strict=True, allow_inf_nan=False)

CAR_NUMBER = "car_number"
CAR_NUMBER_MAX_LENGTH = 16
"""Longest car number taken: the timing prints one to three digits, and the ingest marks
a second car under a shared number with a suffix (``3#2``); 16 leaves room, not more."""
_CAR_NUMBER_PATTERN = r"^\S+$"
_CAR_NUMBER_SHAPE = re.compile(rf"\S{{1,{CAR_NUMBER_MAX_LENGTH}}}")
CAR_NUMBER_REASON = ('must be text such as "021": car numbers are text as the timing '
                     'prints them, and "021" and "21" are two cars')
CAR_NUMBER_SHAPE_REASON = (f"must be 1 to {CAR_NUMBER_MAX_LENGTH} characters without "
                           'spaces, as the timing prints it (e.g. "021")')


def car_number_problem(value: Any) -> str | None:
    """Why ``value`` is not a car number, or None when it is one (any route's check)."""
    if not isinstance(value, str):
        return CAR_NUMBER_REASON
    if _CAR_NUMBER_SHAPE.fullmatch(value) is None:
        return CAR_NUMBER_SHAPE_REASON
    return None


def _car_number(value: Any) -> Any:
    """Refuse a car number that is not text before pydantic's own (generic) type error."""
    problem = car_number_problem(value)
    if problem is not None:
        raise PydanticCustomError("car_number", problem)
    return value


def car_number_field(description: str) -> tuple[Any, Any]:
    """The annotation and ``Field`` of a car number, in a request or a response."""
    return (Annotated[str, BeforeValidator(_car_number)],
            Field(min_length=1, max_length=CAR_NUMBER_MAX_LENGTH, pattern=_CAR_NUMBER_PATTERN,
                  description=description, examples=["021"]))


class InstanceBase(BaseModel):
    """Checks shared by every instance model: list columns are per-lap, so parallel."""

    @model_validator(mode="after")
    def _parallel_lists(self) -> InstanceBase:
        lengths = {name: len(value) for name, value in self.__dict__.items()
                   if isinstance(value, list) and name != "cars"}
        if len(set(lengths.values())) > 1:
            raise ValueError("list fields hold one value per lap and must have the same "
                             f"length, got {lengths}")
        return self
_OUT_CONFIG = ConfigDict(extra="forbid")

EXAMPLE_VALUES: dict[str, Any] = {
    "track": "barber", "flag": FLAG_GREEN, "race_id": "barber-R1", "lap": 12,
    "lap_time_s": 98.9, "pace_median3_s": 98.7, "best_green_s": 98.2,
    "field_median_green_s": 99.1, "leader_lap_s": 98.6, "tire_age_laps": 11,
    "race_time_left_s": 1650.0, "laps_left_est": 16, "position": 4, "gap_ahead_s": 1.4,
    "gap_leader_s": 6.2, "track_temp_c": 41.5, "air_temp_c": 27.0,
    "engine_krev": 11.2, "throttle_s": 76.0, "in_pit": False, "out_lap": False, "caution": False,
    "tire_change": True, "repair": False, "n_cars": 12, "n_close_1s": 2, "n_close_2s": 4,
    "p_close_2s": 0.36, "laps_since_fcy": 12, "n_fcy_starts": 0, "n_off_pace": 0,
    "leader_pace_s": 98.4,
    "horizon_age_laps": 20.0, "lap_times_s": [98.9, 99.0, 99.2, 99.1, 99.4],
    "tire_ages_laps": [3.0, 4.0, 5.0, 6.0, 7.0], "fuel_laps": [3.0, 4.0, 5.0, 6.0, 7.0],
    "n_samples": 10, "car_number": "021",
}
"""Plausible values for the OpenAPI examples (others come from the physical range)."""


@dataclass(frozen=True)
class RouteSchemas:
    """The pydantic models and example of one predict route."""

    name: str
    instance: type[BaseModel]
    batch: type[BaseModel]
    response: type[BaseModel]
    batch_response: type[BaseModel]
    example: dict[str, Any]


def _title(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _describe(spec: ColumnSpec) -> str:
    unit = f" Unit: {spec.unit}." if spec.unit else ""
    rng = ""
    if spec.low is not None or spec.high is not None:
        rng = f" Physical range: {spec.low} to {spec.high}."
    return f"{spec.description}.{unit}{rng}".replace("..", ".")


def input_field(spec: ColumnSpec) -> tuple[Any, Any]:
    """The annotation and ``Field`` of one input column (bounds from the physical range)."""
    dtype, desc = spec.dtype, _describe(spec)
    if spec.name == CAR_NUMBER:
        return car_number_field("Race number as text, as the timing prints it: `021` and "
                                "`21` are two cars.")
    extra: JsonDict | None = {"x-unit": spec.unit} if spec.unit else None
    if dtype.startswith("List("):
        item: Any = str if "String" in dtype else Annotated[
            float, Field(ge=-SANITY_ABS, le=SANITY_ABS)]
        return list[item], Field(max_length=1000, description=desc, json_schema_extra=extra)
    if dtype.startswith("Float"):
        low = -SANITY_ABS if spec.low is None else spec.low
        high = SANITY_ABS if spec.high is None else spec.high
        kind: Any = float | None if spec.nullable else float
        return kind, Field(ge=low, le=high, description=desc, json_schema_extra=extra)
    if dtype.startswith(("Int", "UInt")):
        low = spec.low if spec.low is not None else (0 if dtype.startswith("U") else _INT32[0])
        high = spec.high if spec.high is not None else _INT32[1]
        return int, Field(ge=int(low), le=int(high), description=desc, json_schema_extra=extra)
    if dtype == "Boolean":
        return bool, Field(description=desc)
    return str, Field(max_length=200, description=desc)


def output_field(spec: ColumnSpec) -> tuple[Any, Any]:
    """The annotation and ``Field`` of one output column (null where a float is undefined)."""
    kind: Any = {"Boolean": bool, "String": str, "List(String)": list[str]}.get(spec.dtype)
    if kind is None:
        kind = int | None if spec.dtype.startswith(("Int", "UInt")) else float | None
    return kind, Field(description=_describe(spec))


def example_value(spec: ColumnSpec) -> Any:
    """A plausible value for ``spec``: a known one, else the middle of its range."""
    if spec.name in EXAMPLE_VALUES:
        return EXAMPLE_VALUES[spec.name]
    if spec.dtype.startswith("List("):
        return [1.0, 2.0, 3.0]
    if spec.dtype == "Boolean":
        return False
    if spec.dtype in ("String", "Categorical"):
        return "none"
    low = spec.low if spec.low is not None else 0.0
    high = spec.high if spec.high is not None else max(low, 0.0) + 1.0
    mid = low + (high - low) / 4
    return int(mid) if spec.dtype.startswith(("Int", "UInt")) else round(mid, 3)


def _model(name: str, fields: dict[str, tuple[Any, Any]], config: ConfigDict, doc: str,
           example: dict[str, Any] | None = None) -> type[BaseModel]:
    cfg = ConfigDict(**config)
    if example is not None:
        cfg["json_schema_extra"] = {"examples": [example]}
    base = type(f"_{name}Base", (InstanceBase,), {"model_config": cfg})
    return create_model(name, __base__=base, __doc__=doc, **fields)  # type: ignore[call-overload, no-any-return]


def route_schemas(name: str, inputs: Sequence[ColumnSpec], outputs: Sequence[ColumnSpec],
                  title: str) -> RouteSchemas:
    """Build the request and response models of ``POST /v1/predict/<name>`` (and batch)."""
    cap = _title(name)
    out_fields = {s.name: output_field(s) for s in outputs}
    if name == TRAFFIC:
        return _traffic_schemas(inputs, outputs, title)
    example = {s.name: example_value(s) for s in inputs}
    instance = _model(f"{cap}Instance", {s.name: input_field(s) for s in inputs}, _CONFIG,
                      f"One row for the {title} model.", example)
    prediction = _model(f"{cap}Prediction", out_fields, _OUT_CONFIG,
                        f"What the {title} model predicts for one row.")
    return _family(name, cap, instance, prediction, example)


def _traffic_schemas(inputs: Sequence[ColumnSpec], outputs: Sequence[ColumnSpec],
                     title: str) -> RouteSchemas:
    per_car = [s for s in inputs if s.name not in _SNAPSHOT_FIELDS]
    by_name = {s.name: s for s in inputs}
    car = _model("TrafficCar", {s.name: input_field(s) for s in per_car}, _CONFIG,
                 "One car of the field at the line.")
    example_cars = [{s.name: example_value(s) for s in per_car} for _ in range(3)]
    numbers = ("021", "21", "3")  # two cars that only a leading zero tells apart
    for position, (car_row, number) in enumerate(zip(example_cars, numbers, strict=True)):
        car_row.update(car_number=number, position=position + 3,
                       gap_leader_s=4.0 + 1.2 * position)
    race_type, race_field = input_field(by_name["race_id"])
    snapshot_fields: dict[str, tuple[Any, Any]] = {
        "race_id": (race_type | None, Field(default=None, description="Race key, echoed "
                                             "(optional): one snapshot is one graph.")),
        "lap": input_field(by_name["lap"]),
        **({"track": input_field(by_name["track"])} if "track" in by_name else {}),
        "cars": (list[car], Field(min_length=1, max_length=200,  # type: ignore[valid-type]
                                  description="Every running car of the field on this lap.")),
    }
    del race_field
    example = {"race_id": "barber-R1", "lap": 12, "cars": example_cars,
               **({"track": "barber"} if "track" in by_name else {})}
    instance = _model("TrafficInstance", snapshot_fields, _CONFIG,
                      f"A field snapshot (one race, one lap) for the {title} model.", example)
    car_out = _model("TrafficCarPrediction", {
        CAR_NUMBER: car_number_field("The car's race number, as sent (text)."),
        **{s.name: output_field(s) for s in outputs}}, _OUT_CONFIG, "One car's prediction.")
    prediction = _model("TrafficPrediction", {"cars": (list[car_out], ...)},  # type: ignore[valid-type]
                        _OUT_CONFIG, "Per-car predictions, in the order given.")
    return _family(TRAFFIC, "Traffic", instance, prediction, example)


def _family(name: str, cap: str, instance: type[BaseModel], prediction: type[BaseModel],
            example: dict[str, Any]) -> RouteSchemas:
    batch = _model(f"{cap}Batch", {"instances": (list[instance], ...)},  # type: ignore[valid-type]
                   _CONFIG, "Many instances, predicted in one vectorised call.",
                   {"instances": [example, example]})
    head: dict[str, tuple[Any, Any]] = {
        "model": (str, Field(description="Model name")),
        "version": (str, Field(description="Registry version that answered"))}
    response = _model(f"{cap}Response", {**head, "prediction": (prediction, ...)},
                      _OUT_CONFIG, "One prediction.")
    batch_response = _model(f"{cap}BatchResponse",
                            {**head, "predictions": (list[prediction], ...)},  # type: ignore[valid-type]
                            _OUT_CONFIG, "One prediction per instance, in order.")
    return RouteSchemas(name, instance, batch, response, batch_response, example)


__all__ = ["CAR_NUMBER", "CAR_NUMBER_REASON", "EXAMPLE_VALUES", "SANITY_ABS", "TRAFFIC",
           "InstanceBase", "RouteSchemas", "car_number_field", "car_number_problem",
           "example_value", "input_field", "output_field", "route_schemas"]
