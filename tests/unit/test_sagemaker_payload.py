"""SageMaker body ceilings: the configured ceiling, what counts as a refusal
for size, and the per-endpoint ceiling learned from refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vectorizer.backends.sagemaker_batching import MAX_REQUEST_BYTES
from vectorizer.backends.sagemaker_payload import (
    MIN_REQUEST_BYTES,
    SERVERLESS_MAX_REQUEST_BYTES,
    PayloadCeilings,
    is_oversize,
    payload_ceiling,
)
from vectorizer.config import ResolvedConfig
from vectorizer.errors import ConfigError


def cfg(**kw: object) -> ResolvedConfig:
    return ResolvedConfig(service="sagemaker", region="us-east-1", endpoint="e", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kw,ceiling",
    [
        ({}, MAX_REQUEST_BYTES),
        ({"serverless": True}, SERVERLESS_MAX_REQUEST_BYTES),
        ({"max_payload_bytes": 500_000}, 500_000),
        ({"max_payload_bytes": 3_000_000, "serverless": True}, 3_000_000),
        ({"max_payload_bytes": MAX_REQUEST_BYTES}, MAX_REQUEST_BYTES),
    ],
)
def test_configured_ceiling(kw: dict, ceiling: int) -> None:
    assert payload_ceiling(cfg(**kw)) == ceiling


def test_serverless_is_4_mb_and_real_time_6_mib() -> None:
    assert SERVERLESS_MAX_REQUEST_BYTES == 4_000_000
    assert MAX_REQUEST_BYTES == 6 * 1024 * 1024


@pytest.mark.parametrize(
    "kw,complaint",
    [
        ({"max_payload_bytes": MAX_REQUEST_BYTES + 1}, "over InvokeEndpoint's request limit"),
        (
            {"max_payload_bytes": 5_000_000, "serverless": True},
            "over a serverless endpoint's request limit of 4000000",
        ),
        ({"max_payload_bytes": MIN_REQUEST_BYTES - 1}, f"at least {MIN_REQUEST_BYTES}"),
    ],
)
def test_impossible_ceilings_are_config_errors(kw: dict, complaint: str) -> None:
    with pytest.raises(ConfigError) as info:
        payload_ceiling(cfg(**kw))
    assert complaint in info.value.errors[0]


@pytest.mark.parametrize(
    "status,code,message,oversize",
    [
        (400, "ValidationError", "Request 0f1e-aa has oversize body.", True),
        (413, "", "HTTP content length exceeded 5246976 bytes.", True),
        (413, "", "", True),
        (
            400,
            "ValidationError",
            "1 validation error detected: Value at 'body' failed to satisfy constraint: "
            "Member must have length less than or equal to 6291456",
            True,
        ),
        (400, "ValidationError", "Endpoint e of account 1 not found.", False),
        (400, "ThrottlingException", "oversize body", False),
        (424, "ModelError", "Received client error (413) from primary", False),
    ],
)
def test_what_counts_as_too_large(status: int, code: str, message: str, oversize: bool) -> None:
    assert is_oversize(status, code, message) is oversize


def test_refusals_lower_the_endpoint_ceiling_by_half_and_never_raise_it() -> None:
    ceilings = PayloadCeilings()
    assert ceilings.limit("a", 6_000_000) == 6_000_000
    assert ceilings.refused("a", 5_000_000) == 2_500_000
    assert ceilings.limit("a", 6_000_000) == 2_500_000
    assert ceilings.limit("a", 1_000_000) == 1_000_000  # the configured one still caps it
    assert ceilings.refused("a", 4_000_000) == 2_500_000  # a larger refusal teaches nothing
    assert ceilings.refused("a", 2_000_000) == 1_000_000
    assert ceilings.limit("b", 6_000_000) == 6_000_000  # per endpoint


def test_ceilings_are_bounded() -> None:
    ceilings = PayloadCeilings(max_entries=2)
    for key in ("a", "b", "c"):
        ceilings.refused(key, 1000)
    assert len(ceilings) == 2 and ceilings.limit("a", 9999) == 9999


@given(st.lists(st.integers(min_value=1, max_value=10_000_000), min_size=1, max_size=20))
def test_learned_ceiling_is_below_every_refused_size(sizes: list[int]) -> None:
    ceilings = PayloadCeilings()
    for size in sizes:
        ceilings.refused("e", size)
    limit = ceilings.limit("e", 10**9)
    assert limit >= 1 and all(limit < size or size == 1 for size in sizes)
