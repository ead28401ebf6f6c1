"""The Open Inference Protocol v2 (KServe, Triton, Seldon): columnar tensors in and out.

An inference request names one tensor per input column (``shape [n]``, its ``data`` the
n values, flat); list columns (the tire model's lap times) are ``[n, -1]`` tensors given
as n lists. The response gives one tensor per output column. Datatypes follow the
protocol: ``FP64``, ``INT32``, ``INT64``, ``BOOL``, ``BYTES`` (strings). Car numbers
are ``BYTES``: a tensor of JSON numbers is refused, as on the other routes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
import polars as pl
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from cognirace import __version__
from cognirace.api.frames import columns_frame, columns_out
from cognirace.api.problems import invalid_input
from cognirace.api.routes_meta import json_response
from cognirace.api.routes_v1 import ERROR_RESPONSES, SECURITY
from cognirace.api.schemas import CAR_NUMBER, SANITY_ABS, car_number_problem
from cognirace.api.service import ServiceDep, validate
from cognirace.api.store import Served
from cognirace.models.schema import ColumnSpec, count_out_of_range

router = APIRouter(prefix="/v2", tags=["open inference protocol v2"])


class InferTensor(BaseModel):
    """One named input tensor."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(max_length=100)
    shape: list[int] = Field(max_length=2)
    datatype: str = Field(max_length=10)
    data: list[Any]


class InferRequest(BaseModel):
    """An OIP v2 inference request."""

    model_config = ConfigDict(extra="ignore")
    id: str | None = Field(default=None, max_length=200)
    inputs: list[InferTensor] = Field(min_length=1)


def datatype(spec: ColumnSpec) -> str:
    """The protocol's datatype of a column."""
    dtype = spec.dtype
    if dtype.startswith("List(Float") or dtype.startswith("Float"):
        return "FP64" if "64" in dtype else "FP32"
    if dtype.startswith(("Int", "UInt")):
        return dtype.upper()
    return "BOOL" if dtype == "Boolean" else "BYTES"


def tensor_meta(spec: ColumnSpec) -> dict[str, Any]:
    """Name, datatype and shape of a column's tensor (a list of names, such as the
    ``fallbacks`` output, is one ``BYTES`` string per row, the names joined by commas)."""
    shape = [-1, -1] if spec.dtype.startswith("List(Float") else [-1]
    return {"name": spec.name, "datatype": datatype(spec), "shape": shape}


@router.get("/health/live", summary="Liveness (OIP)")
async def live() -> Response:
    """Always live while the process answers."""
    return json_response({"live": True})


@router.get("/health/ready", summary="Readiness (OIP)",
            responses={503: {"description": "Not ready"}})
async def ready(service: ServiceDep) -> Response:
    """Ready when every model serves and the registry answers."""
    ok, _ = await run_in_threadpool(service.store.readiness)
    return json_response({"ready": ok}, 200 if ok else 503)


@router.get("", summary="Server metadata (OIP)")
async def server_metadata() -> Response:
    """Name, version and protocol extensions."""
    return json_response({"name": "cognirace", "version": __version__, "extensions": []})


@router.get("/models/{name}", summary="Model metadata (OIP)", openapi_extra={
    "security": SECURITY}, responses={k: ERROR_RESPONSES[k] for k in (401, 403, 404, 503)})
async def model_metadata(request: Request, name: str, service: ServiceDep) -> Response:
    """Name, versions, platform and the tensors the model reads and writes."""
    service.authenticate(request, "predict")
    served = service.served(request, name)
    return json_response({
        "name": name, "versions": [served.version], "platform": "cognirace",
        "inputs": [tensor_meta(s) for s in served.inputs],
        "outputs": [tensor_meta(s) for s in served.outputs]})


@router.get("/models/{name}/ready", summary="Model readiness (OIP)")
async def model_ready(request: Request, name: str, service: ServiceDep) -> Response:
    """200 when ``name`` serves."""
    service.authenticate(request, "predict")
    served = service.served(request, name)
    return json_response({"name": name, "ready": True, "version": served.version})


@router.post("/models/{name}/infer", summary="Inference (OIP)", openapi_extra={
    "security": SECURITY, "requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/InferRequest"}}}}},
    responses=ERROR_RESPONSES)
