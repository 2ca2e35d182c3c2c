"""What bench.scale runs its replicas with: processes and a round-robin importer.

- `Upstream`: the emulator on one fixed port, restarted for a fresh quota bucket.
- `Fleet`: replicas on 127.0.0.1, .2, ... (one port) behind a headless-Service-like
  DNS name (tests/headless.py), one round-robin client over that name, and
  scaling up and down as an autoscaler does.
- `import_all(fleet, texts, events)`: every text through the fleet's client by
  CALLERS concurrent callers; each event starts once its share of the requests
  was sent; answers kept per item for checking.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Sequence

import grpc
import numpy as np

from bench.sidecar import config_for
from bench.workload import TITAN, Answer
from tests.headless import HeadlessDns
from tests.support import Emulator, Sidecar, metric, start_emulator, start_sidecar
from vectorizer.client import AsyncVectorizerClient, EmbeddingError, RetryPolicy, channel_options

BATCH = 100
CALLERS = 12
# A caller retries an item the sidecar gave up on (a retryable item error)
# like a vector DB's import would.
CLIENT_RETRY = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=5.0)
# A client looks the DNS name up again at most every second (with the
# replicas' --max-connection-age 5 in bench.scale: a replica added is in use
# within seconds; a deployment would use a minute and the 30 s default, the
# same mechanism, slower).
RESOLVE_EVERY_MS = 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Upstream:
    """The emulator on one fixed port, restarted for a fresh quota bucket."""

    def __init__(self, args: Sequence[str]):
        self.args = list(args)
        self.port = free_port()
        self.emu: Emulator = start_emulator(*self.args, port=self.port)

    def restart(self) -> None:
        self.emu.stop()
        self.emu = start_emulator(*self.args, port=self.port)

    def stop(self) -> None:
        self.emu.stop()


class Fleet:
    """Replicas on 127.0.0.1, .2, ... (one port) behind a headless-Service-like
    DNS name, and one round-robin client over that name. Scaling changes the
    DNS answer; the client finds out as Kubernetes clients do: connections
    age out (--max-connection-age) and the name is looked up again."""

    def __init__(self, upstream: Upstream, args: Sequence[str]):
        self.upstream = upstream
        self.args = list(args)
        self.port = free_port()
        self.dns = HeadlessDns()
        self.replicas: dict[str, Sidecar] = {}
        self.next_ip = 1
        self.client: AsyncVectorizerClient | None = None
        self._channel: grpc.aio.Channel | None = None
        self.gone: dict[str, float] = {}  # Vectorize calls served by replicas removed

    def served(self) -> dict[str, float]:
        """Vectorize calls each replica (by address) has served so far."""
        live = {
            ip: metric(side.http_get("/metrics")[1], "vectorizer_grpc_requests_total")
            for ip, side in self.replicas.items()
        }
        return {**self.gone, **live}

    def add(self) -> Sidecar:
        """A new replica, listed in DNS once it listens (as a pod once ready)."""
        ip = f"127.0.0.{self.next_ip}"
        self.next_ip += 1
        side = start_sidecar(self.upstream.emu, *self.args, "--grpc-address", f"{ip}:{self.port}")
        self.replicas[ip] = side
        self.dns.set(list(self.replicas))
        return side

    def connect(self) -> AsyncVectorizerClient:
        options = [*channel_options(round_robin=True), ("grpc.dns_min_time_between_resolutions_ms",
                   RESOLVE_EVERY_MS)]  # fmt: skip
        channel = grpc.aio.insecure_channel(self.dns.target(self.port), options=options)
        self.client = AsyncVectorizerClient(
            channel=channel, config=config_for(TITAN), retry=CLIENT_RETRY, timeout=300
        )
        self._channel = channel
        return self.client

    async def scale_up(self) -> None:
        await asyncio.to_thread(self.add)

    async def scale_down(self) -> None:
        """The oldest replica leaves the DNS answer, then gets SIGTERM and drains."""
        ip = next(iter(self.replicas))
        side = self.replicas.pop(ip)
        self.dns.set(list(self.replicas))
        # Its count as it leaves (calls still in flight on it not included).
        _, body = await asyncio.to_thread(side.http_get, "/metrics")
        self.gone[ip] = metric(body, "vectorizer_grpc_requests_total")
        await asyncio.to_thread(side.terminate)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        for side in self.replicas.values():
            side.terminate()
        self.replicas.clear()
        self.dns.stop()


Event = tuple[float, Callable[[], Awaitable[object]]]


async def import_all(
    fleet: Fleet, texts: Sequence[str], events: Sequence[Event] = ()
) -> tuple[float, list[Answer]]:
    """Every text through the fleet's newest client; each event starts (calls
    go on meanwhile) once that fraction of the requests has been sent."""
    chunks = [(i, list(texts[i : i + BATCH])) for i in range(0, len(texts), BATCH)]
    total = len(chunks)
    answers: list[Answer] = [None] * len(texts)
    pending = list(events)
    sent = 0
    background: list[asyncio.Task[object]] = []
    client = fleet.client or fleet.connect()

    async def caller() -> None:
        nonlocal sent
        while chunks:
            start, chunk = chunks.pop(0)
            sent += 1
            while pending and sent >= pending[0][0] * total:
                background.append(asyncio.create_task(pending.pop(0)[1]()))
            try:
                vectors: Sequence[list[float] | None] = await client.embed(chunk)
                errors: dict[int, str] = {}
            except EmbeddingError as exc:
                vectors = exc.vectors
                errors = {f.index: f"{f.code}: {f.message}" for f in exc.failures}
            except Exception as exc:  # noqa: BLE001 - a refused request: every item lost
                vectors, errors = [], {k: repr(exc) for k in range(len(chunk))}
            for k in range(len(chunk)):
                v = vectors[k] if k < len(vectors) else None
                answers[start + k] = errors.get(k) if v is None else np.asarray(v, np.float32)

    t0 = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(CALLERS)))
    wall = time.perf_counter() - t0
    await asyncio.gather(*background)
    return wall, answers
