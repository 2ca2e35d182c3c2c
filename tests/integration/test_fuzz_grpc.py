"""Fuzz the gRPC API of a real sidecar: no input ends in UNKNOWN, INTERNAL or a crash.

Hypothesis drives texts (NUL, lone surrogates, invalid UTF-8, oversize),
configs, purposes, object Structs and plain random bytes (sent with identity
serializers, bypassing the client's protobuf checks). The sidecar runs with
small limits so the limit paths are hit too. Every answer must be a
deliberate status, and every OK answer must hold one result per item.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import grpc
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from tests.support import Emulator, Sidecar, start_sidecar
from vectorizer.v1 import internal_pb2 as ib
from vectorizer.v1 import vectorizer_pb2 as pb

MAX_ITEMS, MAX_TEXT, MAX_REQUEST = 12, 600, 3000
DELIBERATE = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.FAILED_PRECONDITION,
}
FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
METHODS = ("Vectorize", "VectorizeObjects", "ValidateConfig", "GetMeta")


@pytest.fixture(scope="module")
def fuzz_sidecar(aws_emulator: Emulator) -> Iterator[Sidecar]:
    side = start_sidecar(
        aws_emulator,
        "--collections", "examples/collections.json",
        "--endpoint-allowlist", aws_emulator.host_port,
        "--max-items", str(MAX_ITEMS),
        "--max-text-bytes", str(MAX_TEXT),
        "--max-request-bytes", str(MAX_REQUEST),
        "--max-message-bytes", "200000",
        "--default-deadline", "5",
    )  # fmt: skip
    yield side
    assert side.proc.poll() is None, "the sidecar died during the fuzz run"
    side.terminate()
    assert "Traceback" not in side.logs


@pytest.fixture(scope="module")
def channel(fuzz_sidecar: Sidecar) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(fuzz_sidecar.grpc_address) as ch:
        yield ch


def call_raw(channel: grpc.Channel, method: str, data: bytes) -> tuple[grpc.StatusCode, bytes]:
    """Send `data` as the request bytes; (status, response bytes)."""
    code, body = _call_raw(channel, method, data)
    if currently_in_test_context():
        event(f"{method} {code.name}")  # --hypothesis-show-statistics shows the mix
    return code, body


def _call_raw(channel: grpc.Channel, method: str, data: bytes) -> tuple[grpc.StatusCode, bytes]:
    rpc = channel.unary_unary(
        f"/vectorizer.v1.Vectorizer/{method}",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    try:
        return grpc.StatusCode.OK, rpc(data, timeout=15)
    except grpc.RpcError as exc:
        assert exc.code() in DELIBERATE, (exc.code(), exc.details())
        assert "Traceback" not in (exc.details() or "")
        return exc.code(), b""


# Text bytes: valid UTF-8 with NUL and astral characters, lone surrogates
# (what a sloppy client encodes with surrogatepass), random bytes, oversize.
text_bytes = st.one_of(
    st.text(max_size=30).map(str.encode),
    st.text(alphabet=st.characters(codec=None), max_size=10).map(
        lambda t: t.encode("utf-8", "surrogatepass")
    ),
    st.binary(max_size=30),
    st.sampled_from([b"", b"   ", b"\x00", b"\xed\xa0\x80", b"x" * (MAX_TEXT + 1)]),
    st.integers(1, 3).map(lambda n: "\U0001f600".encode() * (MAX_TEXT // 4 + n)),
)
configs = st.builds(
    pb.CollectionConfig,
    service=st.sampled_from(["", "bedrock", "sagemaker", "nope"]),
    region=st.sampled_from(["us-east-1", "eu-west-1", "", "moon-1"]),
    model=st.sampled_from(
        ["", "amazon.titan-embed-text-v2:0", "cohere.embed-english-v3", "no.such-model", "x" * 300]
    ),
    endpoint=st.sampled_from(["", "tei-small", "hf-feature", "no-such-endpoint", "http://[::1"]),
    dimensions=st.one_of(st.none(), st.sampled_from([0, -1, 256, 1024, 7])),
    truncate=st.sampled_from(["", "NONE", "END", "bogus"]),
)
VALID = pb.CollectionConfig(region="us-east-1", model="amazon.titan-embed-text-v2:0")
# About half the targets are valid, so the embedding paths get fuzzed too.
targets = st.one_of(
    st.sampled_from(["Articles", "Products"]).map(lambda n: {"collection": n.encode()}),
    st.just({"config": VALID.SerializeToString()}),
    configs.map(lambda c: {"config": c.SerializeToString()}),
    st.sampled_from(["Missing", ""]).map(lambda n: {"collection": n.encode()}),
    st.just({}),
)
purposes = st.integers(min_value=-(2**31), max_value=2**31 - 1)


def utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@FUZZ
@given(texts=st.lists(text_bytes, max_size=MAX_ITEMS + 2), target=targets, purpose=purposes)
def test_vectorize_any_texts_config_and_purpose(
    channel: grpc.Channel, emulator: Emulator, texts: list[bytes], target: dict, purpose: int
) -> None:
    data = ib.VectorizeRequestBytes(texts=texts, purpose=purpose, **target).SerializeToString()
    code, body = call_raw(channel, "Vectorize", data)
    if code is not grpc.StatusCode.OK:
        return
    resp = pb.VectorizeResponse.FromString(body)
    assert len(resp.results) == len(texts)
    for raw, result in zip(texts, resp.results, strict=True):
        if not utf8(raw):
            assert result.error.code == "INVALID_UTF8" and not result.error.retryable
        elif len(raw) > MAX_TEXT:
            assert result.error.code == "TEXT_TOO_LARGE" and not result.error.retryable
        elif result.HasField("vector"):
            assert all(math.isfinite(v) for v in result.vector.values)
        else:
            assert result.error.code and result.error.message


json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)


def object_bytes(props: dict, corrupt: bool) -> bytes:
    obj = pb.VectorizeObject(id="o")
    obj.properties.update(props)
    if not corrupt:
        return obj.SerializeToString()
    obj.properties["zz"] = "QQQQ"
    return obj.SerializeToString().replace(b"QQQQ", b"\xff\xfe\xed\xa0")


@FUZZ
@given(
    objects=st.lists(
        st.tuples(st.dictionaries(st.text(max_size=8), json_values, max_size=4), st.booleans()),
        max_size=MAX_ITEMS + 1,
    ),
    class_name=st.text(max_size=20),
    schema=st.lists(
        st.builds(
            pb.PropertySchema,
            name=st.text(max_size=8),
            skip=st.booleans(),
            data_type=st.sampled_from(["", "text", "text[]", "int", "blob"]),
        ),
        max_size=3,
    ),
    target=targets,
    purpose=purposes,
)
def test_vectorize_objects_any_struct(
    channel: grpc.Channel,
    emulator: Emulator,
    objects: list[tuple[dict, bool]],
    class_name: str,
    schema: list[pb.PropertySchema],
    target: dict,
    purpose: int,
) -> None:
    data = ib.VectorizeObjectsRequestBytes(
        objects=[object_bytes(props, corrupt) for props, corrupt in objects],
        class_name=class_name.encode(),
        property_schema=[p.SerializeToString() for p in schema],
        purpose=purpose,
        **target,
    ).SerializeToString()
    code, body = call_raw(channel, "VectorizeObjects", data)
    if code is grpc.StatusCode.OK:
        resp = pb.VectorizeResponse.FromString(body)
        assert len(resp.results) == len(objects)
        for (_, corrupt), result in zip(objects, resp.results, strict=True):
            if corrupt:
                assert result.error.code == "INVALID_UTF8"


@FUZZ
@given(method=st.sampled_from(METHODS), data=st.binary(max_size=400))
def test_random_bytes_to_every_method(channel: grpc.Channel, method: str, data: bytes) -> None:
    call_raw(channel, method, data)


@FUZZ
@given(data=st.binary(max_size=200))
def test_random_bytes_to_health_and_reflection(channel: grpc.Channel, data: bytes) -> None:
    """The services we did not write are guarded too (DecodeGuardInterceptor)."""
    identity = {"request_serializer": lambda b: b, "response_deserializer": lambda b: b}
    calls = [
        lambda: channel.unary_unary("/grpc.health.v1.Health/Check", **identity)(data, timeout=5),
        lambda: list(
            channel.stream_stream(
                "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", **identity
            )(iter([data]), timeout=5)
        ),
    ]
    for call in calls:
        try:
            call()
        except grpc.RpcError as exc:
            assert exc.code() in DELIBERATE, (exc.code(), exc.details())


@FUZZ
@given(cfg=configs, class_name=st.text(max_size=10))
def test_validate_config_answers_every_config(
    channel: grpc.Channel, cfg: pb.CollectionConfig, class_name: str
) -> None:
    data = pb.ValidateConfigRequest(config=cfg, class_name=class_name).SerializeToString()
    code, body = call_raw(channel, "ValidateConfig", data)
    assert code is grpc.StatusCode.OK
    resp = pb.ValidateConfigResponse.FromString(body)
    assert resp.valid == (not resp.errors)


def test_oversized_message_is_resource_exhausted_not_unknown(channel: grpc.Channel) -> None:
    data = ib.VectorizeRequestBytes(texts=[b"a" * 250_000], collection=b"Articles")
    code, _ = call_raw(channel, "Vectorize", data.SerializeToString())
    assert code is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_limits_are_item_or_request_errors_that_name_the_limit(channel: grpc.Channel) -> None:
    too_many = ib.VectorizeRequestBytes(texts=[b"t"] * (MAX_ITEMS + 1), collection=b"Articles")
    rpc = channel.unary_unary(
        "/vectorizer.v1.Vectorizer/Vectorize",
        request_serializer=lambda b: b,
        response_deserializer=pb.VectorizeResponse.FromString,
    )
    with pytest.raises(grpc.RpcError) as info:
        rpc(too_many.SerializeToString(), timeout=10)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert f"limit of {MAX_ITEMS}" in info.value.details()

    mixed = ib.VectorizeRequestBytes(
        texts=[b"fuzz limits fine", b"y" * (MAX_TEXT + 1), b"\xff bad", b" \t "],
        collection=b"Articles",
    )
    resp = rpc(mixed.SerializeToString(), timeout=10)
    codes = [r.error.code if r.HasField("error") else "vector" for r in resp.results]
    assert codes == ["vector", "TEXT_TOO_LARGE", "INVALID_UTF8", "BLANK_TEXT"]
    assert str(MAX_TEXT) in resp.results[1].error.message

    too_big = ib.VectorizeRequestBytes(texts=[b"z" * 500] * 7, collection=b"Articles")
    with pytest.raises(grpc.RpcError) as info:
        rpc(too_big.SerializeToString(), timeout=10)
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert str(MAX_REQUEST) in info.value.details()
