"""The soak in small: `bench.soak` for 20 s at 10 calls/s, same invariants, looser bounds.

A real emulator and sidecar: steady mixed import/query traffic with a 2 MiB
cache that fills and evicts, samples of RSS, fds, sockets and latency, then
SIGTERM with calls in flight. The full run is `make soak` (bench/SOAK.md).
"""

from __future__ import annotations

import math
import os
from dataclasses import replace

import pytest

from bench.soak import (
    Bounds,
    SoakConfig,
    SoakResult,
    judge,
    percentile,
    read_process,
    render,
    run_soak,
)

pytestmark = pytest.mark.timeout(90)

# Twenty seconds leave less time to amortise start-up noise than five minutes do.
LOOSE = Bounds(rss_growth_fraction=0.10, rss_growth_floor_mib=24.0, fd_growth=16, socket_growth=16)


@pytest.fixture(scope="module")
def quick() -> SoakResult:
    return run_soak(SoakConfig.quick(seconds=20), "pytest quick soak")


def test_quick_soak_plateaus_and_loses_nothing_on_sigterm(quick: SoakResult) -> None:
    verdict = judge(quick, LOOSE)
    assert verdict.passed, verdict.checks

    samples = quick.samples
    assert len(samples) == 10  # one every 2 s
    assert all(s.rss_mib > 10 and s.fds > 0 and s.sockets > 0 for s in samples)
    assert all(s.failed == 0 and s.calls > 0 for s in samples)
    assert all(not math.isnan(s.query_p99_ms) for s in samples)
    assert quick.recorder.calls["import"] > 0 and quick.recorder.calls["query"] > 0
    assert quick.recorder.verified_calls > 0
    stop = quick.shutdown
    assert stop is not None and stop.exit_code == 0
    assert stop.completed_ok == stop.calls == quick.config.shutdown_calls

    report = render(quick, verdict, LOOSE)
    assert "## Verdict: PASS" in report
    assert report.count("\n| ") >= len(samples) + len(verdict.checks)


def test_judge_fails_a_growing_process(quick: SoakResult) -> None:
    # The verdict is no rubber stamp: the same run, with RSS and fds inflated at
    # the end, fails the plateau and stability checks and nothing else.
    samples = [
        replace(s, rss_mib=s.rss_mib + 64, fds=s.fds + 40) if i >= len(quick.samples) - 3 else s
        for i, s in enumerate(quick.samples)
    ]
    grown = replace(quick, samples=samples)
    failed = {what for what, ok, _ in judge(grown, LOOSE).checks if not ok}
    assert failed == {"RSS plateau (second half)", "open fds stable"}


def test_helpers() -> None:
    assert math.isnan(percentile([], 50))
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0
    reading = read_process(os.getpid())
    assert reading.rss_mib > 1 and reading.fds >= 3
