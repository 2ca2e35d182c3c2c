"""The error taxonomy, and the one classifier of AWS errors.

- `Kind`: a small set of failure kinds, each mapped once to a gRPC status
  (`GRPC_STATUS`) and to an item error code.
- `VectorizerError`: raised anywhere below the service layer; carries a kind,
  a message that names cause and fix (never a secret) and `retryable`.
- `UpstreamError`: a `VectorizerError` from AWS, with the AWS error code and
  HTTP status kept for metrics and retry decisions.
- `classify_aws_error`: AWS (status, error code, message) -> `UpstreamError`.
"""

from __future__ import annotations

import enum

import grpc

from vectorizer.types import ItemError


class Kind(enum.Enum):
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    THROTTLED = "THROTTLED"
    UNAVAILABLE = "UNAVAILABLE"
    DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
    MODEL_ERROR = "MODEL_ERROR"
    INTERNAL = "INTERNAL"


GRPC_STATUS: dict[Kind, grpc.StatusCode] = {
    Kind.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
    Kind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    Kind.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    Kind.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    Kind.THROTTLED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Kind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    Kind.DEADLINE_EXCEEDED: grpc.StatusCode.DEADLINE_EXCEEDED,
    Kind.MODEL_ERROR: grpc.StatusCode.FAILED_PRECONDITION,
    Kind.INTERNAL: grpc.StatusCode.INTERNAL,
}

# Kinds that fail a whole request rather than one item: every item would get
# the same answer, so the caller must fix config or credentials first.
REQUEST_LEVEL = frozenset(
    {Kind.INVALID_ARGUMENT, Kind.NOT_FOUND, Kind.PERMISSION_DENIED, Kind.UNAUTHENTICATED}
)


class VectorizerError(Exception):
    """A failure with a kind, a safe message and whether a retry can help."""

    def __init__(self, kind: Kind, message: str, *, retryable: bool = False, code: str = ""):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = retryable
        self.code = code or kind.value

    def item_error(self) -> ItemError:
        return ItemError(code=self.code, message=self.message, retryable=self.retryable)


class ConfigError(VectorizerError):
    """A collection config is wrong; `errors` lists every problem found."""

    def __init__(self, errors: list[str]):
        super().__init__(Kind.INVALID_ARGUMENT, ", ".join(errors), code="INVALID_CONFIG")
        self.errors = errors


class UpstreamError(VectorizerError):
    """An error answered by AWS (or a transport failure on the way there)."""

    def __init__(
        self,
        kind: Kind,
        message: str,
        *,
        retryable: bool,
        aws_code: str,
        status: int,
        retry_reason: str = "",
    ):
        super().__init__(kind, message, retryable=retryable, code=kind.value)
        self.aws_code = aws_code
        self.status = status
        # Bounded label for the retries metric ("throttled", "5xx", ...).
        self.retry_reason = retry_reason


# AWS error code -> (kind, retryable, retry reason). Codes from the Bedrock
# Runtime and SageMaker Runtime service models.
_AWS_CODES: dict[str, tuple[Kind, bool, str]] = {
    "ThrottlingException": (Kind.THROTTLED, True, "throttled"),
    "TooManyRequestsException": (Kind.THROTTLED, True, "throttled"),
    "ModelNotReadyException": (Kind.UNAVAILABLE, True, "model_not_ready"),
    "ServiceUnavailableException": (Kind.UNAVAILABLE, True, "5xx"),
    "ServiceUnavailable": (Kind.UNAVAILABLE, True, "5xx"),
    "InternalServerException": (Kind.UNAVAILABLE, True, "5xx"),
    "InternalFailure": (Kind.UNAVAILABLE, True, "5xx"),
    "InternalDependencyException": (Kind.UNAVAILABLE, True, "5xx"),
    "ModelTimeoutException": (Kind.UNAVAILABLE, True, "timeout"),
    "ModelErrorException": (Kind.MODEL_ERROR, False, ""),
    "ModelError": (Kind.MODEL_ERROR, False, ""),
    "ValidationException": (Kind.INVALID_ARGUMENT, False, ""),
    "ValidationError": (Kind.INVALID_ARGUMENT, False, ""),
    "ServiceQuotaExceededException": (Kind.THROTTLED, False, ""),
    "AccessDeniedException": (Kind.PERMISSION_DENIED, False, ""),
    "ResourceNotFoundException": (Kind.NOT_FOUND, False, ""),
    "UnrecognizedClientException": (Kind.UNAUTHENTICATED, False, ""),
    "InvalidSignatureException": (Kind.UNAUTHENTICATED, False, ""),
    "IncompleteSignature": (Kind.UNAUTHENTICATED, False, ""),
    "MissingAuthenticationToken": (Kind.UNAUTHENTICATED, False, ""),
    "ExpiredTokenException": (Kind.UNAUTHENTICATED, False, ""),
}


def classify_aws_error(
    status: int, aws_code: str, message: str, *, target: str = ""
) -> UpstreamError:
    """Turn an AWS error answer into an `UpstreamError`.

    Unknown codes fall back on the HTTP status: 429 and 5xx are retryable,
    other 4xx are final.
    """
    where = f" from {target}" if target else ""
    text = f"AWS {aws_code or 'error'} (HTTP {status}){where}: {message}".rstrip(": ")
    known = _AWS_CODES.get(aws_code)
    if known is not None:
        kind, retryable, reason = known
        # SageMaker reports a missing endpoint as a ValidationError.
        if kind is Kind.INVALID_ARGUMENT and "not found" in message.lower():
            kind = Kind.NOT_FOUND
        return UpstreamError(
            kind, text, retryable=retryable, aws_code=aws_code, status=status, retry_reason=reason
        )
    if status == 429:
        return UpstreamError(
            Kind.THROTTLED,
            text,
            retryable=True,
            aws_code=aws_code,
            status=status,
            retry_reason="throttled",
        )
    if status >= 500:
        return UpstreamError(
            Kind.UNAVAILABLE,
            text,
            retryable=True,
            aws_code=aws_code,
            status=status,
            retry_reason="5xx",
        )
    if status in (401, 403):
        return UpstreamError(
            Kind.PERMISSION_DENIED, text, retryable=False, aws_code=aws_code, status=status
        )
    if status == 404:
        return UpstreamError(
            Kind.NOT_FOUND, text, retryable=False, aws_code=aws_code, status=status
        )
    return UpstreamError(
        Kind.INVALID_ARGUMENT, text, retryable=False, aws_code=aws_code, status=status
    )


def transport_error(reason: str, detail: str, *, target: str = "") -> UpstreamError:
    """A failure on the way to AWS: timeout, reset, truncated or garbled body."""
    where = f" calling {target}" if target else ""
    return UpstreamError(
        Kind.UNAVAILABLE,
        f"upstream {reason}{where}: {detail}",
        retryable=True,
        aws_code="",
        status=0,
        retry_reason=reason,
    )


def error_text(exc: BaseException, limit: int = 300) -> str:
    """A short, single-line description of a parse failure for messages."""
    text = " ".join(str(exc).split())
    return text[:limit] + ("..." if len(text) > limit else "")
