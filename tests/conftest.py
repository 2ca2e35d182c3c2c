"""Shared fixtures: a real emulator process and a real sidecar process."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from tests.support import (
    REDIS_SERVER,
    Emulator,
    RedisServer,
    Sidecar,
    start_emulator,
    start_redis,
    start_sidecar,
)
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc


@pytest.fixture(scope="session")
def aws_emulator() -> Iterator[Emulator]:
    emu = start_emulator()
    yield emu
    emu.stop()


@pytest.fixture()
def emulator(aws_emulator: Emulator) -> Iterator[Emulator]:
    """The shared emulator, with faults and records reset for each test."""
    aws_emulator.reset()
    yield aws_emulator
    aws_emulator.reset()


@pytest.fixture(scope="session")
def sidecar(aws_emulator: Emulator) -> Iterator[Sidecar]:
    side = start_sidecar(
        aws_emulator,
        "--collections",
        "examples/collections.json",
        "--endpoint-allowlist",
        aws_emulator.host_port,
    )
    yield side
    side.terminate()


@pytest.fixture()
def stub(sidecar: Sidecar) -> Iterator[pb_grpc.VectorizerStub]:
    with grpc.insecure_channel(sidecar.grpc_address) as channel:
        yield pb_grpc.VectorizerStub(channel)


@pytest.fixture()
def redis_server() -> Iterator[RedisServer]:
    """A redis-server of the test's own (skipped without the binary)."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server not installed (scripts/test-deps.sh installs it with apt-get)")
    server = start_redis()
    yield server
    server.stop()
