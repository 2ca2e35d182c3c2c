"""The pure parts of the shared budget: rounds scaled to the fleet, the
fallback buckets at a replica's share, comparing rates."""

from __future__ import annotations

import pytest

from vectorizer.ratelimit import Cost, Rates, Round
from vectorizer.ratelimit.shares import (
    SHARE_WINDOW_SECONDS,
    FallbackBuckets,
    ShareMeter,
    lowered,
    scale_round,
)


def test_a_scaled_round_scales_volumes_and_rates_not_sample_sizes() -> None:
    r = Round(0.2, 40, 10, 30, 400.0, 100.0, True, saturated=0.1, saturated_calls_ok=10,
              saturated_answers=40)  # fmt: skip
    s = scale_round(r, 3.0)
    assert s.calls_sent == 120 and s.tokens_sent == 1200.0 and s.tokens_ok == 300.0
    assert (s.calls_ok, s.calls_throttled, s.answers) == (10, 30, 40)
    assert s.measured_saturated == r.measured_saturated
    assert s.delivered_calls() == pytest.approx(3 * r.delivered_calls())
    assert s.delivered_tokens() == pytest.approx(3 * r.delivered_tokens())
    assert scale_round(r, 1.0) is r


def test_a_handful_of_answers_is_no_measure_once_scaled() -> None:
    # 6 answers in the saturated part, none accepted: too few to measure,
    # scaled or not (scaled counts would read as a quota of 0).
    r = Round(0.1, 4, 15, 32, saturated=0.025, saturated_calls_ok=0, saturated_answers=6)
    s = scale_round(r, 3.0)
    assert not s.measured_saturated
    assert s.delivered_calls() == pytest.approx(3 * 15 / 0.1)


def test_fallback_buckets_pace_at_the_share() -> None:
    fb = FallbackBuckets(Rates(100.0, 1000.0), 0.25, now=0.0)
    assert fb.take(Cost(1.0), now=0.0) > 0.0  # starts empty: conservative
    granted = sum(fb.take(Cost(1.0, 10.0), now=1.0 + i * 1e-6) == 0.0 for i in range(100))
    assert granted == 6  # 25 calls/s: a quarter second of burst
    fb.set(Rates(40.0, None), now=1.0, cut=True)
    assert fb.requests.rate == 10.0 and fb.requests.level <= 0.0


def test_rates_compare() -> None:
    assert lowered(Rates(10.0), Rates(9.0)) and not lowered(Rates(10.0), Rates(11.0))
    assert lowered(Rates(10.0, None), Rates(10.0, 500.0))  # a token limit appears


def test_the_share_is_our_grants_over_everyones_lately() -> None:
    m = ShareMeter(0.5)
    assert m.granted(2.0, 4.0, 0.0) and m.share == 0.5  # too few calls to tell
    for k in range(1, 11):  # we get 1 call of every 4 granted
        assert m.granted(1.0, 4.0 + 4.0 * k, 0.1 * k)
    assert m.share == pytest.approx(0.25)
    # Later, 3 of every 4: the window forgets the old calls.
    for k in range(1, 41):
        m.granted(3.0, 44.0 + 4.0 * k, 1.0 + 0.1 * k)
    assert 1.0 + 4.0 > SHARE_WINDOW_SECONDS and m.share == pytest.approx(0.75)
    assert not m.granted(1.0, 3.0, 6.0)  # the counter went back: Redis came back empty
