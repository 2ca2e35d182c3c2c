"""The bench's code paths, small: every vector right, nothing lost or repeated.

Runs `bench.sidecar.import_texts` (the code `make bench` times), the
scenario runner of issue 13 (`bench.sidebyside`, sidecar only: the boto3
pools need the bench venv) and the paired overhead calls against the session
emulator, and checks every answer with `bench.workload.verify`.
"""

from __future__ import annotations

import math
import uuid

import pytest

from bench.scenarios import CPU, QUOTA, Quota, Scenario
from bench.sidebyside import SIDECAR, Stage, run_overhead, run_scenario
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


def _stage(emulator: Emulator) -> Stage:
    return Stage(emulator, None, f"t{uuid.uuid4().hex[:8]}", lambda _: None, clients=(SIDECAR,))


def test_scenario_harness_measures_a_sidecar_run(emulator: Emulator) -> None:
    """`make bench`'s scenario runner on a small CPU scenario: a fresh sidecar, counters
    from the emulator, a per-second timeline that adds up to them, CPU of both."""
    scenario = Scenario("f", "smoke", CPU, TITAN, 200, latency_ms=10)

    result = run_scenario(_stage(emulator), scenario)

    assert result.failure == ""
    run = result.run(SIDECAR)
    assert run is not None
    assert run.tally.ok == 200 and run.tally.lost == 0, run.tally
    assert (run.upstream_calls, run.throttled, run.upstream_errors) == (200, 0, 0)
    assert sum(accepted for _, accepted, _ in run.timeline) == 200
    assert sum(seconds for seconds, _, _ in run.timeline) >= run.wall
    assert run.client_cpu > 0 and run.emulator_cpu > 0
    assert run.limit is None
    assert emulator.faults()["latency_ms"] == 0  # the scenario's knobs were reset afterwards


def test_scenario_harness_against_an_empty_quota(emulator: Emulator) -> None:
    """A request quota whose bucket starts empty: no client can beat the physical limit,
    and every throttle the emulator counted is one the report counts."""
    quota = Quota(rps=100, start="empty")
    scenario = Scenario("a", "smoke", QUOTA, TITAN, 200, latency_ms=10, quota=quota)

    result = run_scenario(_stage(emulator), scenario)

    run = result.run(SIDECAR)
    assert result.failure == "" and run is not None
    assert run.tally.lost == 0, run.tally
    assert run.limit == pytest.approx(2.0)
    assert run.wall >= 0.95 * run.limit
    assert run.accepted == 200
    assert sum(t for _, _, t in run.timeline) == run.throttled


def test_overhead_pairs_both_paths(emulator: Emulator) -> None:
    """(g)'s paired calls: every pair has both latencies, the figures are finite."""
    cells = run_overhead(_stage(emulator), quick=True)

    assert [c.concurrency for c in cells] == [1, 64]
    for cell in cells:
        assert cell.errors == 0
        assert cell.sidecar.n == cell.direct.n > 0
        assert math.isfinite(cell.p50) and math.isfinite(cell.paired_median)
        # The sidecar's histograms account for its side: a query's handler time holds
        # its upstream call, and the client saw at least the handler's time.
        b = cell.breakdown
        assert b is not None
        assert 0 < b.upstream <= b.handler <= b.client
