"""Tests for vectorizer.retry."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vectorizer.errors import (
    ConfigError,
    Kind,
    VectorizerError,
    classify_aws_error,
    transport_error,
)
from vectorizer.retry import RetryPolicy, backoff_delay, should_retry

POLICY = RetryPolicy(max_attempts=8, base_delay=0.05, max_delay=5.0)


def test_backoff_ceiling_doubles_then_caps() -> None:
    def top() -> float:
        return 1.0

    ceilings = [backoff_delay(a, POLICY, rand=top) for a in range(10)]
    assert ceilings[:7] == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2])
    assert ceilings[7:] == [5.0, 5.0, 5.0]


def test_backoff_is_full_jitter() -> None:
    assert backoff_delay(3, POLICY, rand=lambda: 0.0) == 0.0
    assert backoff_delay(3, POLICY, rand=lambda: 0.25) == pytest.approx(0.1)


@given(attempt=st.integers(-5, 10_000), r=st.floats(0.0, 1.0, exclude_max=True))
def test_backoff_stays_within_bounds(attempt: int, r: float) -> None:
    delay = backoff_delay(attempt, POLICY, rand=lambda: r)
    assert 0.0 <= delay <= POLICY.max_delay


def test_retryable_errors_are_retried_until_attempts_run_out() -> None:
    throttled = classify_aws_error(429, "ThrottlingException", "slow down")
    assert should_retry(throttled, 0, POLICY, None)
    assert should_retry(throttled, 6, POLICY, 10.0)
    assert not should_retry(throttled, 7, POLICY, 10.0)  # the 8th attempt was the last
    assert should_retry(transport_error("timeout", "read timed out"), 0, POLICY, 1.0)


def test_no_retry_past_the_deadline() -> None:
    unavailable = classify_aws_error(503, "ServiceUnavailableException", "busy")
    assert should_retry(unavailable, 0, POLICY, 0.5)
    assert not should_retry(unavailable, 0, POLICY, 0.0)
    assert not should_retry(unavailable, 0, POLICY, -1.0)


@pytest.mark.parametrize(
    "error",
    [
        classify_aws_error(400, "ValidationException", "bad input"),
        classify_aws_error(403, "AccessDeniedException", "no"),
        ConfigError(["model is required"]),
        VectorizerError(Kind.INTERNAL, "bug"),
        ValueError("unclassified"),
        ConnectionResetError("unclassified transport failure"),
        asyncio.CancelledError(),
    ],
)
def test_final_errors_are_not_retried(error: BaseException) -> None:
    assert not should_retry(error, 0, POLICY, None)


def test_policy_is_validated() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(base_delay=2.0, max_delay=1.0)
    assert not should_retry(
        classify_aws_error(429, "ThrottlingException", ""), 0, RetryPolicy(max_attempts=1), None
    )
