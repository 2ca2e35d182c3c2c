"""Tests for vectorizer.ratelimit.budgets (the token bucket, the local
budget) and vectorizer.ratelimit.tokens (the token estimate)."""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vectorizer.ratelimit import Cost, LimiterSettings, LocalBudget, Round, TokenBucket
from vectorizer.ratelimit import budgets as b
from vectorizer.ratelimit.tokens import PRIOR_TOKENS, TokenEstimator


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# --- TokenBucket ------------------------------------------------------------------


def test_bucket_refills_continuously_up_to_its_capacity() -> None:
    b = TokenBucket(rate=10.0, capacity=5.0, level=0.0, now=0.0)
    assert b.delay(1.0, 0.0) == pytest.approx(0.1)
    assert b.delay(1.0, 0.1) == 0.0
    b.add(-1.0, 0.1)
    assert b.delay(5.0, 100.0) == 0.0  # full, not 1,000 tokens
    b.add(-5.0, 100.0)
    assert b.delay(1.0, 100.0) == pytest.approx(0.1)


def test_a_cost_larger_than_the_bucket_waits_for_a_full_bucket_and_leaves_a_debt() -> None:
    b = TokenBucket(rate=100.0, capacity=25.0, level=25.0, now=0.0)
    assert b.delay(60.0, 0.0) == 0.0
    b.add(-60.0, 0.0)
    assert b.level == -35.0
    assert b.delay(1.0, 0.0) == pytest.approx(0.36)


def test_a_rate_change_keeps_what_accrued() -> None:
    b = TokenBucket(rate=10.0, capacity=10.0, level=0.0, now=0.0)
    b.set_rate(100.0, 10.0, now=0.5)  # 5 tokens accrued at the old rate
    assert b.level == pytest.approx(5.0)
    assert b.delay(6.0, 0.5) == pytest.approx(0.01)


def test_an_unlimited_bucket_never_waits() -> None:
    b = TokenBucket(rate=math.inf, capacity=math.inf, level=0.0, now=0.0)
    assert b.delay(1e12, 0.0) == 0.0
    b.add(-1e12, 0.0)
    assert b.delay(1.0, 1.0) == 0.0


@given(st.lists(st.tuples(st.floats(0.0, 5.0), st.floats(-50.0, 50.0)), max_size=100))
def test_the_bucket_never_holds_more_than_its_capacity(steps: list[tuple[float, float]]) -> None:
    b = TokenBucket(rate=7.0, capacity=20.0, level=3.0, now=0.0)
    now = 0.0
    for dt, amount in steps:
        now += dt
        b.add(amount, now)
        assert b.level <= 20.0


# --- LocalBudget --------------------------------------------------------------------


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_take_is_all_or_nothing_across_requests_and_tokens() -> None:
    clock = Clock()
    budget = LocalBudget(LimiterSettings(initial_rate=4.0, max_token_rate=100.0), clock)
    assert budget.rates.tokens == 100.0
    # The token bucket starts with 10 tokens, the request bucket with one call.
    wait = run(budget.take(Cost(1.0, 20.0)))
    assert wait == pytest.approx(0.1)  # tokens short: nothing taken
    assert run(budget.take(Cost(1.0, 5.0))) == 0.0  # the request was still there
    assert run(budget.take(Cost(1.0, 0.0))) > 0.0  # now it is gone


def test_refund_gives_back_and_a_negative_refund_charges() -> None:
    clock = Clock()
    budget = LocalBudget(LimiterSettings(initial_rate=1_000.0, max_token_rate=100.0), clock)
    assert run(budget.take(Cost(1.0, 10.0))) == 0.0
    budget.refund(Cost(0.0, -50.0))  # the call used 50 more than estimated
    assert run(budget.take(Cost(1.0, 1.0))) == pytest.approx(0.51)
    budget.refund(Cost(0.0, 25.0))
    assert run(budget.take(Cost(1.0, 1.0))) == pytest.approx(0.26)


def test_observe_refills_at_the_learned_rate() -> None:
    clock = Clock()
    budget = LocalBudget(LimiterSettings(initial_rate=100.0), clock)
    for _ in range(2):  # start-up ends on the second weak throttled round
        clock.now += 0.1
        rates = budget.observe(Round(0.1, 10, 8, 1))
    assert rates.requests == pytest.approx(80.0 * 0.98) == budget.rates.requests
    clock.now += 0.5
    for _ in range(19):  # a full bucket: a quarter second of the new rate
        assert run(budget.take(Cost())) == 0.0
    assert run(budget.take(Cost())) == pytest.approx((20 - 0.25 * 78.4) / 78.4)


def test_after_an_idle_second_only_the_first_burst_is_there() -> None:
    # The quota's own bucket may have been emptied meanwhile (another client,
    # a quota that starts empty): a burst saved up while idle would all be
    # throttled.
    clock = Clock()
    budget = LocalBudget(LimiterSettings(initial_rate=100.0), clock)
    for _ in range(int(b.INITIAL_BURST_CALLS)):
        assert run(budget.take(Cost())) == 0.0
    clock.now += b.IDLE_SECONDS + 5.0
    for _ in range(int(b.INITIAL_BURST_CALLS)):
        assert run(budget.take(Cost())) == 0.0
    assert run(budget.take(Cost())) == pytest.approx(0.01)  # then the rate, 100/s


def test_a_call_larger_than_the_first_burst_still_goes_after_idle() -> None:
    # A told token rate of 1,000/s: after a pause the bucket holds 100
    # tokens (INITIAL_BURST_SECONDS), and a call of 500 needs a full bucket
    # (250). It waits for it once; the pause does not cap the bucket again
    # at every try (which would make it wait forever).
    clock = Clock()
    budget = LocalBudget(LimiterSettings(initial_rate=100.0, max_token_rate=1_000.0), clock)
    clock.now += b.IDLE_SECONDS + 5.0
    wait = run(budget.take(Cost(1.0, 500.0)))
    assert wait == pytest.approx(0.15)  # 100 -> 250 tokens at 1,000/s
    clock.now += wait
    assert run(budget.take(Cost(1.0, 500.0))) == 0.0


# --- TokenEstimator -------------------------------------------------------------------


def test_the_estimate_starts_at_the_configured_ratio() -> None:
    assert TokenEstimator().estimate(4_000) == 1_000.0
    assert TokenEstimator(3.0).estimate(300) == 100.0
    assert TokenEstimator().estimate(0) == 0.0


def test_the_estimate_learns_the_counted_ratio_weighted_by_size() -> None:
    est = TokenEstimator(4.0)
    est.learn(6_000, 1_000)  # 6 characters per token, a big call
    assert 5.0 < est.chars_per_token < 6.0
    for _ in range(100):
        est.learn(600, 100)
    assert est.chars_per_token == pytest.approx(6.0, rel=0.01)
    est.learn(10, 1)  # a small call hardly moves it
    assert est.chars_per_token == pytest.approx(6.0, rel=0.02)


def test_absurd_counts_are_ignored() -> None:
    est = TokenEstimator(4.0)
    est.learn(100, 1_000)  # 0.1 characters per token: not a tokenizer
    est.learn(100_000, 1)
    est.learn(100, 0)
    est.learn(0, 100)
    assert est.chars_per_token == 4.0
    assert PRIOR_TOKENS > 0
