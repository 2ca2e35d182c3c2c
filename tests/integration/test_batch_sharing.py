"""Concurrent requests for one Cohere target share upstream calls (vectorizer.batcher),
against the real server and the emulator; each request still gets exactly its own
results, in order, with per-item errors and usage of its own."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator

import grpc
import numpy as np
import pytest

from tests.support import Emulator, Sidecar, start_emulator, start_sidecar
from vectorizer.emulator.vectors import deterministic_vector
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

COHERE = pb.CollectionConfig(region="us-east-1", model="cohere.embed-english-v3")
OPTIONS = [("grpc.max_receive_message_length", 64 * 1024 * 1024)]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Emulator, Sidecar]]:
    emu = start_emulator("--latency-ms", "40")
    side = start_sidecar(
        emu, "--initial-rate", "1000", "--max-concurrency", "128", "--cache-max-bytes", "0"
    )
    yield emu, side
    side.terminate()
    emu.stop()


async def _import(
    address: str, texts: list[str], batch: int, callers: int
) -> list[tuple[list[str], pb.VectorizeResponse]]:
    chunks = iter([texts[i : i + batch] for i in range(0, len(texts), batch)])
    answers: list[tuple[list[str], pb.VectorizeResponse]] = []
    async with grpc.aio.insecure_channel(address, options=OPTIONS) as channel:
        stub = pb_grpc.VectorizerStub(channel)

        async def caller() -> None:
            for chunk in chunks:
                request = pb.VectorizeRequest(
                    texts=chunk,
                    config=COHERE,
                    purpose=pb.PURPOSE_DOCUMENT,
                    vector_format=pb.VECTOR_FORMAT_PACKED_FLOAT32,
                )
                answers.append((chunk, await stub.Vectorize(request, timeout=120)))

        await asyncio.gather(*(caller() for _ in range(callers)))
    return answers


def _metric(side: Sidecar, name: str) -> float:
    _, body = side.http_get("/metrics")
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


async def test_eight_callers_of_500_texts_fill_every_batch(servers) -> None:
    emu, side = servers
    emu.reset()
    tokens_before = _metric(side, "vectorizer_input_tokens_total")
    # Short texts keep the emulator's share of the work small; the shape of the
    # import is the issue's: 20,000 texts, 500 a request, 8 callers at once.
    texts = [f"share {i} w{i % 7}" for i in range(8_000)]
    answers = await _import(side.grpc_address, texts, 500, 8)

    calls = emu.stats()["by_service"]["bedrock"]["requests"]
    ideal = math.ceil(len(texts) / 96)
    assert calls <= 1.02 * ideal, f"{calls} upstream calls for {ideal} full batches"

    assert sorted(t for chunk, _ in answers for t in chunk) == sorted(texts)
    for chunk, response in answers[::7]:  # every request answers its own texts, in order
        got = np.stack([np.frombuffer(r.vector.packed, "<f4") for r in response.results])
        want = np.stack([deterministic_vector(t, 1024) for t in chunk])
        np.testing.assert_allclose(got, want, atol=1e-6)
    usage = sum(response.usage.input_tokens for _, response in answers)
    billed = _metric(side, "vectorizer_input_tokens_total") - tokens_before
    assert usage == billed > 0  # shared calls' tokens are shared out, none lost or doubled


async def test_a_bad_text_fails_alone_inside_shared_batches(servers) -> None:
    emu, side = servers
    emu.reset()
    emu.faults(fail_texts=["POISON"])
    texts = [f"poison run {i}" for i in range(600)]
    texts[250] = "poison run POISON here"
    try:
        answers = await _import(side.grpc_address, texts, 150, 4)
    finally:
        emu.faults(fail_texts=[])
    for chunk, response in answers:
        for text, result in zip(chunk, response.results, strict=True):
            if "POISON" in text:
                assert result.error.code == "MODEL_ERROR" and not result.error.retryable
            else:
                assert result.HasField("vector"), (text, result.error)


async def test_each_request_keeps_its_own_deadline_in_shared_calls(servers) -> None:
    emu, side = servers
    emu.reset()
    emu.faults(latency_ms=1500)
    patient = [f"patient {i}" for i in range(150)]
    hurried = [f"hurried {i}" for i in range(100)]
    try:
        async with grpc.aio.insecure_channel(side.grpc_address, options=OPTIONS) as channel:
            stub = pb_grpc.VectorizerStub(channel)

            def call(texts: list[str], timeout: float):
                request = pb.VectorizeRequest(texts=texts, config=COHERE)
                return stub.Vectorize(request, timeout=timeout)

            busy = asyncio.ensure_future(call([f"busy {i}" for i in range(10)], 30))
            await asyncio.sleep(0.1)
            slow = asyncio.ensure_future(call(patient, 30))
            await asyncio.sleep(0.1)  # its partial batch waits for company
            fast = await asyncio.gather(call(hurried, 0.8), return_exceptions=True)
            answer = await slow
            await busy
    finally:
        emu.faults(latency_ms=40)
    bodies = [r["body"]["texts"] for r in emu.requests() if r["service"] == "bedrock"]
    shared = [b for b in bodies if any(t.startswith("patient") for t in b)]
    assert any(t.startswith("hurried") for b in shared for t in b)  # one call carried both
    (outcome,) = fast
    # Every item of the hurried request timed out: the whole request says so.
    assert isinstance(outcome, grpc.aio.AioRpcError)
    assert outcome.code() in (grpc.StatusCode.DEADLINE_EXCEEDED,)
    assert all(r.HasField("vector") for r in answer.results) and len(answer.results) == 150
