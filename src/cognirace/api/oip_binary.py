"""The Open Inference Protocol's binary tensor extension: raw tensor bytes after the JSON.

Numeric clients send tensors as their memory, not as JSON numbers (``tritonclient``
does so by default): the body is the JSON request, its length in bytes in the
``Inference-Header-Content-Length`` header, followed by the bytes of each binary input
in input order, each input giving its size in ``parameters.binary_data_size``. An
answer does the same for the outputs asked in binary (``binary_data`` on a requested
output, else ``binary_data_output`` in the request's parameters).

One tensor's bytes are its elements in row-major order, little-endian; ``BOOL`` is one
byte per element; ``BYTES`` is each element as a 4-byte little-endian length and then
its bytes (UTF-8 text here).

A missing value has no binary form. In ``FP16``/``FP32``/``FP64`` NaN stands for it,
both ways: a NaN in a binary input is a missing value, as ``null`` is in JSON (the
infinities are still refused as out of range), and a missing float output is sent as
NaN. A ``BYTES``, ``BOOL`` or integer output holding a missing value is sent as JSON
``data`` instead, which the protocol allows output by output.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from cognirace.api.problems import ProblemError, invalid_input

HEADER = "inference-header-content-length"
"""Request and response header: length of the JSON part of a body with binary tensors."""
BINARY_MEDIA_TYPE = "application/octet-stream"

_NUMERIC: dict[str, np.dtype[Any]] = {
    name: np.dtype(code) for name, code in (
        ("BOOL", "?"), ("INT8", "<i1"), ("INT16", "<i2"), ("INT32", "<i4"), ("INT64", "<i8"),
        ("UINT8", "<u1"), ("UINT16", "<u2"), ("UINT32", "<u4"), ("UINT64", "<u8"),
        ("FP16", "<f2"), ("FP32", "<f4"), ("FP64", "<f8"))}
DATATYPES = (*_NUMERIC, "BYTES")
"""Datatypes readable in binary (``BF16`` is not: numpy has no such type)."""
_LENGTH = struct.Struct("<I")


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON part of a request body and the binary part after it (empty without one).

    Raises:
        ProblemError: 422 when the header is not a length within the body.
    """
    if header_length is None:
        return body, b""
    text = header_length.strip()
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= len(body):
        raise invalid_input([{"field": "Inference-Header-Content-Length",
                              "reason": f"must be the JSON part's length in bytes, 1 to "
                              f"{len(body)} for this body; got {header_length!r}"}])
    size = int(text)
    return body[:size], body[size:]


def read_inputs(inputs: Sequence[tuple[str, str, int | None]], binary: bytes
                ) -> dict[str, list[Any]]:
    """The values of each binary input, by name, cut from ``binary`` in input order.

    Args:
        inputs: ``(name, datatype, binary_data_size)`` of every input, in request order;
            a size of None marks an input whose data is in the JSON.
        binary: The bytes after the JSON part.

    Raises:
        ProblemError: 422 naming the input whose bytes are missing, left over or do not
            fit its datatype.
    """
    out: dict[str, list[Any]] = {}
    offset = 0
    for name, datatype, size in inputs:
        if size is None:
            continue
        if size < 0 or offset + size > len(binary):
            raise _bad(name, f"says {size} bytes of binary data (binary_data_size) but "
                       f"{len(binary) - offset} are left after the inputs before it")
        out[name] = decode(datatype, binary[offset:offset + size], name)
        offset += size
    if offset != len(binary):
        raise invalid_input([{"field": "inputs", "reason": f"{len(binary) - offset} bytes "
                              "after the last binary input; each binary input gives its "
                              "size in parameters.binary_data_size"}])
    return out


def decode(datatype: str, raw: bytes, name: str) -> list[Any]:
    """The flat list of values of one tensor's bytes (NaN read as None).

    Raises:
        ProblemError: 422 for an unknown datatype, a size that is not a whole number of
            elements, or text that is not UTF-8.
    """
    if datatype == "BYTES":
        return _decode_bytes(raw, name)
    dtype = _NUMERIC.get(datatype)
    if dtype is None:
        raise _bad(name, f"has datatype {datatype!r}, which cannot be read in binary here; "
                   f"use one of {', '.join(DATATYPES)}")
    if len(raw) % dtype.itemsize:
        raise _bad(name, f"has {len(raw)} bytes of binary data, not a whole number of "
                   f"{datatype} elements ({dtype.itemsize} bytes each)")
    array = np.frombuffer(raw, dtype=dtype)
    values: list[Any] = array.tolist()
    if dtype.kind == "f" and np.isnan(array).any():
        values = [None if v != v else v for v in values]
    return values


def _decode_bytes(raw: bytes, name: str) -> list[Any]:
    values: list[Any] = []
    offset = 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise _bad(name, "ends inside a BYTES element's 4-byte length")
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += 4
        if offset + length > len(raw):
            raise _bad(name, f"has a BYTES element of {length} bytes running past the "
                       "tensor's end")
        try:
            values.append(raw[offset:offset + length].decode("utf-8"))
        except UnicodeDecodeError:
            raise _bad(name, f"has element {len(values)} that is not UTF-8 text") from None
        offset += length
    return values


def encode(datatype: str, values: Sequence[Any]) -> bytes | None:
    """One output tensor's bytes; None when a missing value has no binary form (the
    tensor then goes as JSON data)."""
    if datatype == "BYTES":
        if any(v is None for v in values):
            return None
        parts = []
        for value in values:
            text = str(value).encode("utf-8")
            parts += [_LENGTH.pack(len(text)), text]
        return b"".join(parts)
    dtype = _NUMERIC[datatype]
    if dtype.kind == "f":
        return np.array([math.nan if v is None else v for v in values], dtype=dtype).tobytes()
    if any(v is None for v in values):
        return None
    return np.array(values, dtype=dtype).tobytes()


def assemble(header: dict[str, Any], blobs: Sequence[bytes]) -> tuple[bytes, int]:
    """An answer's body (the JSON, then every binary output's bytes) and its JSON length."""
    head = orjson.dumps(header)
    return head + b"".join(blobs), len(head)


def _bad(name: str, reason: str) -> ProblemError:
    return invalid_input([{"field": f"inputs.{name}", "reason": reason}])


__all__ = ["BINARY_MEDIA_TYPE", "DATATYPES", "HEADER", "assemble", "decode", "encode",
           "read_inputs", "split_body"]