async def infer(request: Request, name: str, service: ServiceDep) -> Response:
    """Columnar tensors in, one tensor per output column out (rows in input order)."""
    await service.admit(request, model=name)
    served = service.served(request, name)
    body = await request.body()

    async def compute() -> bytes:
        parsed: InferRequest = validate(InferRequest, body)
        frame = tensors_frame(served, parsed.inputs, service.check_batch)
        result = await service.predict(served, frame)
        outputs = columns_out(served, result)
        for spec in served.outputs:
            if spec.dtype == "List(String)":
                outputs[spec.name] = [",".join(names or ()) for names in outputs[spec.name]]
        return orjson.dumps({
            "model_name": name, "model_version": served.version, "id": parsed.id,
            "outputs": [{**tensor_meta(spec), "shape": [len(outputs[spec.name])],
                         "data": outputs[spec.name]} for spec in served.outputs]})

    return await service.respond(request, served, body, compute)


def tensors_frame(served: Served, tensors: list[InferTensor],
                  check_batch: Callable[[int], None]) -> pl.DataFrame:
    """The model's input frame from named tensors, checked like the v1 routes' fields.

    Raises:
        ProblemError: 422 naming a missing, ragged, mistyped, non-finite or out-of-range
            tensor (car numbers that are not text included); 413 beyond the batch limit.
    """
    by_name = {t.name: t.data for t in tensors}
    missing = [s.name for s in served.inputs if s.name not in by_name]
    if missing:
        raise invalid_input([{"field": f"inputs.{m}", "reason": "is required"}
                             for m in missing])
    lengths = {len(by_name[s.name]) for s in served.inputs}
    if len(lengths) != 1:
        raise invalid_input([{"field": "inputs", "reason": "tensors differ in length"}])
    check_batch(lengths.pop())
    if CAR_NUMBER in served.frame_schema:
        reason = next(filter(None, map(car_number_problem, by_name[CAR_NUMBER])), None)
        if reason is not None:
            raise invalid_input([{"field": f"inputs.{CAR_NUMBER}", "reason": reason}])
    try:
        frame = columns_frame(served, by_name)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError) as exc:
        raise invalid_input([{"field": "inputs", "reason": "a tensor's data does not fit "
                              f"its datatype: {str(exc).splitlines()[0][:200]}"}]) from None
    errors = [{"field": f"inputs.{s.name}", "reason": "must be finite numbers"}
              for s in served.inputs if s.dtype.startswith(("Float", "List(Float"))
              and not _finite(frame.get_column(s.name))]
    errors += _list_errors(frame, [s for s in served.inputs if s.dtype.startswith("List(")])
    bounded = [replace(s, low=-SANITY_ABS if s.low is None else s.low,
                       high=SANITY_ABS if s.high is None else s.high)
               if s.dtype.startswith("Float") else s for s in served.inputs]
    errors += [{"field": f"inputs.{col}", "reason": f"{n} value(s) outside the physical "
                "range"} for col, n in count_out_of_range(frame, bounded).items()]
    if errors:
        raise invalid_input(errors)
    return frame


def _finite(column: pl.Series) -> bool:
    if isinstance(column.dtype, pl.List):
        column = column.explode()
    values = column.drop_nulls()
    return bool(values.is_finite().all()) if len(values) else True


def _list_errors(frame: pl.DataFrame, specs: list[ColumnSpec]) -> list[dict[str, str]]:
    """List columns hold one value per lap: same length in a row, values of sane size."""
    errors = []
    for spec in specs:
        values = frame.get_column(spec.name).explode().drop_nulls()
        if values.dtype.is_numeric() and len(values) and values.abs().max() > SANITY_ABS:  # type: ignore[operator]
            errors.append({"field": f"inputs.{spec.name}", "reason": "values out of range"})
    if len(specs) > 1:
        lengths = frame.select(pl.col(s.name).list.len() for s in specs)
        if lengths.select(pl.max_horizontal(pl.all()) != pl.min_horizontal(pl.all())
                          ).to_series().any():
            errors.append({"field": "inputs", "reason": "list tensors of one row must have "
                           "the same length (one value per lap)"})
    return errors


__all__ = ["InferRequest", "InferTensor", "datatype", "router", "tensor_meta", "tensors_frame"]
