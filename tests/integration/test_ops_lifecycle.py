"""Lifecycle of a real sidecar process: SIGTERM and SIGINT drain (readiness
off, health NOT_SERVING, in-flight calls complete, exit 0), and a second
signal during a long drain exits at once (status 1: `os._exit(1)` in
server.request_stop). Calls are held in flight by the emulator's latency."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from concurrent.futures import Future

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support import Emulator, Sidecar, start_emulator, start_sidecar
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

pytestmark = pytest.mark.timeout(60)

TITAN = pb.CollectionConfig(
    service="bedrock", region="us-east-1", model="amazon.titan-embed-text-v2:0", dimensions=256
)


@pytest.fixture()
def sidecar_factory(emulator: Emulator) -> Iterator:
    started: list[Sidecar] = []

    def start(*args: str) -> Sidecar:
        side = start_sidecar(emulator, *args)
        started.append(side)
        return side

    yield start
    for side in started:
        if side.proc.poll() is None:
            side.proc.kill()
            side.proc.wait(timeout=10)


def wait_for(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def upstream_in_flight(side: Sidecar) -> float:
    """Calls the sidecar has sent to AWS (the emulator) and not yet got back."""
    _, body = side.http_get("/metrics")
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith("vectorizer_upstream_in_flight_calls{")
    )


def start_calls(stub: pb_grpc.VectorizerStub, count: int, tag: str) -> list[Future]:
    return [
        stub.Vectorize.future(
            pb.VectorizeRequest(texts=[f"in flight {tag} {i} {time.time_ns()}"], config=TITAN),
            timeout=30,
        )
        for i in range(count)
    ]


def health_status(channel: grpc.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=2).status


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_drains_in_flight_calls_and_exits_0(
    sig: signal.Signals, emulator: Emulator, sidecar_factory
) -> None:
    emulator.faults(latency_ms=800)
    side = sidecar_factory("--grace-period", "20")
    assert side.http_get("/readyz")[0] == 200
    with grpc.insecure_channel(side.grpc_address) as channel:
        assert health_status(channel) == health_pb2.HealthCheckResponse.SERVING
        calls = start_calls(pb_grpc.VectorizerStub(channel), 5, sig.name)
        # Every call has reached AWS (the emulator) before the signal.
        wait_for(lambda: upstream_in_flight(side) == 5, "5 upstream calls in flight")
        side.proc.send_signal(sig)

        # Draining: readiness and health say so while the calls are still running.
        wait_for(lambda: side.http_get("/readyz")[0] == 503, "/readyz 503")
        status, body = side.http_get("/readyz")
        assert status == 503 and '"draining"' in body
        assert side.http_get("/healthz")[0] == 200  # alive while draining
        assert not any(c.done() for c in calls), "calls should still be in flight"

        results = [c.result(timeout=20) for c in calls]
    assert all(r.results[0].HasField("vector") for r in results)
    assert side.proc.wait(timeout=20) == 0
    assert "drained" in side.logs


def test_health_reports_not_serving_during_drain(emulator: Emulator, sidecar_factory) -> None:
    emulator.faults(latency_ms=800)
    side = sidecar_factory("--grace-period", "20")
    with grpc.insecure_channel(side.grpc_address) as channel:
        call = start_calls(pb_grpc.VectorizerStub(channel), 1, "health")[0]
        wait_for(lambda: upstream_in_flight(side) == 1, "the upstream call in flight")
        side.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: side.http_get("/readyz")[0] == 503, "/readyz 503")
        # Health says NOT_SERVING, or (once grpc.aio's stop refuses new RPCs)
        # the check itself is refused: never SERVING while draining.
        try:
            status = health_status(channel)
        except grpc.RpcError as exc:
            assert exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
        else:
            assert status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert call.result(timeout=20).results[0].HasField("vector")
    assert side.proc.wait(timeout=20) == 0


@pytest.fixture()
def slow_emulator() -> Iterator[Emulator]:
    """An emulator of its own: its 15 s answers outlive the sidecar, and
    stopping it must not wait for them (the shared one would, at session end)."""
    emu = start_emulator("--latency-ms", "15000")
    yield emu
    emu.proc.kill()
    emu.proc.wait(timeout=10)


def test_second_signal_exits_at_once(slow_emulator: Emulator) -> None:
    side = start_sidecar(slow_emulator, "--grace-period", "30")
    with grpc.insecure_channel(side.grpc_address) as channel:
        call = start_calls(pb_grpc.VectorizerStub(channel), 1, "second")[0]
        wait_for(lambda: upstream_in_flight(side) == 1, "the upstream call in flight")
        side.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: side.http_get("/readyz")[0] == 503, "draining")
        started = time.monotonic()
        side.proc.send_signal(signal.SIGINT)
        try:
            code = side.proc.wait(timeout=5)
        finally:
            if side.proc.poll() is None:
                side.proc.kill()
        elapsed = time.monotonic() - started
        # Documented: the second signal skips the drain and exits with status 1.
        assert code == 1
        assert elapsed < 3
        with pytest.raises(grpc.RpcError) as err:
            call.result(timeout=10)
        assert err.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
    assert "second signal" in side.logs
