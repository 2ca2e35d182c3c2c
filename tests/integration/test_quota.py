"""The adaptive limiter against the emulator's quotas, through the real
server: an untold per-second quota whose bucket starts empty (the first
calls are throttled), a quota halved mid-run, a tokens-per-minute quota.
Nothing is lost: every text of every request ends as its own vector."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np

from tests.support import Emulator, Sidecar, start_emulator, start_sidecar
from vectorizer.emulator.vectors import deterministic_vector
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

TITAN_V2 = pb.CollectionConfig(region="us-east-1", model="amazon.titan-embed-text-v2:0")


def texts_of(n: int, tag: str, words: int = 6) -> list[str]:
    return [
        " ".join([f"{tag}-{i}"] + [f"w{i % 97}x{k}" for k in range(words - 1)]) for i in range(n)
    ]


def import_all(side: Sidecar, texts: list[str], callers: int, batch: int) -> int:
    """Send every text in `batch`-sized Vectorize calls from `callers` threads;
    check each answer against its text; the count of vectors."""
    chunks = [texts[i : i + batch] for i in range(0, len(texts), batch)]

    def call(chunk: list[str]) -> int:
        with grpc.insecure_channel(side.grpc_address) as channel:
            stub = pb_grpc.VectorizerStub(channel)
            resp = stub.Vectorize(pb.VectorizeRequest(texts=chunk, config=TITAN_V2), timeout=120)
        assert len(resp.results) == len(chunk)
        for text, result in zip(chunk, resp.results, strict=True):
            assert result.HasField("vector"), (text, result.error)
            np.testing.assert_allclose(
                result.vector.values, deterministic_vector(text, 1024, True), atol=1e-6
            )
        return len(chunk)

    with ThreadPoolExecutor(callers) as pool:
        return sum(pool.map(call, chunks))


def metric(side: Sidecar, name: str) -> float:
    _, body = side.http_get("/metrics")
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in body.splitlines() if line.startswith(name + "{")
    )


def run(emu: Emulator, texts: list[str], during: threading.Thread | None = None) -> Sidecar:
    side = start_sidecar(emu, "--cache-max-bytes", "0", "--log-level", "warning")
    try:
        if during is not None:
            during.start()
        assert import_all(side, texts, callers=6, batch=100) == len(texts)
        if during is not None:
            during.join()
        return side
    except BaseException:
        side.terminate()
        raise


def test_an_empty_quota_bucket_at_the_start_loses_nothing() -> None:
    emu = start_emulator("--rps", "100", "--quota-start", "empty", "--latency-ms", "20")
    try:
        side = run(emu, texts_of(500, "empty-start"))
        try:
            stats = emu.stats()
            assert stats["throttled"] > 0  # the first calls met the empty bucket
            assert metric(side, "vectorizer_throttles_total") == stats["throttled"]
            # The rate did not collapse on those first throttles: it found the quota.
            assert metric(side, "vectorizer_limiter_rate_per_second") >= 50.0
        finally:
            side.terminate()
    finally:
        emu.stop()


def test_a_quota_halved_mid_run_loses_nothing() -> None:
    emu = start_emulator("--rps", "150", "--latency-ms", "20")

    def halve() -> None:
        time.sleep(1.5)
        emu.faults(rps=75)

    try:
        side = run(emu, texts_of(600, "halved"), during=threading.Thread(target=halve))
        try:
            assert emu.stats()["throttled"] > 0
            assert metric(side, "vectorizer_limiter_rate_per_second") <= 1.5 * 75
        finally:
            side.terminate()
    finally:
        emu.stop()


def test_a_token_quota_loses_nothing_and_counts_tokens() -> None:
    # The emulator counts whitespace words: 80 per text, 10,000 tokens/s.
    emu = start_emulator("--tpm", "600000", "--quota-start", "empty", "--latency-ms", "20")
    try:
        texts = texts_of(500, "tokens", words=80)
        side = run(emu, texts)
        try:
            assert emu.stats()["throttled"] > 0
            assert metric(side, "vectorizer_input_tokens_total") == 80 * len(texts)
        finally:
            side.terminate()
    finally:
        emu.stop()
