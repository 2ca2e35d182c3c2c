"""The one AWS error classifier: every code of the reference's error tables."""

from __future__ import annotations

import grpc
import pytest

from vectorizer.errors import GRPC_STATUS, Kind, classify_aws_error, transport_error

# (HTTP status, AWS code, kind, retryable) from reference sections 1 and 4.
TABLE = [
    # Bedrock Runtime
    (429, "ThrottlingException", Kind.THROTTLED, True),
    (429, "ModelNotReadyException", Kind.UNAVAILABLE, True),
    (503, "ServiceUnavailableException", Kind.UNAVAILABLE, True),
    (500, "InternalServerException", Kind.UNAVAILABLE, True),
    (408, "ModelTimeoutException", Kind.UNAVAILABLE, True),
    (424, "ModelErrorException", Kind.MODEL_ERROR, False),
    (400, "ValidationException", Kind.INVALID_ARGUMENT, False),
    (400, "ServiceQuotaExceededException", Kind.THROTTLED, False),
    (403, "AccessDeniedException", Kind.PERMISSION_DENIED, False),
    (404, "ResourceNotFoundException", Kind.NOT_FOUND, False),
    (403, "UnrecognizedClientException", Kind.UNAUTHENTICATED, False),
    (403, "InvalidSignatureException", Kind.UNAUTHENTICATED, False),
    (400, "ExpiredTokenException", Kind.UNAUTHENTICATED, False),
    (403, "ExpiredTokenException", Kind.UNAUTHENTICATED, False),
    # SageMaker Runtime
    (424, "ModelError", Kind.MODEL_ERROR, False),
    (429, "ModelNotReadyException", Kind.UNAVAILABLE, True),
    (400, "ThrottlingException", Kind.THROTTLED, True),  # SageMaker throttles with 400
    (503, "ServiceUnavailable", Kind.UNAVAILABLE, True),
    (500, "InternalFailure", Kind.UNAVAILABLE, True),
    (530, "InternalDependencyException", Kind.UNAVAILABLE, True),
    (400, "ValidationError", Kind.INVALID_ARGUMENT, False),
]


@pytest.mark.parametrize(("status", "code", "kind", "retryable"), TABLE)
def test_every_reference_code(status: int, code: str, kind: Kind, retryable: bool) -> None:
    err = classify_aws_error(status, code, "message text", target="amazon.titan-embed-text-v2:0")
    assert (err.kind, err.retryable) == (kind, retryable)
    assert err.aws_code == code and err.status == status
    assert code in err.message and "amazon.titan-embed-text-v2:0" in err.message
    assert bool(err.retry_reason) == retryable


def test_sagemaker_missing_endpoint_is_not_found() -> None:
    err = classify_aws_error(400, "ValidationError", "Endpoint my-ep of account 1234 not found.")
    assert err.kind is Kind.NOT_FOUND and not err.retryable


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (429, Kind.THROTTLED, True),
        (500, Kind.UNAVAILABLE, True),
        (502, Kind.UNAVAILABLE, True),
        (403, Kind.PERMISSION_DENIED, False),
        (404, Kind.NOT_FOUND, False),
        (400, Kind.INVALID_ARGUMENT, False),
        (413, Kind.INVALID_ARGUMENT, False),
    ],
)
def test_unknown_codes_fall_back_on_status(status: int, kind: Kind, retryable: bool) -> None:
    err = classify_aws_error(status, "SomethingNew", "")
    assert (err.kind, err.retryable) == (kind, retryable)


def test_transport_faults_are_retryable_with_their_reason() -> None:
    for reason in ("timeout", "reset", "truncated", "bad_response"):
        err = transport_error(reason, "detail", target="ep")
        assert err.retryable and err.kind is Kind.UNAVAILABLE and err.retry_reason == reason


def test_every_kind_maps_to_a_grpc_status_never_unknown() -> None:
    assert set(GRPC_STATUS) == set(Kind)
    assert grpc.StatusCode.UNKNOWN not in GRPC_STATUS.values()
    assert GRPC_STATUS[Kind.THROTTLED] is grpc.StatusCode.RESOURCE_EXHAUSTED
