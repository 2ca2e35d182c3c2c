"""The tolerant request deserializers (`vectorizer.decoding`).

They never raise, read valid requests exactly as protobuf does, and single out
the texts or objects whose bytes are not UTF-8 instead of refusing the call.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vectorizer.decoding import (
    Lenient,
    Undecodable,
    decode_strict,
    decode_vectorize,
    decode_vectorize_objects,
    unwrap,
)
from vectorizer.errors import VectorizerError
from vectorizer.v1 import internal_pb2 as ib
from vectorizer.v1 import vectorizer_pb2 as pb

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONFIG = pb.CollectionConfig(region="us-east-1", model="amazon.titan-embed-text-v2:0")
# Byte strings, often valid UTF-8, often not (lone surrogates, overlongs, stray bytes).
raw_texts = st.one_of(
    st.text(max_size=20).map(str.encode),
    st.binary(max_size=20),
    st.sampled_from([b"\xed\xa0\x80", b"\xc0\xaf", b"\xff", b"ok\x00nul", b""]),
)


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@FUZZ
@given(texts=st.lists(raw_texts, max_size=8), purpose=st.integers(-5, 5), fmt=st.integers(0, 3))
def test_vectorize_keeps_good_texts_and_flags_bad_ones(
    texts: list[bytes], purpose: int, fmt: int
) -> None:
    data = ib.VectorizeRequestBytes(
        texts=texts, purpose=purpose, config=CONFIG.SerializeToString(), vector_format=fmt
    ).SerializeToString()
    decoded = decode_vectorize(data)
    bad = {i for i, t in enumerate(texts) if not _utf8(t)}
    if not bad:
        assert decoded == pb.VectorizeRequest.FromString(data)
        return
    assert isinstance(decoded, Lenient)
    assert decoded.bad_items == bad
    msg, flagged = unwrap(decoded)
    assert flagged == bad and msg.config == CONFIG and msg.purpose == purpose
    assert msg.vector_format == fmt
    for i, raw in enumerate(texts):
        assert msg.texts[i] == ("" if i in bad else raw.decode("utf-8"))


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_never_raise(data: bytes) -> None:
    for decode in (
        decode_vectorize,
        decode_vectorize_objects,
        decode_strict(pb.ValidateConfigRequest),
        decode_strict(pb.GetMetaRequest),
    ):
        out = decode(data)
        assert isinstance(out, (Lenient, Undecodable)) or hasattr(out, "SerializeToString")
        if isinstance(out, Undecodable):
            assert "internal" not in out.reason  # never names the private mirrors
            with pytest.raises(VectorizerError) as info:
                unwrap(out)
            assert info.value.kind.value == "INVALID_ARGUMENT" and info.value.message


def _object_with_bad_utf8() -> bytes:
    good = pb.VectorizeObject(id="o1")
    good.properties.update({"title": "QQQQ"})
    data = good.SerializeToString()
    return data.replace(b"QQQQ", b"\xff\xfe\xed\xa0")


def test_objects_with_bad_utf8_are_flagged_one_by_one() -> None:
    ok = pb.VectorizeObject(id="o0")
    ok.properties.update({"title": "fine"})
    data = ib.VectorizeObjectsRequestBytes(
        objects=[ok.SerializeToString(), _object_with_bad_utf8(), ok.SerializeToString()],
        class_name=b"Article",
        collection=b"Articles",
        purpose=pb.PURPOSE_QUERY,
        vector_format=pb.VECTOR_FORMAT_PACKED_FLOAT32,
    ).SerializeToString()
    decoded = decode_vectorize_objects(data)
    assert isinstance(decoded, Lenient) and decoded.bad_items == {1}
    msg = decoded.message
    assert msg.collection == "Articles" and msg.class_name == "Article"
    assert msg.vector_format == pb.VECTOR_FORMAT_PACKED_FLOAT32
    assert msg.objects[0] == ok and msg.objects[2] == ok and msg.objects[1] == pb.VectorizeObject()


@pytest.mark.parametrize(
    ("mirror", "decode", "named"),
    [
        (
            ib.VectorizeRequestBytes(texts=[b"a"], collection=b"\xff"),
            decode_vectorize,
            "collection name",
        ),
        (
            ib.VectorizeRequestBytes(texts=[b"a"], config=b"\x12\x01\xff"),
            decode_vectorize,
            "config",
        ),
        (
            ib.VectorizeObjectsRequestBytes(class_name=b"\xc0\xaf"),
            decode_vectorize_objects,
            "class name",
        ),
        (
            ib.VectorizeObjectsRequestBytes(property_schema=[b"\x0a\x01\xff"]),
            decode_vectorize_objects,
            "property_schema[0]",
        ),
    ],
)
def test_bad_utf8_outside_items_refuses_the_request_naming_the_part(
    mirror: object, decode: object, named: str
) -> None:
    out = decode(mirror.SerializeToString())  # type: ignore[attr-defined, operator]
    assert isinstance(out, Undecodable) and named in out.reason


def test_valid_requests_take_the_fast_path() -> None:
    req = pb.VectorizeRequest(texts=["a", "b"], collection="Articles")
    assert decode_vectorize(req.SerializeToString()) == req
    assert unwrap(req) == (req, frozenset())
