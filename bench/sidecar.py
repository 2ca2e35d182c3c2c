"""gRPC callers of the sidecar: an import and single-text queries.

- `import_texts`: `callers` concurrent callers send `batch`-sized Vectorize
  calls (PURPOSE_DOCUMENT) until every text was sent; answers are kept as
  responses and decoded only after the clock stops.
- `query_latencies`: `concurrency` callers, one text per PURPOSE_QUERY call,
  each call timed from the client.
- `sync_cache_hits`: one caller on the blocking gRPC client (its own cost is
  lower than the asyncio client's), one text per call; also `sync_floor`,
  the same client's health Check: the gRPC round trip with no work in it.
- `scrape(http_url)`: the sidecar's Prometheus metrics, each sample name
  summed over its labels (deltas of two scrapes give a phase's figures).
- `config_for(family)`: the inline collection config of a family (defaults).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import grpc
import numpy as np

from bench.workload import TITAN as TITAN_FOR_CACHE
from bench.workload import Answer, Family
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

REGION = "us-east-1"
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


def config_for(family: Family) -> pb.CollectionConfig:
    return pb.CollectionConfig(service="bedrock", region=REGION, model=family.model)


@dataclass
class ImportRun:
    wall: float
    answers: list[Answer]
    calls: int
    failed_calls: int
    sent: int  # texts sent: texts[:sent] (chunks are taken in order, all awaited)
    error_codes: dict[str, int] = field(default_factory=dict)


def _decode(response: pb.VectorizeResponse, count: int) -> list[Answer]:
    out: list[Answer] = []
    for result in response.results:
        if result.HasField("vector"):
            out.append(np.asarray(result.vector.values, dtype=np.float32))
        else:
            out.append(f"{result.error.code}: {result.error.message}")
    out.extend([None] * (count - len(out)))  # a short answer leaves items missing
    return out[:count]


async def import_texts(
    address: str,
    family: Family,
    texts: Sequence[str],
    *,
    batch: int,
    callers: int,
    timeout: float = 300.0,
    stop: asyncio.Event | None = None,
    finished: Callable[[], None] | None = None,
) -> ImportRun:
    """Send every text (or, with `stop`, until it is set); unsent texts stay None.
    `finished` is called when the last answer is in, before answers are decoded."""
    chunks = [(i, list(texts[i : i + batch])) for i in range(0, len(texts), batch)]
    responses: list[tuple[int, int, pb.VectorizeResponse | str]] = []
    config = config_for(family)
    next_chunk = iter(chunks)

    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        stub = pb_grpc.VectorizerStub(channel)

        async def caller() -> None:
            for start, chunk in next_chunk:
                if stop is not None and stop.is_set():
                    return
                request = pb.VectorizeRequest(
                    texts=chunk, purpose=pb.PURPOSE_DOCUMENT, config=config
                )
                try:
                    response = await stub.Vectorize(request, timeout=timeout)
                    responses.append((start, len(chunk), response))
                except grpc.aio.AioRpcError as exc:
                    responses.append((start, len(chunk), f"{exc.code().name}: {exc.details()}"))

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(callers)))
        wall = time.perf_counter() - started
        if finished is not None:
            finished()

    answers: list[Answer] = [None] * len(texts)
    failed = 0
    codes: dict[str, int] = {}
    for start, count, response in responses:
        if isinstance(response, str):
            failed += 1
            decoded: list[Answer] = [response] * count
        else:
            decoded = _decode(response, count)
        for offset, answer in enumerate(decoded):
            answers[start + offset] = answer
            if isinstance(answer, str):
                code = answer.split(":", 1)[0]
                codes[code] = codes.get(code, 0) + 1
    sent = sum(count for _, count, _ in responses)
    return ImportRun(wall, answers, len(responses), failed, sent, codes)


@dataclass
class QueryRun:
    latencies: list[float]
    errors: int
    wall: float


async def query_latencies(
    address: str,
    family: Family,
    texts: Sequence[str],
    *,
    concurrency: int,
    purpose: pb.Purpose = pb.PURPOSE_QUERY,
    timeout: float = 30.0,
) -> QueryRun:
    config = config_for(family)
    latencies: list[float] = []
    errors = 0
    todo = iter(texts)
    async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        stub = pb_grpc.VectorizerStub(channel)
        await channel.channel_ready()

        async def caller() -> None:
            nonlocal errors
            for text in todo:
                request = pb.VectorizeRequest(texts=[text], purpose=purpose, config=config)
                began = time.perf_counter()
                try:
                    response = await stub.Vectorize(request, timeout=timeout)
                    ok = response.results[0].HasField("vector")
                except grpc.aio.AioRpcError:
                    ok = False
                if ok:
                    latencies.append(time.perf_counter() - began)
                else:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return QueryRun(latencies, errors, wall)


def sync_cache_hits(address: str, texts: Sequence[str]) -> QueryRun:
    """Single-text PURPOSE_DOCUMENT calls, one at a time, on the blocking client."""
    config = config_for(TITAN_FOR_CACHE)
    latencies: list[float] = []
    errors = 0
    with grpc.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
        stub = pb_grpc.VectorizerStub(channel)
        started = time.perf_counter()
        for text in texts:
            request = pb.VectorizeRequest(texts=[text], purpose=pb.PURPOSE_DOCUMENT, config=config)
            began = time.perf_counter()
            try:
                ok = stub.Vectorize(request, timeout=30).results[0].HasField("vector")
            except grpc.RpcError:
                ok = False
            if ok:
                latencies.append(time.perf_counter() - began)
            else:
                errors += 1
        wall = time.perf_counter() - started
    return QueryRun(latencies, errors, wall)


def sync_floor(address: str, n: int) -> list[float]:
    """Latencies of `n` grpc.health.v1 Check calls on the same blocking client."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    latencies = []
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for _ in range(n):
            began = time.perf_counter()
            stub.Check(health_pb2.HealthCheckRequest(), timeout=30)
            latencies.append(time.perf_counter() - began)
    return latencies


def scrape(http_url: str) -> dict[str, float]:
    """GET /metrics; sample name -> value summed over label sets."""
    import urllib.request

    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(http_url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if "le" in sample.labels or "quantile" in sample.labels:
                continue
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals
