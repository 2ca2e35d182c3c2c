"""VectorizeResponse bytes written straight from float32 arrays.

Filling `Vector.values` through the protobuf API makes one Python float per
component (`arr.tolist()`) and copies them again into the message: about
36 us per 1024-dimension vector on the bench machine, more than parsing the
upstream's answer with orjson. Yet a packed `repeated float` is, on the wire,
a length-delimited record holding the little-endian float32 bytes themselves,
and `bytes` is a length-delimited record too (protobuf encoding spec: wire
type LEN; fixed32 elements). So each vector result is written as three short
headers (response.results, result.vector, vector.values or .packed) plus
`arr.tobytes()`, about 0.3 us per vector; everything else (item errors,
model, dimensions, usage) is serialized by protobuf itself and appended,
which parsers read as the same message (fields may come in any order).

- `EncodedResponse`: a VectorizeResponse already serialized; `message()`
  parses it (for tests and in-process callers).
- `encode_response`: results in input order, plus model, dimensions and usage.
- `serialize_response`: the response serializer the gRPC service is
  registered with: an `EncodedResponse` passes through as is, a message is
  serialized as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from google.protobuf.message import Message

from vectorizer.types import ItemResult
from vectorizer.v1 import vectorizer_pb2 as pb

# Field numbers in vectorizer.proto, each as its tag byte for wire type LEN (2).
_LEN = 2
_RESPONSE_RESULTS = (1 << 3) | _LEN  # VectorizeResponse.results = 1
_RESULT_VECTOR = (1 << 3) | _LEN  # Result.vector = 1
_VECTOR_VALUES = (1 << 3) | _LEN  # Vector.values = 1 (packed)
_VECTOR_PACKED = (2 << 3) | _LEN  # Vector.packed = 2
_LE_FLOAT32 = np.dtype("<f4")


@dataclass(frozen=True)
class EncodedResponse:
    """A serialized vectorizer.v1.VectorizeResponse."""

    data: bytes

    def message(self) -> pb.VectorizeResponse:
        return pb.VectorizeResponse.FromString(self.data)


def serialize_response(response: EncodedResponse | Message) -> bytes:
    if isinstance(response, EncodedResponse):
        return response.data
    return response.SerializeToString()


def encode_response(
    results: Sequence[ItemResult],
    *,
    model: str,
    dimensions: int,
    input_tokens: int = 0,
    vector_format: int = pb.VECTOR_FORMAT_VALUES,
    clean: Callable[[str], str] = str,
) -> EncodedResponse:
    """`results` in order; item error messages pass through `clean`."""
    field = _VECTOR_PACKED if vector_format == pb.VECTOR_FORMAT_PACKED_FLOAT32 else _VECTOR_VALUES
    headers: dict[int, bytes] = {}
    parts: list[bytes] = []
    for r in results:
        if r.vector is not None:
            data = np.asarray(r.vector, dtype=_LE_FLOAT32).tobytes()
            header = headers.get(len(data))
            if header is None:
                header = headers[len(data)] = _vector_header(len(data), field)
            parts.append(header)
            parts.append(data)
        else:
            assert r.error is not None
            error = pb.ItemError(
                code=r.error.code, message=clean(r.error.message), retryable=r.error.retryable
            )
            parts.append(_record(_RESPONSE_RESULTS, pb.Result(error=error).SerializeToString()))
    tail = pb.VectorizeResponse(
        model=model, dimensions=dimensions, usage=pb.Usage(input_tokens=input_tokens)
    )
    parts.append(tail.SerializeToString())
    return EncodedResponse(b"".join(parts))


def _vector_header(size: int, field: int) -> bytes:
    """Everything before the float bytes of one vector result of `size` bytes."""
    vector_len = 1 + len(_varint(size)) + size
    result_len = 1 + len(_varint(vector_len)) + vector_len
    return (
        bytes([_RESPONSE_RESULTS])
        + _varint(result_len)
        + bytes([_RESULT_VECTOR])
        + _varint(vector_len)
        + bytes([field])
        + _varint(size)
    )


def _record(tag: int, payload: bytes) -> bytes:
    return bytes([tag]) + _varint(len(payload)) + payload


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)
