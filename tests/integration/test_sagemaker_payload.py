"""SageMaker request body ceilings through the real server and emulator.

A serverless endpoint takes at most 4 MB per request, a real-time one 6 MiB.
`serverless: true` or `maxPayloadBytes` cut batches to fit; a body the
endpoint refuses as too large anyway ("Request <id> has oversize body.") is
halved and sent again, and later batches for that endpoint stay under half
the refused size. Every endpoint here is added to the emulator for its test,
with a unique name: the sidecar's learned ceilings last for its lifetime.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import grpc
import numpy as np
import pytest

from tests.support import Emulator, http_json
from vectorizer.emulator.vectors import deterministic_vector
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

REGION = "us-east-1"
DIM = 384


def add_endpoint(emulator: Emulator, **spec: Any) -> str:
    name = f"ep-{uuid.uuid4().hex[:12]}"
    status, _ = http_json(
        "POST", emulator.url + "/_emulator/endpoints", {name: {"dialect": "tei", **spec}}
    )
    assert status == 200
    return name


def config(endpoint: str, **extra: Any) -> pb.CollectionConfig:
    return pb.CollectionConfig(
        service="sagemaker", region=REGION, endpoint=endpoint, payload_format="tei", **extra
    )


def embed(stub: pb_grpc.VectorizerStub, texts: list[str], cfg: pb.CollectionConfig) -> Any:
    return stub.Vectorize(pb.VectorizeRequest(texts=texts, config=cfg), timeout=60)


def calls(emulator: Emulator, endpoint: str) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["model_or_endpoint"] == endpoint]


def body_size(record: dict[str, Any]) -> int:
    return len(json.dumps(record["body"], ensure_ascii=False, separators=(",", ":")).encode())


def texts_of(prefix: str, count: int, size: int) -> list[str]:
    """`count` distinct texts of about `size` UTF-8 bytes, in two words (no token
    limit). The filler is a 4-byte character: a quarter of the characters to
    cut into n-grams on both sides for the same body size."""
    fill = "\U0001f600" * ((size - len(prefix) - 5) // 4)
    return [f"{prefix}{i:04d} {fill}" for i in range(count)]


def assert_all_vectors(resp: Any, texts: list[str]) -> None:
    assert len(resp.results) == len(texts)
    for text, result in zip(texts, resp.results, strict=True):
        assert result.HasField("vector"), result.error
        want = deterministic_vector(text, DIM)
        np.testing.assert_allclose(list(result.vector.values), want, atol=2e-6)


def test_refused_oversize_body_is_halved_and_the_ceiling_remembered(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    endpoint = add_endpoint(emulator, serverless=True)
    # 20 texts of 250 kB: one 5 MB body, under 6 MiB but over the serverless 4 MB.
    texts = texts_of("first", 20, 250_000)
    assert_all_vectors(embed(stub, texts, config(endpoint)), texts)
    first = calls(emulator, endpoint)
    assert [c["status"] for c in first] == [400, 200, 200]
    assert first[0]["error_code"] == "ValidationError"
    assert [len(c["body"]["inputs"]) for c in first] == [20, 10, 10]
    # The next batch is cut under half the refused size up front: no refusal.
    emulator.clear()
    more = texts_of("second", 20, 250_000)
    assert_all_vectors(embed(stub, more, config(endpoint)), more)
    second = calls(emulator, endpoint)
    assert all(c["status"] == 200 for c in second) and len(second) == 3
    assert max(body_size(c) for c in second) <= body_size(first[0]) // 2


def test_serverless_config_never_sends_over_4_mb(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    endpoint = add_endpoint(emulator, serverless=True)
    texts = texts_of("sls", 20, 250_000)
    assert_all_vectors(embed(stub, texts, config(endpoint, serverless=True)), texts)
    sent = calls(emulator, endpoint)
    assert all(c["status"] == 200 for c in sent) and len(sent) == 2
    assert max(body_size(c) for c in sent) <= 4_000_000
    assert sum(len(c["body"]["inputs"]) for c in sent) == 20


def test_max_payload_bytes_cuts_batches_and_refuses_a_text_over_it(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    endpoint = add_endpoint(emulator)
    texts = texts_of("mpb", 10, 3000)
    too_long = "y" * 12_000
    resp = embed(stub, [*texts, too_long], config(endpoint, max_payload_bytes=10_000))
    assert_all_vectors(pb.VectorizeResponse(results=resp.results[:10]), texts)
    err = resp.results[10].error
    assert err.code == "TEXT_TOO_LONG" and not err.retryable
    assert "at most 10000 bytes per request (maxPayloadBytes)" in err.message
    sent = calls(emulator, endpoint)
    assert all(body_size(c) <= 10_000 for c in sent) and len(sent) == 4
    assert all(too_long not in c["body"]["inputs"] for c in sent)


def test_one_text_too_large_for_the_endpoint_fails_alone(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    # The endpoint takes 20 kB; the config does not say so.
    endpoint = add_endpoint(emulator, max_payload_bytes=20_000)
    small = texts_of("alone", 4, 2000)
    big = "z" * 30_000
    resp = embed(stub, [small[0], small[1], big, small[2], small[3]], config(endpoint))
    err = resp.results[2].error
    assert err.code == "TEXT_TOO_LONG" and not err.retryable
    assert f"endpoint {endpoint} refused a" in err.message and "oversize body" in err.message
    others = [resp.results[i] for i in (0, 1, 3, 4)]
    assert_all_vectors(pb.VectorizeResponse(results=others), small)


@pytest.mark.parametrize(
    "extra,complaint",
    [
        ({"max_payload_bytes": 7_000_000}, "over InvokeEndpoint's request limit of 6291456"),
        (
            {"max_payload_bytes": 4_500_000, "serverless": True},
            "over a serverless endpoint's request limit of 4000000",
        ),
        ({"max_payload_bytes": 100}, "maxPayloadBytes must be at least 4096"),
    ],
)
def test_impossible_ceilings_are_refused_before_any_call(
    stub: pb_grpc.VectorizerStub, emulator: Emulator, extra: dict[str, Any], complaint: str
) -> None:
    cfg = config("tei-small", **extra)
    answer = stub.ValidateConfig(pb.ValidateConfigRequest(config=cfg), timeout=10)
    assert not answer.valid and any(complaint in e for e in answer.errors)
    with pytest.raises(grpc.RpcError) as info:
        embed(stub, ["x"], cfg)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert complaint in (info.value.details() or "")
    assert calls(emulator, "tei-small") == []
