"""Client-side round robin over three real replicas on loopback.

Each replica is its own sidecar process; which one served a call is read
from its own /metrics. The default policy (pick_first) sends every call of
a channel to one replica: the problem round robin solves. The headless
Service case runs replicas on 127.0.0.1-3 behind a DNS server of the test's
own (tests/headless.py).
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import Iterator

import grpc
import pytest

from tests.headless import HeadlessDns
from tests.support import Emulator, Sidecar, metric, start_emulator, start_sidecar
from vectorizer.client import (
    AsyncVectorizerClient,
    RetryPolicy,
    VectorizerClient,
    channel_options,
)
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

REPLICAS = 3
CALLS = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def replicas(aws_emulator: Emulator) -> Iterator[list[Sidecar]]:
    started: list[Sidecar] = []
    try:
        for _ in range(REPLICAS):
            started.append(
                start_sidecar(aws_emulator, "--collections", "examples/collections.json")
            )
        yield started
    finally:
        for side in started:
            side.terminate()


def served(replicas: list[Sidecar]) -> list[float]:
    """Vectorize calls each replica has answered so far."""
    return [
        metric(side.http_get("/metrics")[1], "vectorizer_grpc_requests_total", method="Vectorize")
        for side in replicas
    ]


def spread(before: list[float], after: list[float]) -> list[float]:
    return [b - a for a, b in zip(before, after, strict=True)]


def test_round_robin_spreads_calls_over_every_replica(replicas: list[Sidecar]) -> None:
    before = served(replicas)
    with VectorizerClient(
        [side.grpc_address for side in replicas], collection="Articles"
    ) as client:
        for i in range(CALLS):
            assert len(client.embed([f"rr {i}"])[0]) == 512
    counts = spread(before, served(replicas))
    assert sum(counts) == CALLS
    # In turn once every subchannel is up: 10 each; the first calls may go to
    # the first replica to connect.
    assert min(counts) >= CALLS / REPLICAS / 2, counts


async def test_async_client_round_robin(replicas: list[Sidecar]) -> None:
    before = served(replicas)
    async with AsyncVectorizerClient(
        [side.grpc_address for side in replicas], collection="Articles"
    ) as client:
        for i in range(CALLS):
            assert len((await client.embed([f"async rr {i}"]))[0]) == 512
    counts = spread(before, served(replicas))
    assert sum(counts) == CALLS and min(counts) >= CALLS / REPLICAS / 2, counts


def test_without_round_robin_one_connection_pins_one_replica(replicas: list[Sidecar]) -> None:
    before = served(replicas)
    target = "ipv4:" + ",".join(side.grpc_address for side in replicas)
    with grpc.insecure_channel(target, options=channel_options(round_robin=False)) as channel:
        stub = pb_grpc.VectorizerStub(channel)
        for i in range(CALLS):
            stub.Vectorize(pb.VectorizeRequest(texts=[f"pinned {i}"], collection="Articles"))
    assert sorted(spread(before, served(replicas))) == [0, 0, CALLS]


def test_a_headless_service_name_spreads_and_follows_scaling(aws_emulator: Emulator) -> None:
    """One DNS name answering with every ready replica (a headless Service):
    calls spread over them; a replica added is found once connections age out
    (--max-connection-age) and the name is looked up again; a replica removed
    from the answer and drained costs no call."""
    dns = HeadlessDns()
    port = free_port()
    sides: dict[str, Sidecar] = {}

    def up(ip: str) -> None:
        sides[ip] = start_sidecar(
            aws_emulator,
            "--grpc-address", f"{ip}:{port}", "--max-connection-age", "1",
            "--grace-period", "5", "--collections", "examples/collections.json",
        )  # fmt: skip

    def calls(ip: str) -> float:
        return metric(sides[ip].http_get("/metrics")[1], "vectorizer_grpc_requests_total")

    try:
        up("127.0.0.1")
        up("127.0.0.2")
        dns.set(["127.0.0.1", "127.0.0.2"])
        options = [
            *channel_options(round_robin=True),
            ("grpc.dns_min_time_between_resolutions_ms", 500),
        ]
        with VectorizerClient(
            channel=grpc.insecure_channel(dns.target(port), options=options), collection="Articles"
        ) as client:
            for i in range(20):
                client.embed([f"headless {i}"])
            assert calls("127.0.0.1") >= 5 and calls("127.0.0.2") >= 5

            up("127.0.0.3")  # the autoscaler's new pod, ready: DNS lists it
            dns.set(["127.0.0.1", "127.0.0.2", "127.0.0.3"])
            deadline = time.monotonic() + 20
            while calls("127.0.0.3") < 3 and time.monotonic() < deadline:
                client.embed(["after scale-up"])
                time.sleep(0.05)
            assert calls("127.0.0.3") >= 3

            dns.set(["127.0.0.2", "127.0.0.3"])  # scale-down: out of DNS, then SIGTERM
            assert sides["127.0.0.1"].terminate() == 0
            for i in range(20):
                assert len(client.embed([f"after scale-down {i}"])[0]) == 512
        assert dns.queries >= 3
    finally:
        for side in sides.values():
            side.terminate()
        dns.stop()


def test_a_replica_that_stops_is_skipped(aws_emulator: Emulator) -> None:
    """A replica drained mid-stream (SIGTERM, as at a scale-down) costs no call."""
    pair = [start_sidecar(aws_emulator, "--collections", "examples/collections.json")
            for _ in range(2)]  # fmt: skip
    try:
        with VectorizerClient([s.grpc_address for s in pair], collection="Articles") as client:
            for i in range(10):
                client.embed([f"both {i}"])
            assert pair[0].terminate() == 0
            for i in range(10):
                assert len(client.embed([f"one left {i}"])[0]) == 512
        assert metric(pair[1].http_get("/metrics")[1], "vectorizer_grpc_requests_total") >= 10
    finally:
        for side in pair:
            side.terminate()


async def test_a_replica_drained_under_a_burst_costs_no_call() -> None:
    """SIGTERM reaches a replica while a burst of calls arrives: the calls it
    had received but not started are cancelled by its gRPC server (status
    CANCELLED), the later ones refused (UNAVAILABLE); the client sends both
    again, to the replica left, and every text gets its vector."""
    slow = start_emulator("--latency-ms", "200")  # calls stay in flight at the signal
    pair = [start_sidecar(slow, "--collections", "examples/collections.json")
            for _ in range(2)]  # fmt: skip
    try:
        async with AsyncVectorizerClient(
            [s.grpc_address for s in pair],
            collection="Articles",
            retry=RetryPolicy(max_attempts=4, base_delay=0.05),
        ) as client:
            await client.embed(["warm both"])
            await client.embed(["warm both again"])

            async def one(i: int) -> int:
                return len(await client.embed([f"burst {i} {k}" for k in range(5)]))

            calls = [asyncio.create_task(one(i)) for i in range(40)]  # at once
            await asyncio.sleep(0.005)  # on their way, most not started yet
            pair[0].proc.send_signal(signal.SIGTERM)
            for i in range(40, 60):
                calls.append(asyncio.create_task(one(i)))
                await asyncio.sleep(0.002)
            assert await asyncio.gather(*calls) == [5] * 60
        assert pair[0].proc.wait(timeout=30) == 0
    finally:
        for side in pair:
            side.terminate()
        slow.stop()


def test_max_connection_age_makes_clients_reconnect(aws_emulator: Emulator) -> None:
    """--max-connection-age: the server closes old connections (GOAWAY), so a
    client re-resolves its target and reaches replicas added since."""
    side = start_sidecar(aws_emulator, "--max-connection-age", "1", "--grace-period", "1")
    states: list[grpc.ChannelConnectivity] = []
    try:
        with grpc.insecure_channel(side.grpc_address) as channel:
            channel.subscribe(states.append, try_to_connect=True)
            grpc.channel_ready_future(channel).result(timeout=10)
            stub = pb_grpc.VectorizerStub(channel)
            stub.GetMeta(pb.GetMetaRequest(), timeout=10)
            ready_at = states.index(grpc.ChannelConnectivity.READY)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if grpc.ChannelConnectivity.IDLE in states[ready_at:]:
                    break
                time.sleep(0.1)
            assert grpc.ChannelConnectivity.IDLE in states[ready_at:], states
            # The channel connects again on the next call.
            stub.GetMeta(pb.GetMetaRequest(), timeout=10)
    finally:
        side.terminate()
