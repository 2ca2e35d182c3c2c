"""vectorizer.encoding: the response bytes written from arrays are the message protobuf makes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vectorizer.encoding import EncodedResponse, encode_response, serialize_response
from vectorizer.types import ItemError, ItemResult
from vectorizer.v1 import vectorizer_pb2 as pb

ERROR = ItemError("THROTTLED", "slow down, key AKIDSECRET", True)


def _expected(results, model, dims, tokens, clean=str):
    out = []
    for r in results:
        if r.vector is not None:
            out.append(pb.Result(vector=pb.Vector(values=r.vector.tolist())))
        else:
            e = r.error
            out.append(
                pb.Result(
                    error=pb.ItemError(code=e.code, message=clean(e.message), retryable=e.retryable)
                )
            )
    return pb.VectorizeResponse(
        results=out, model=model, dimensions=dims, usage=pb.Usage(input_tokens=tokens)
    )


@given(
    st.lists(st.one_of(st.none(), st.integers(min_value=1, max_value=300)), max_size=12),
    st.integers(min_value=0, max_value=2**40),
)
def test_values_form_is_byte_for_byte_what_protobuf_writes(shape, tokens):
    rng = np.random.default_rng(len(shape))
    results = [
        ItemResult.fail(ERROR) if n is None else ItemResult.ok(rng.normal(size=n).astype("f4"))
        for n in shape
    ]
    got = encode_response(results, model="amazon.titan", dimensions=7, input_tokens=tokens)
    expected = _expected(results, "amazon.titan", 7, tokens)
    assert got.data == expected.SerializeToString()
    assert got.message() == expected


def test_packed_form_carries_little_endian_float32():
    v = np.array([0.5, -1.25, 3.0e-8, 1e30], dtype=np.float32)
    got = encode_response(
        [ItemResult.ok(v), ItemResult.fail(ERROR), ItemResult.ok(v[::-1])],
        model="m",
        dimensions=4,
        vector_format=pb.VECTOR_FORMAT_PACKED_FLOAT32,
    ).message()
    first, error, last = got.results
    assert not first.vector.values and first.vector.packed == v.astype("<f4").tobytes()
    assert np.frombuffer(last.vector.packed, "<f4").tolist() == v[::-1].tolist()
    assert error.error.code == "THROTTLED"


def test_error_messages_are_cleaned_and_ordering_kept():
    results = [ItemResult.fail(ERROR), ItemResult.ok(np.ones(3, "f4"))]
    clean = lambda m: m.replace("AKIDSECRET", "***")  # noqa: E731
    got = encode_response(results, model="m", dimensions=3, clean=clean)
    assert got.message() == _expected(results, "m", 3, 0, clean)
    assert b"AKIDSECRET" not in got.data


def test_a_float64_vector_is_written_as_float32():
    v64 = np.array([0.1, 0.2], dtype=np.float64)
    msg = encode_response([ItemResult.ok(v64)], model="m", dimensions=2).message()  # type: ignore[arg-type]
    assert list(msg.results[0].vector.values) == np.float32(v64).tolist()


@pytest.mark.parametrize("obj", [EncodedResponse(b"\x12\x01m"), pb.VectorizeResponse(model="m")])
def test_serializer_passes_bytes_through_and_serializes_messages(obj):
    assert pb.VectorizeResponse.FromString(serialize_response(obj)).model == "m"
