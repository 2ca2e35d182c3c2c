"""What every gRPC servicer shares (the Vectorizer and MediaJobs services).

- `RpcCall`: one call's metrics and log line, and the one error mapping:
  every `VectorizerError` becomes its gRPC status (`errors.GRPC_STATUS`),
  anything unexpected INTERNAL with a generic message (the traceback goes to
  the log, never to the caller); messages are scrubbed of the caller's keys.
- `observe(log, method, context, run)`: a unary RPC run inside an `RpcCall`.
- `target_config(collections, request)`: the request's inline config, or
  the loaded collection it names.
- `credentials_from_metadata` / `caller_credentials`: per-request AWS keys
  (text2vec-aws metadata), else the server's own.
- `to_purpose`: the proto enum as the domain `Purpose`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import grpc

from vectorizer import metrics
from vectorizer.app import App
from vectorizer.errors import GRPC_STATUS, Kind, VectorizerError
from vectorizer.observe import CREDENTIAL_KEYS, log_call, request_id, scrubber
from vectorizer.transport import AwsCredentials
from vectorizer.types import Purpose
from vectorizer.v1 import vectorizer_pb2 as pb

R = TypeVar("R")


class RpcCall:
    """Times one RPC, maps what it raises to a status, then counts and logs it.

    Used as `with RpcCall(...) as call:`; an `Exception` inside is absorbed
    into `call.code` / `call.message` for the caller to abort with.
    `in_flight` counts the call in the in-flight gauge; `latency` observes
    its duration (not for streams, whose length is the client's choice).
    """

    def __init__(
        self,
        log: logging.Logger,
        method: str,
        context: grpc.aio.ServicerContext,
        *,
        in_flight: bool = True,
        latency: bool = True,
    ):
        self.log = log
        self.method = method
        self.metadata = dict(context.invocation_metadata() or ())
        self.info: dict[str, Any] = {"request_id": request_id(self.metadata.get("x-request-id"))}
        self.code = grpc.StatusCode.OK
        self.message = ""
        self._in_flight = in_flight
        self._latency = latency
        self._started = 0.0

    def __enter__(self) -> RpcCall:
        self._started = time.perf_counter()
        if self._in_flight:
            metrics.IN_FLIGHT.inc()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if isinstance(exc, VectorizerError):
            self.code = GRPC_STATUS[exc.kind]
            self.message = scrubber(self.metadata.items())(exc.message)
        elif isinstance(exc, Exception):  # the last line of defence: never UNKNOWN
            extra = {"request_id": self.info["request_id"]}
            self.log.error("internal error", exc_info=exc, extra=extra)
            self.code = grpc.StatusCode.INTERNAL
            self.message = (
                f"internal error (request id {self.info['request_id']}); see the server log"
            )
        elapsed = time.perf_counter() - self._started
        if self._in_flight:
            metrics.IN_FLIGHT.dec()
        metrics.GRPC_REQUESTS.labels(self.method, self.code.name).inc()
        if self._latency:
            metrics.GRPC_LATENCY.labels(self.method).observe(elapsed)
        if self.message:
            self.info["error"] = self.message
        fields = {"method": self.method, "code": self.code.name}
        log_call(self.log, self.method, self.code.name, elapsed, fields, self.info)
        # Cancellation and generator exits pass through, after being logged.
        return isinstance(exc, Exception)


async def observe(
    log: logging.Logger,
    method: str,
    context: grpc.aio.ServicerContext,
    run: Callable[[dict[str, Any]], Awaitable[R]],
    *,
    in_flight: bool = True,
) -> R:
    """Run a unary RPC's body (given the call's log fields) inside an `RpcCall`."""
    with RpcCall(log, method, context, in_flight=in_flight) as call:
        return await run(call.info)
    await context.abort(call.code, call.message)
    raise AssertionError("unreachable")  # context.abort raises


def target_config(
    collections: Mapping[str, pb.CollectionConfig], request: Any
) -> tuple[pb.CollectionConfig, str]:
    """(config, collection name or "") of a request with a `target` oneof."""
    which = request.WhichOneof("target")
    if which == "collection":
        msg = collections.get(request.collection)
        if msg is None:
            known = ", ".join(sorted(collections)) or "none loaded"
            raise VectorizerError(
                Kind.NOT_FOUND,
                f"unknown collection {request.collection!r}; known collections: {known}",
            )
        return msg, request.collection
    if which == "config":
        return request.config, ""
    raise VectorizerError(
        Kind.INVALID_ARGUMENT, "set either config (inline) or collection (a loaded name)"
    )


def to_purpose(value: int) -> Purpose:
    return Purpose.QUERY if value == pb.PURPOSE_QUERY else Purpose.DOCUMENT


def credentials_from_metadata(metadata: Sequence[tuple[str, Any]] | None) -> AwsCredentials | None:
    """Per-request credentials from gRPC metadata (text2vec-aws header names)."""
    values = {k.lower(): v for k, v in (metadata or ()) if k.lower() in CREDENTIAL_KEYS}
    access, secret = values.get("x-aws-access-key"), values.get("x-aws-secret-key")
    if not access and not secret:
        return None
    if not access or not secret:
        raise VectorizerError(
            Kind.UNAUTHENTICATED,
            "x-aws-access-key and x-aws-secret-key must be sent together",
        )
    return AwsCredentials(str(access), str(secret), values.get("x-aws-session-token") or None)


async def caller_credentials(
    app: App, context: grpc.aio.ServicerContext
) -> tuple[AwsCredentials, bool]:
    """(credentials, whether the caller sent them): the request's, else the server's."""
    creds = credentials_from_metadata(context.invocation_metadata())
    if creds is not None:
        return creds, True
    return await app.credentials.resolve(), False
