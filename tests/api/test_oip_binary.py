"""The binary tensor codec: the protocol's byte layout, both ways, and what it refuses."""

from __future__ import annotations

import struct
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cognirace.api.oip_binary import assemble, decode, encode, read_inputs, split_body
from cognirace.api.problems import ProblemError

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from tritonclient.utils import deserialize_bytes_tensor, serialize_byte_tensor

NUMPY = {"BOOL": np.bool_, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
         "INT64": np.int64, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
         "UINT64": np.uint64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64}


def reason(error: ProblemError) -> str:
    assert error.status == 422
    first: dict[str, Any] = error.extra["errors"][0]
    return f"{first['field']} {first['reason']}"


@pytest.mark.parametrize("datatype", sorted(NUMPY))
def test_numbers_read_as_numpy_writes_them(datatype: str) -> None:
    rng = np.random.default_rng(3)
    array = (rng.integers(0, 100, 7) if datatype != "BOOL" else rng.integers(0, 2, 7)
             ).astype(NUMPY[datatype])
    assert decode(datatype, array.tobytes(), "x") == array.tolist()
    assert encode(datatype, array.tolist()) == array.astype(
        np.dtype(NUMPY[datatype]).newbyteorder("<")).tobytes()


@given(st.lists(st.floats(allow_nan=False, width=64), max_size=20))
def test_fp64_round_trips_bit_for_bit(values: list[float]) -> None:
    raw = encode("FP64", values)
    assert raw is not None and decode("FP64", raw, "x") == values


def test_text_uses_the_clients_length_prefixed_layout() -> None:
    words = ["barber", "", "Circuit of the Americas", "Zürich"]
    raw = serialize_byte_tensor(np.array(words, dtype=np.object_)).item()
    assert raw[:4] == struct.pack("<I", 6)
    assert decode("BYTES", raw, "track") == words
    ours = encode("BYTES", words)
    assert ours == raw
    assert [b.decode() for b in deserialize_bytes_tensor(ours)] == words


def test_nan_is_a_missing_value_both_ways() -> None:
    raw = np.array([1.5, np.nan, -np.inf], dtype="<f4").tobytes()
    assert decode("FP32", raw, "gap_ahead_s") == [1.5, None, -np.inf]
    assert np.isnan(np.frombuffer(encode("FP64", [None, 2.0]) or b"", "<f8")[0])


@pytest.mark.parametrize(("datatype", "values"), [("BYTES", ["a", None]), ("BOOL", [None]),
                                                  ("INT32", [1, None])])
def test_missing_values_without_a_binary_form_stay_json(datatype: str, values: list[Any]
                                                        ) -> None:
    assert encode(datatype, values) is None


@pytest.mark.parametrize(("datatype", "raw", "words"), [
    ("FP64", b"\x00" * 12, "inputs.x has 12 bytes of binary data, not a whole number of FP64"),
    ("BF16", b"\x00" * 2, "inputs.x has datatype 'BF16', which cannot be read in binary"),
    ("BYTES", b"\x05\x00", "inputs.x ends inside a BYTES element's 4-byte length"),
    ("BYTES", b"\x05\x00\x00\x00abc", "inputs.x has a BYTES element of 5 bytes running past"),
    ("BYTES", b"\x02\x00\x00\x00\xff\xfe", "inputs.x has element 0 that is not UTF-8 text"),
])
def test_malformed_tensors_are_refused_by_name(datatype: str, raw: bytes, words: str) -> None:
    with pytest.raises(ProblemError) as caught:
        decode(datatype, raw, "x")
    assert reason(caught.value).startswith(words)


def test_inputs_are_cut_in_request_order() -> None:
    laps = np.array([3, 4], dtype="<i4").tobytes()
    flags = np.array([True, False]).tobytes()
    got = read_inputs([("lap", "INT32", len(laps)), ("track", "BYTES", None),
                       ("caution", "BOOL", 2)], laps + flags)
    assert got == {"lap": [3, 4], "caution": [True, False]}
    with pytest.raises(ProblemError) as caught:
        read_inputs([("lap", "INT32", 8), ("caution", "BOOL", 4)], laps + flags)
    assert reason(caught.value).startswith("inputs.caution says 4 bytes of binary data "
                                           "(binary_data_size) but 2 are left")
    with pytest.raises(ProblemError) as caught:
        read_inputs([("lap", "INT32", 8)], laps + flags)
    assert reason(caught.value).startswith("inputs 2 bytes after the last binary input")


def test_body_split_by_the_header() -> None:
    assert split_body(b'{"a":1}xyz', None) == (b'{"a":1}xyz', b"")
    assert split_body(b'{"a":1}xyz', " 7") == (b'{"a":1}', b"xyz")
    for header in ("0", "11", "seven", "-1"):
        with pytest.raises(ProblemError) as caught:
            split_body(b'{"a":1}xyz', header)
        assert reason(caught.value).startswith("Inference-Header-Content-Length must be")


def test_an_answer_is_its_json_then_its_blobs() -> None:
    body, size = assemble({"outputs": []}, [b"\x01\x02", b"\x03"])
    assert body[:size] == b'{"outputs":[]}' and body[size:] == b"\x01\x02\x03"
