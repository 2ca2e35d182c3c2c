"""Issue 13's (g): the sidecar's latency over a direct signed call, measured in pairs.

`paired_calls(address, emulator_url, prefix, pairs, concurrency)`: each of
`concurrency` callers takes pair after pair and makes both calls of a pair
back to back, a direct SigV4-signed aiohttp POST to the emulator (parsing the
JSON answer, as a caller must) and a single-text PURPOSE_QUERY Vectorize call
to the sidecar, alternating which goes first. Both paths thus see the same
machine load at the same moments (two cores shared with every other process
of the bench): a difference of their percentiles is the sidecar's overhead,
not a change of load between two blocks of calls. Distinct texts: no cache
hits.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import grpc

from bench.sidecar import CHANNEL_OPTIONS, config_for
from bench.signed import AiohttpPoster, titan_body
from bench.stats import Latency, percentile
from bench.workload import TITAN, make_texts
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc


@dataclass
class PairedRun:
    concurrency: int
    direct: list[float] = field(default_factory=list)
    sidecar: list[float] = field(default_factory=list)
    differences: list[float] = field(default_factory=list)  # sidecar - direct, per pair
    errors: int = 0
    wall: float = 0.0


async def paired_calls(
    address: str, emulator_url: str, prefix: str, pairs: int, concurrency: int
) -> PairedRun:
    direct_texts = make_texts(pairs, f"{prefix}-direct")
    sidecar_texts = make_texts(pairs, f"{prefix}-sidecar")
    run = PairedRun(concurrency)
    poster = AiohttpPoster(emulator_url)
    config = config_for(TITAN)
    todo = iter(range(pairs))
    try:
        async with grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS) as channel:
            stub = pb_grpc.VectorizerStub(channel)
            await channel.channel_ready()

            async def direct(i: int) -> float | None:
                began = time.perf_counter()
                try:
                    status, _ = await poster.invoke(TITAN.model, titan_body(direct_texts[i]))
                except Exception:  # noqa: BLE001 - counted, the run goes on
                    return None
                return time.perf_counter() - began if status == 200 else None

            async def sidecar(i: int) -> float | None:
                request = pb.VectorizeRequest(
                    texts=[sidecar_texts[i]], purpose=pb.PURPOSE_QUERY, config=config
                )
                began = time.perf_counter()
                try:
                    response = await stub.Vectorize(request, timeout=30)
                except grpc.aio.AioRpcError:
                    return None
                ok = response.results[0].HasField("vector")
                return time.perf_counter() - began if ok else None

            async def caller() -> None:
                for i in todo:
                    if i % 2 == 0:
                        d = await direct(i)
                        s = await sidecar(i)
                    else:
                        s = await sidecar(i)
                        d = await direct(i)
                    if d is None or s is None:
                        run.errors += 1
                        continue
                    run.direct.append(d)
                    run.sidecar.append(s)
                    run.differences.append(s - d)

            started = time.perf_counter()
            await asyncio.gather(*(caller() for _ in range(concurrency)))
            run.wall = time.perf_counter() - started
    finally:
        await poster.close()
    return run


# Sidecar histograms whose means split a query's time (vectorizer/metrics.py).
GRPC_TIME = "vectorizer_grpc_request_duration_seconds"
UPSTREAM_TIME = "vectorizer_upstream_call_duration_seconds"
LIMITER_WAIT = "vectorizer_limiter_wait_seconds"


def _mean(before: dict[str, float], after: dict[str, float], histogram: str) -> float:
    count = after.get(histogram + "_count", 0.0) - before.get(histogram + "_count", 0.0)
    total = after.get(histogram + "_sum", 0.0) - before.get(histogram + "_sum", 0.0)
    return total / count if count else float("nan")


@dataclass(frozen=True)
class Breakdown:
    """Where a sidecar query's time went, in means over a cell (seconds): the client's
    latency = gRPC transport + the server's handler; the handler = limiter wait +
    the upstream call + the rest (service, engine, cache, response)."""

    client: float  # mean latency the client saw through the sidecar
    handler: float  # mean server-side time of a Vectorize call
    limiter_wait: float
    upstream: float  # mean upstream call inside the sidecar (sign, HTTP, parse, check)
    direct: float  # mean latency of the direct signed call

    @property
    def transport(self) -> float:
        return self.client - self.handler

    @property
    def rest(self) -> float:
        return self.handler - self.limiter_wait - self.upstream

    @classmethod
    def of(cls, run: PairedRun, before: dict[str, float], after: dict[str, float]) -> Breakdown:
        return cls(
            client=sum(run.sidecar) / len(run.sidecar) if run.sidecar else float("nan"),
            handler=_mean(before, after, GRPC_TIME),
            limiter_wait=_mean(before, after, LIMITER_WAIT),
            upstream=_mean(before, after, UPSTREAM_TIME),
            direct=sum(run.direct) / len(run.direct) if run.direct else float("nan"),
        )

    def describe(self) -> str:
        ms = 1e3
        return (
            f"means: {self.client * ms:.2f} ms through the sidecar = gRPC transport "
            f"{self.transport * ms:.2f} + limiter wait {self.limiter_wait * ms:.2f} + upstream "
            f"call {self.upstream * ms:.2f} (direct call {self.direct * ms:.2f}) + the rest "
            f"of the handler {self.rest * ms:.2f}"
        )


@dataclass(frozen=True)
class Overhead:
    """The figures of one `PairedRun`, plus the CPU the sidecar and emulator used."""

    concurrency: int
    direct: Latency
    sidecar: Latency
    paired_median: float  # median of the per-pair differences
    errors: int
    sidecar_cpu: float
    emulator_cpu: float
    wall: float
    breakdown: Breakdown | None = None

    @property
    def p50(self) -> float:
        return self.sidecar.p50 - self.direct.p50

    @property
    def p99(self) -> float:
        return self.sidecar.p99 - self.direct.p99

    @classmethod
    def of(
        cls,
        run: PairedRun,
        sidecar_cpu: float,
        emulator_cpu: float,
        breakdown: Breakdown | None = None,
    ) -> Overhead:
        return cls(
            run.concurrency,
            Latency.of(run.direct),
            Latency.of(run.sidecar),
            percentile(run.differences, 50),
            run.errors,
            sidecar_cpu,
            emulator_cpu,
            run.wall,
            breakdown,
        )
