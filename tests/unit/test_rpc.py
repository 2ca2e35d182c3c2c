"""rpc.RpcCall: the one mapping of what a servicer raises to a status and a log line."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest

from vectorizer.errors import Kind, VectorizerError
from vectorizer.rpc import RpcCall

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


class Context:
    """Just the part of grpc.aio.ServicerContext that RpcCall reads."""

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return (
            ("x-request-id", "req-1"),
            ("x-aws-access-key", "AKIAEXAMPLE"),
            ("x-aws-secret-key", SECRET),
        )


LOG = logging.getLogger("test.rpc")


def test_a_vectorizer_error_becomes_its_status_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, "test.rpc"), RpcCall(LOG, "M", Context()) as call:
        raise VectorizerError(Kind.NOT_FOUND, f"no such thing for {SECRET}")
    assert call.code is grpc.StatusCode.NOT_FOUND
    assert SECRET not in call.message and "no such thing" in call.message
    (line,) = [r for r in caplog.records if r.getMessage().startswith("M NOT_FOUND")]
    assert line.request_id == "req-1"  # type: ignore[attr-defined]


def test_anything_else_is_internal_with_the_traceback_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, "test.rpc"), RpcCall(LOG, "M", Context()) as call:
        raise KeyError("boom")
    assert call.code is grpc.StatusCode.INTERNAL
    assert call.message == "internal error (request id req-1); see the server log"
    (trace,) = [r for r in caplog.records if r.getMessage() == "internal error"]
    assert trace.exc_info is not None and trace.exc_info[0] is KeyError


def test_cancellation_passes_through_after_being_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, "test.rpc"), pytest.raises(asyncio.CancelledError):
        with RpcCall(LOG, "M", Context()):
            raise asyncio.CancelledError
    assert any(r.getMessage().startswith("M OK") for r in caplog.records)


def test_success_keeps_ok() -> None:
    with RpcCall(LOG, "M", Context()) as call:
        pass
    assert call.code is grpc.StatusCode.OK and call.message == ""
