"""The bench's sidecar import, small: every vector right, nothing lost or repeated.

Runs `bench.sidecar.import_texts` (the code `make bench` times) against the
session emulator at the bench's latency and quota, without peers or the
bench venv, and checks every answer with `bench.workload.verify`.
"""

from __future__ import annotations

import math
import uuid

import pytest

from bench.sidecar import import_texts
from bench.workload import COHERE, TITAN, Family, make_texts, verify
from tests.support import Emulator, Sidecar

N = 500


@pytest.mark.parametrize("family", [TITAN, COHERE], ids=lambda f: f.key)
async def test_sidecar_import_loses_nothing(
    emulator: Emulator, sidecar: Sidecar, family: Family
) -> None:
    emulator.faults(latency_ms=40, rpm=30_000)
    texts = make_texts(N, f"bench-quick-{uuid.uuid4().hex}")
    batch = 100

    run = await import_texts(sidecar.grpc_address, family, texts, batch=batch, callers=4)

    tally = verify(texts, run.answers, family)
    assert tally.lost == 0, tally
    assert run.failed_calls == 0 and run.sent == N
    assert run.wall < 30
    # Distinct texts, no retries needed: at most one upstream call per batch of
    # a request, fewer where concurrent requests shared calls (Cohere), and never
    # fewer than full batches would take.
    calls_per_request = math.ceil(batch / family.max_batch)
    stats = emulator.stats()
    assert math.ceil(N / family.max_batch) <= stats["requests"] <= (N // batch) * calls_per_request
    assert stats["throttled"] == 0
