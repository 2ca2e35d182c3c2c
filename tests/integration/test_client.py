"""vectorizer.client against the real server, plus its retry bookkeeping."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from tests.support import Emulator, Sidecar
from vectorizer.client import (
    AsyncVectorizerClient,
    Credentials,
    EmbeddingError,
    RequestError,
    RetryPolicy,
    VectorizerClient,
)
from vectorizer.client.progress import Progress
from vectorizer.emulator.vectors import deterministic_vector, purposed_vector
from vectorizer.v1 import vectorizer_pb2 as pb

TITAN = {"region": "us-east-1", "model": "amazon.titan-embed-text-v2:0", "dimensions": 256}


def bedrock_bodies(emulator: Emulator) -> list[dict]:
    return [r["body"] for r in emulator.requests() if r["service"] == "bedrock"]


# -- retry bookkeeping (pure) -------------------------------------------------


def vec(*values: float) -> pb.Result:
    return pb.Result(vector=pb.Vector(values=values))


def err(code: str, retryable: bool) -> pb.Result:
    return pb.Result(error=pb.ItemError(code=code, message=f"{code} happened", retryable=retryable))


def test_progress_resends_only_retryable_items_and_keeps_order() -> None:
    p = Progress(4, RetryPolicy(max_attempts=3, base_delay=0.0), timeout=10)
    p.attempts = 1
    p.absorb(
        pb.VectorizeResponse(
            results=[
                vec(1.0),
                err("THROTTLED", True),
                err("MODEL_ERROR", False),
                err("DEADLINE_EXCEEDED", True),
            ]
        )
    )
    assert p.pending == [1, 3]
    assert p.next_delay() is not None
    p.attempts = 2
    p.absorb(pb.VectorizeResponse(results=[vec(2.0), vec(4.0)]))
    assert p.pending == [] and p.next_delay() is None
    with pytest.raises(EmbeddingError) as info:
        p.result()
    (failure,) = info.value.failures
    assert failure.index == 2 and failure.code == "MODEL_ERROR" and not failure.retryable
    assert "[2] MODEL_ERROR: MODEL_ERROR happened" in str(info.value)
    assert p.vectors == [[1.0], [2.0], None, [4.0]]
    assert info.value.vectors == [[1.0], [2.0], None, [4.0]]  # what succeeded is kept


def test_progress_stops_at_max_attempts() -> None:
    p = Progress(1, RetryPolicy(max_attempts=2, base_delay=0.0), timeout=10)
    for attempt in (1, 2):
        p.attempts = attempt
        p.absorb(pb.VectorizeResponse(results=[err("THROTTLED", True)]))
    assert p.next_delay() is None
    with pytest.raises(EmbeddingError, match="after 2 attempt"):
        p.result()


def test_retry_policy_full_jitter_bounds() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0)
    assert all(0 <= policy.delay(a) <= min(1.0, 0.1 * 2**a) for a in range(8) for _ in range(50))


# -- against the server -------------------------------------------------------


def test_sync_embed_collection_and_config(sidecar: Sidecar, emulator: Emulator) -> None:
    with VectorizerClient(sidecar.grpc_address, collection="Articles") as c:
        got = c.embed(["client sync a", "client sync b"])
        assert len(got) == 2 and len(got[0]) == 512
        np.testing.assert_allclose(got[1], deterministic_vector("client sync b", 512), atol=1e-6)
        got = c.embed(["client inline"], config=TITAN)
        assert len(got[0]) == 256
        assert c.embed([]) == []
        assert c.validate({"region": "us-east-1"}) == ["model cannot be empty"]


def test_query_purpose_reaches_cohere(sidecar: Sidecar, emulator: Emulator) -> None:
    with VectorizerClient(sidecar.grpc_address) as c:
        got = c.embed(["client query text"], collection="Reviews", purpose="query")
    assert bedrock_bodies(emulator)[-1]["input_type"] == "search_query"
    np.testing.assert_allclose(
        got[0], purposed_vector("client query text", 1024, "search_query"), atol=1e-6
    )


async def test_async_embed_and_objects(sidecar: Sidecar, emulator: Emulator) -> None:
    async with AsyncVectorizerClient(sidecar.grpc_address, config=TITAN) as c:
        got = await c.embed(["client async one"])
        np.testing.assert_allclose(got[0], deterministic_vector("client async one", 256), atol=1e-6)
        objs = await c.embed_objects(
            [{"title": "Async Obj", "n": 1}],
            class_name="ClientThing",
            schema={"title": {"vectorizePropertyName": True}},
        )
        assert len(objs[0]) == 256
    assert bedrock_bodies(emulator)[-1]["inputText"] == "title async obj"


def test_embed_objects_sync(sidecar: Sidecar, emulator: Emulator) -> None:
    with VectorizerClient(sidecar.grpc_address, config=dict(TITAN, vectorizeClassName=True)) as c:
        c.embed_objects([{"body": "Sync Obj"}], class_name="ClientWidget")
    assert bedrock_bodies(emulator)[-1]["inputText"] == "client widget sync obj"


def test_final_item_errors_are_listed_and_not_retried(sidecar, emulator) -> None:
    emulator.faults(fail_texts=["POISON"])
    with VectorizerClient(sidecar.grpc_address, config=TITAN) as c:
        with pytest.raises(EmbeddingError) as info:
            c.embed(["client fine x", "client POISON y", "client fine z"])
    (failure,) = info.value.failures
    assert failure.index == 1 and failure.code == "MODEL_ERROR" and info.value.attempts == 1
    sent = [b["inputText"] for b in bedrock_bodies(emulator)]
    assert sent.count("client POISON y") == 1


def test_retryable_failures_are_retried_then_reported(sidecar, emulator) -> None:
    emulator.faults(throttle_rate=1.0)
    policy = RetryPolicy(max_attempts=2, base_delay=0.05)
    with VectorizerClient(sidecar.grpc_address, config=TITAN, retry=policy) as c:
        with pytest.raises(EmbeddingError) as info:
            c.embed(["client throttled forever"], timeout=20)
    assert info.value.attempts == 2
    assert info.value.failures[0].code in ("RESOURCE_EXHAUSTED", "THROTTLED")
    emulator.faults(throttle_rate=0.0)


def test_request_errors_are_raised_at_once(sidecar: Sidecar) -> None:
    with VectorizerClient(sidecar.grpc_address) as c:
        with pytest.raises(RequestError) as info:
            c.embed(["x"], collection="NoSuchOne")
        assert info.value.code == grpc.StatusCode.NOT_FOUND.name
        with pytest.raises(ValueError):
            c.embed(["x"])


def test_per_request_credentials(sidecar: Sidecar, emulator: Emulator) -> None:
    creds = Credentials("AKIDCLIENT00042", "client-secret", "client-token")
    with VectorizerClient(sidecar.grpc_address, config=TITAN, credentials=creds) as c:
        c.embed(["client creds"])
    rec = emulator.requests()[-1]
    assert rec["access_key_id"] == "AKIDCLIENT00042" and rec["has_session_token"] is True


# -- packed float32 vectors -----------------------------------------------------


def test_packed_form_over_the_real_server(sidecar: Sidecar, stub) -> None:
    texts = ["packed one", "", "packed two"]
    config = pb.CollectionConfig(region="us-east-1", model=TITAN["model"], dimensions=256)
    values = stub.Vectorize(pb.VectorizeRequest(texts=texts, config=config))
    packed = stub.Vectorize(
        pb.VectorizeRequest(
            texts=texts, config=config, vector_format=pb.VECTOR_FORMAT_PACKED_FLOAT32
        )
    )
    assert packed.dimensions == values.dimensions == 256
    for v, p in zip(values.results, packed.results, strict=True):
        assert v.WhichOneof("outcome") == p.WhichOneof("outcome")
        if v.HasField("vector"):
            assert not p.vector.values and len(p.vector.packed) == 4 * 256
            assert np.frombuffer(p.vector.packed, "<f4").tolist() == list(v.vector.values)
            assert not v.vector.packed  # the default stays `values`
        else:
            assert p.error.code == v.error.code == "BLANK_TEXT"


async def test_client_arrays_match_lists(sidecar: Sidecar, emulator: Emulator) -> None:
    texts = ["array client a", "array client b"]
    with VectorizerClient(sidecar.grpc_address, config=TITAN) as c:
        lists = c.embed(texts)
        matrix = c.embed_array(texts)
        objects = c.embed_objects_array([{"title": "Array Obj"}], class_name="Thing")
    assert matrix.dtype == np.float32 and matrix.shape == (2, 256)
    assert matrix.tolist() == lists
    np.testing.assert_allclose(matrix[1], deterministic_vector("array client b", 256), atol=1e-6)
    assert objects.shape == (1, 256)
    async with AsyncVectorizerClient(sidecar.grpc_address, config=TITAN) as ac:
        again = await ac.embed_array(texts)
        async_objects = await ac.embed_objects_array([{"title": "Array Obj"}], class_name="Thing")
    assert again.tolist() == lists and async_objects.tolist() == objects.tolist()


def test_packed_progress_reads_a_server_that_only_answers_values() -> None:
    p = Progress(2, RetryPolicy(), timeout=10, packed=True)
    p.attempts = 1
    p.absorb(pb.VectorizeResponse(results=[vec(1.0, 2.5), vec(0.5, -1.0)]))
    assert p.matrix().tolist() == [[1.0, 2.5], [0.5, -1.0]]
