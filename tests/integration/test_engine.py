"""Throughput-engine behaviour through the real server and emulator:
dedupe, cache, throttling storms, deadlines. Nothing lost, nothing reordered."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from tests.support import Emulator, start_emulator, start_sidecar
from vectorizer.emulator.vectors import deterministic_vector
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

TITAN_V2 = pb.CollectionConfig(region="us-east-1", model="amazon.titan-embed-text-v2:0")


def bedrock_calls(emulator: Emulator) -> list[dict]:
    return [r for r in emulator.requests() if r["service"] == "bedrock"]


def assert_each_item_correct_or_retryable(texts: list[str], resp: pb.VectorizeResponse) -> int:
    """The invariant: one result per text, in order; a right vector or a retryable error."""
    assert len(resp.results) == len(texts)
    ok = 0
    for text, result in zip(texts, resp.results, strict=True):
        if result.HasField("vector"):
            np.testing.assert_allclose(
                result.vector.values, deterministic_vector(text, 1024, True), atol=1e-6
            )
            ok += 1
        else:
            assert result.error.retryable, result.error
            assert result.error.code in ("THROTTLED", "DEADLINE_EXCEEDED", "UPSTREAM_UNAVAILABLE")
    return ok


def test_duplicates_in_a_request_cost_one_call(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    texts = ["dup engine alpha"] * 5 + ["dup engine beta"] * 3
    resp = stub.Vectorize(pb.VectorizeRequest(texts=texts, config=TITAN_V2))
    assert len(bedrock_calls(emulator)) == 2
    vecs = [list(r.vector.values) for r in resp.results]
    assert vecs[0] == vecs[4] and vecs[5] == vecs[7] and vecs[0] != vecs[5]


def test_cache_serves_repeats_without_upstream_calls(
    stub: pb_grpc.VectorizerStub, emulator: Emulator
) -> None:
    texts = [f"cache engine {i}" for i in range(10)]
    first = stub.Vectorize(pb.VectorizeRequest(texts=texts, config=TITAN_V2))
    assert len(bedrock_calls(emulator)) == 10
    emulator.clear()
    again = stub.Vectorize(pb.VectorizeRequest(texts=texts, config=TITAN_V2))
    assert bedrock_calls(emulator) == []
    for a, b in zip(first.results, again.results, strict=True):
        np.testing.assert_allclose(a.vector.values, b.vector.values, rtol=1e-6)
    # A different purpose or dimension is a different vector: not a cache hit.
    cfg = pb.CollectionConfig(
        region="us-east-1", model="amazon.titan-embed-text-v2:0", dimensions=256
    )
    stub.Vectorize(pb.VectorizeRequest(texts=texts[:2], config=cfg))
    assert len(bedrock_calls(emulator)) == 2


def test_throttling_storm_loses_nothing() -> None:
    # Quota far below demand: 120 requests per minute, 300 distinct texts.
    emu = start_emulator("--rpm", "120")
    side = start_sidecar(emu, "--initial-rate", "20", "--cache-max-bytes", "0")
    try:
        texts = [f"storm item {i} text" for i in range(300)]
        with grpc.insecure_channel(side.grpc_address) as ch:
            resp = pb_grpc.VectorizerStub(ch).Vectorize(
                pb.VectorizeRequest(texts=texts, config=TITAN_V2), timeout=6
            )
        ok = assert_each_item_correct_or_retryable(texts, resp)
        assert 0 < ok < len(texts)
        assert emu.stats()["throttled"] > 0
        _, metrics = side.http_get("/metrics")
        assert "vectorizer_throttles_total" in metrics
    finally:
        side.terminate()
        emu.stop()


def test_deadline_shorter_than_the_work_returns_partial_results() -> None:
    emu = start_emulator("--latency-ms", "300")
    side = start_sidecar(emu, "--max-concurrency", "4", "--cache-max-bytes", "0")
    try:
        texts = [f"deadline item {i}" for i in range(40)]  # 10 rounds x 300 ms > 1.5 s
        with grpc.insecure_channel(side.grpc_address) as ch:
            resp = pb_grpc.VectorizerStub(ch).Vectorize(
                pb.VectorizeRequest(texts=texts, config=TITAN_V2), timeout=1.5
            )
        ok = assert_each_item_correct_or_retryable(texts, resp)
        assert 0 < ok < len(texts)
        late = [r.error for r in resp.results if r.HasField("error")]
        assert {e.code for e in late} == {"DEADLINE_EXCEEDED"}
    finally:
        side.terminate()
        emu.stop()


def test_all_items_throttled_is_resource_exhausted() -> None:
    emu = start_emulator("--throttle-rate", "1.0")
    side = start_sidecar(emu)
    try:
        with grpc.insecure_channel(side.grpc_address) as ch, pytest.raises(grpc.RpcError) as info:
            pb_grpc.VectorizerStub(ch).Vectorize(
                pb.VectorizeRequest(texts=["never gets through"], config=TITAN_V2), timeout=2
            )
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        side.terminate()
        emu.stop()
