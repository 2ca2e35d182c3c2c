"""The shared call-log helpers: request ids safe for a log line, credential scrubbing."""

from __future__ import annotations

import logging

from hypothesis import given
from hypothesis import strategies as st

from vectorizer.observe import MAX_REQUEST_ID, log_call, request_id, scrubber


@given(st.one_of(st.none(), st.text(), st.binary(), st.integers()))
def test_request_ids_are_always_one_bounded_printable_token(given_id: object) -> None:
    rid = request_id(given_id)
    assert 0 < len(rid) <= MAX_REQUEST_ID
    assert rid.isascii() and rid.isprintable() and not any(c.isspace() for c in rid)


def test_a_clean_caller_id_is_kept_and_a_missing_one_is_made_up() -> None:
    assert request_id("ops-log-request-1") == "ops-log-request-1"
    assert request_id("a b\nstatus=500") == "abstatus=500"
    made = {request_id(None), request_id(""), request_id(" \t\n")}
    assert len(made) == 3 and all(len(r) == 16 for r in made)


def test_scrubber_masks_only_this_calls_credentials() -> None:
    scrub = scrubber(
        [("X-AWS-Access-Key", "AKIDSCRUBTEST1234"), ("x-aws-secret-key", "s3cr3t-value"),
         ("X-Request-Id", "keep-me")]
    )  # fmt: skip
    text = scrub("key AKIDSCRUBTEST1234 secret s3cr3t-value id keep-me")
    assert text == "key ***1234 secret [redacted] id keep-me"


def test_log_call_writes_fields_duration_and_info(caplog) -> None:  # type: ignore[no-untyped-def]
    logger = logging.getLogger("vectorizer.test_observe")
    with caplog.at_level(logging.INFO, logger=logger.name):
        log_call(logger, "POST x", "200", 0.01234, {"status": 200}, {"request_id": "r1"})
    (record,) = caplog.records
    assert record.getMessage() == "POST x 200 in 12.3 ms"
    assert (record.status, record.duration_ms, record.request_id) == (200, 12.34, "r1")
