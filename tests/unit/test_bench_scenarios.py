"""The bench's physical limits (bench.scenarios) and its long texts (bench.workload).

The limits are the yardstick of issue 13's targets (wall time within 1.05x of
them), so their arithmetic is checked by hand-computed cases.
"""

from __future__ import annotations

import math

import pytest

from bench.scenarios import Quota, admit_time, calls_needed, physical_limit, scenarios
from bench.sidebyside import timeline_from_records
from bench.workload import COHERE, TITAN, make_texts


def test_admit_time_single_rate_from_empty() -> None:
    assert admit_time(600, [(0.0, 300.0)]) == pytest.approx(2.0)


def test_admit_time_initial_tokens_count_first() -> None:
    assert admit_time(600, [(0.0, 300.0)], initial=300) == pytest.approx(1.0)
    assert admit_time(100, [(0.0, 300.0)], initial=300) == 0.0


def test_admit_time_piecewise_rate() -> None:
    # 300/s for 10 s admits 3,000; the other 3,000 at 150/s take 20 s more.
    assert admit_time(6000, [(0.0, 300.0), (10.0, 150.0)]) == pytest.approx(30.0)
    # Done before the change: the later rate does not matter.
    assert admit_time(1500, [(0.0, 300.0), (10.0, 1.0)]) == pytest.approx(5.0)


def test_admit_time_never_when_rate_drops_to_zero() -> None:
    assert admit_time(10, [(0.0, 1.0), (2.0, 0.0)]) == math.inf


def test_limit_untold_empty_quota() -> None:
    assert physical_limit(6000, 0, Quota(rps=300)) == pytest.approx(20.0)


def test_limit_takes_the_background_share_off() -> None:
    assert physical_limit(6000, 0, Quota(rps=300, background=0.3)) == pytest.approx(6000 / 210)


def test_limit_halved_mid_run() -> None:
    quota = Quota(rps=300)
    assert physical_limit(6000, 0, quota, 10.0, Quota(rps=150)) == pytest.approx(30.0)
    assert physical_limit(4500, 0, quota, 7.5, Quota(rps=150)) == pytest.approx(22.5)
    # The change made late (10.5 s) lets 150 more calls through at the higher rate.
    assert physical_limit(6000, 0, quota, 10.5, Quota(rps=150)) == pytest.approx(30.0 - 0.5)


def test_limit_token_quota_binds_when_requests_are_generous() -> None:
    quota = Quota(rps=1000, tpm=2_400_000)
    # 800,000 tokens at 40,000 tokens/s: 20 s; 3,000 calls at 1,000/s: 3 s.
    assert physical_limit(3000, 800_000, quota) == pytest.approx(20.0)


def test_limit_full_bucket_starts_with_its_capacity() -> None:
    # rps: one second of rate already in the bucket.
    assert physical_limit(600, 0, Quota(rps=300, start="full")) == pytest.approx(1.0)
    # tpm: one minute of rate: the whole import fits.
    assert physical_limit(10, 60_000, Quota(tpm=60_000, start="full")) == 0.0
    # A background client slows the refill, not the first burst.
    quota = Quota(rps=300, start="full", background=0.5)
    assert physical_limit(600, 0, quota) == pytest.approx(2.0)


def test_quota_knobs_follow_the_emulator_interface() -> None:
    knobs = Quota(rps=300, tpm=1000, background=0.3).knobs()
    assert knobs == {
        "rps": 300,
        "rpm": 0.0,
        "tpm": 1000,
        "quota_start": "empty",
        "quota_background": 0.3,
    }


def test_scenarios_are_the_issue_s() -> None:
    full = {s.key: s for s in scenarios()}
    assert sorted(full) == list("abcdef")
    a = full["a"]
    assert (a.n, a.callers, a.latency_ms, a.quota) == (6000, 12, 40, Quota(rps=300))
    assert full["b"].quota == Quota(rps=300, background=0.3)
    c = full["c"]
    assert c.change is not None and c.change.quota.rps == 150
    assert c.change_seconds(4500, 0) == pytest.approx(7.5)
    assert full["d"].chars == 2000 and full["d"].quota is not None and full["d"].quota.tpm
    e = full["e"]
    assert (e.family, e.n, e.batch, e.callers, e.quota) == (COHERE, 20_000, 500, 8, None)
    assert calls_needed(COHERE, e.n) == 209
    assert full["f"].family == TITAN and full["f"].quota is None
    assert {s.key: s.n for s in scenarios(quick=True)}["a"] == 300


def test_long_texts_are_exact_distinct_and_deterministic() -> None:
    texts = make_texts(50, "p", chars=2000)
    assert all(len(t) == 2000 for t in texts)
    assert len(set(texts)) == 50
    assert texts == make_texts(50, "p", chars=2000)
    assert make_texts(3, "p") != texts[:3]


def test_timeline_bins_records_by_second_from_the_start() -> None:
    def rec(t: float, code: str | None = None) -> dict[str, object]:
        return {"time": 100.0 + t, "error_code": code}

    records = [rec(0.1), rec(0.5, "ThrottlingException"), rec(0.9), rec(1.2), rec(2.3), rec(-0.01)]
    timeline = timeline_from_records(records, 100.0, 102.5)
    assert timeline == [(1.0, 3, 1), (1.0, 1, 0), (pytest.approx(0.5), 1, 0)]
    assert timeline_from_records([], 5.0, 5.0) == [(1.0, 0, 0)]
