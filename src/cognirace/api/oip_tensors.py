"""Open Inference Protocol tensors to a model's input frame, and its answer to tensors.

An inference request names one tensor per input column (``shape [n]``, its ``data`` the
n values, flat); list columns (the tire model's lap times) are ``[n, m]`` tensors, given
as n lists or as n x m values in row-major order (as numeric clients flatten them).
Datatypes follow the protocol: ``FP64``, ``INT32``, ``INT64``, ``BOOL``, ``BYTES``
(strings). Car numbers are ``BYTES``: a tensor of JSON numbers is refused, as on the
other routes. Any input may come in binary instead (``oip_binary``), and any output may
be asked for in binary; JSON stays the default.

The answer has one tensor per output column (or per requested output, in the order
asked), rows in input order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from cognirace.api.frames import columns_frame, columns_out
from cognirace.api.oip_binary import assemble, encode, read_inputs
from cognirace.api.problems import invalid_input
from cognirace.api.schemas import CAR_NUMBER, SANITY_ABS, car_number_problem
from cognirace.api.store import Served
from cognirace.models.schema import ColumnSpec, count_out_of_range


class TensorParameters(BaseModel):
    """Parameters of one input tensor: where its binary data is, if it is binary."""

    model_config = ConfigDict(extra="allow")
    binary_data_size: int | None = Field(default=None, ge=0)


class InferTensor(BaseModel):
    """One named input tensor: its values in ``data``, or in binary after the JSON."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(max_length=100)
    shape: list[int] = Field(max_length=2)
    datatype: str = Field(max_length=10)
    data: list[Any] | None = None
    parameters: TensorParameters | None = None


class OutputParameters(BaseModel):
    """How one output is wanted: in binary or JSON (the request's default when unset)."""

    model_config = ConfigDict(extra="allow")
    binary_data: bool | None = None
    classification: int | None = None


class RequestedOutput(BaseModel):
    """One output the client asks for."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(max_length=100)
    parameters: OutputParameters | None = None


class RequestParameters(BaseModel):
    """Request-wide parameters: ``binary_data_output`` sends every output in binary."""

    model_config = ConfigDict(extra="allow")
    binary_data_output: bool = False


class InferRequest(BaseModel):
    """An OIP v2 inference request."""

    model_config = ConfigDict(extra="ignore")
    id: str | None = Field(default=None, max_length=200)
    inputs: list[InferTensor] = Field(min_length=1)
    outputs: list[RequestedOutput] | None = Field(default=None, max_length=100)
    parameters: RequestParameters | None = None


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


def tensor_columns(served: Served, tensors: Sequence[InferTensor], binary: bytes
                   ) -> dict[str, list[Any]]:
    """Each tensor's values by name, binary ones read from ``binary``, list columns as rows.

    Raises:
        ProblemError: 422 naming a tensor without data, or whose binary data is malformed
            or does not fill its shape.
    """
    found = read_inputs([(t.name, t.datatype, t.parameters.binary_data_size
                          if t.parameters else None) for t in tensors], binary)
    lists = {s.name for s in served.inputs if s.dtype.startswith("List(")}
    columns: dict[str, list[Any]] = {}
    for tensor in tensors:
        values = found.get(tensor.name, tensor.data)
        if values is None:
            raise invalid_input([{"field": f"inputs.{tensor.name}", "reason": "has neither "
                                  "data nor parameters.binary_data_size"}])
        n_elements = math.prod(tensor.shape)
        if tensor.name in found and n_elements != len(values):
            raise invalid_input([{"field": f"inputs.{tensor.name}", "reason": f"has shape "
                                  f"{tensor.shape} ({n_elements} values) but its binary "
                                  f"data holds {len(values)}"}])
        flat = not any(isinstance(v, list) for v in values)
        if tensor.name in lists and flat and len(tensor.shape) == 2 and (
                n_elements == len(values) and tensor.shape[1] > 0):
            width = tensor.shape[1]
            values = [values[i:i + width] for i in range(0, len(values), width)]
        columns[tensor.name] = values
    return columns


def tensors_frame(served: Served, by_name: Mapping[str, Sequence[Any]],
                  check_batch: Callable[[int], None]) -> pl.DataFrame:
    """The model's input frame from named columns, checked like the v1 routes' fields.

    Raises:
        ProblemError: 422 naming a missing, ragged, mistyped, non-finite or out-of-range
            tensor (car numbers that are not text included); 413 beyond the batch limit.
    """
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


def wanted_outputs(served: Served, parsed: InferRequest) -> list[tuple[ColumnSpec, bool]]:
    """The outputs to send, each with whether it goes in binary.

    Raises:
        ProblemError: 422 for an output the model does not have, or a classification
            (not supported: ask for the tensor itself).
    """
    default = parsed.parameters.binary_data_output if parsed.parameters else False
    if not parsed.outputs:
        return [(spec, default) for spec in served.outputs]
    specs = {s.name: s for s in served.outputs}
    out = []
    for asked in parsed.outputs:
        spec = specs.get(asked.name)
        if spec is None:
            raise invalid_input([{"field": f"outputs.{asked.name}", "reason": f"is not an "
                                  f"output of {served.name}; it has {', '.join(specs)}"}])
        params = asked.parameters or OutputParameters()
        if params.classification:
            raise invalid_input([{"field": f"outputs.{asked.name}", "reason": "asks for a "
                                  "classification, which is not supported; ask for the "
                                  "tensor itself"}])
        out.append((spec, default if params.binary_data is None else params.binary_data))
    return out


def answer(served: Served, request_id: str | None, wanted: Sequence[tuple[ColumnSpec, bool]],
           result: pl.DataFrame) -> tuple[bytes, int]:
    """The answer's body and the length of its JSON part (the whole body when no output
    went in binary), for the ``wanted_outputs``."""
    columns = columns_out(served, result)
    tensors, blobs = [], []
    for spec, binary in wanted:
        values = columns[spec.name]
        if spec.dtype == "List(String)":
            values = [",".join(names or ()) for names in values]
        tensor = {**tensor_meta(spec), "shape": [len(values)]}
        raw = encode(tensor["datatype"], values) if binary else None
        if raw is None:
            tensor["data"] = values
        else:
            tensor["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        tensors.append(tensor)
    header = {"model_name": served.name, "model_version": served.version, "id": request_id,
              "outputs": tensors}
    return assemble(header, blobs)


__all__ = ["InferRequest", "InferTensor", "RequestedOutput", "answer", "datatype",
           "tensor_columns", "tensor_meta", "tensors_frame", "wanted_outputs"]
