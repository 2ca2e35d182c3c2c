"""Who may call the sidecar: TLS, mutual TLS and bearer tokens.

- `TlsConfig`: the PEM files of --tls-cert / --tls-key / --tls-client-ca,
  read and checked once at start-up; gives the gRPC server credentials and
  the HTTP `ssl.SSLContext`. With a client CA both ports require a client
  certificate signed by it.
- `BearerAuth`: the tokens of --auth-token-file (one per non-empty line, so
  a new token can be added before the old one is removed); `allows(header)`
  checks an `Authorization: Bearer <token>` value in constant time.
- `BearerTokenInterceptor`: a grpc.aio server interceptor that answers
  UNAUTHENTICATED to every call without a valid token, except the
  grpc.health.v1 service (probes carry no secrets). Reflection is protected:
  it describes the API to whoever asks.
- `bearer_middleware(auth)`: the same check for the HTTP side port, every
  route but the health endpoints (`HTTP_EXEMPT`, and the compat probes
  `.well-known/live|ready` and TEI's `/health` under any prefix).

Refusals never echo what the caller sent.
"""

from __future__ import annotations

import hmac
import json
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from aiohttp import web

from vectorizer.errors import ConfigError

log = logging.getLogger(__name__)

GRPC_EXEMPT_PREFIXES = ("/grpc.health.v1.Health/",)
HTTP_EXEMPT = frozenset({"/healthz", "/readyz"})
# Probes of the compat APIs: transformers' ready/live, TEI's health.
HEALTH_SUFFIXES = ("/.well-known/live", "/.well-known/ready", "/health")
REFUSAL = (
    "missing or invalid bearer token: send 'authorization: Bearer <token>' "
    "with the token the server was given (--auth-token-file)"
)


def _read(path: str, flag: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError([f"{flag} {path}: cannot read: {exc.strerror or exc}"]) from None


@dataclass(frozen=True)
class TlsConfig:
    cert: bytes
    key: bytes
    client_ca: bytes | None
    cert_path: str
    key_path: str
    client_ca_path: str

    @classmethod
    def load(cls, cert: str, key: str, client_ca: str = "") -> TlsConfig:
        """Read and check the PEM files; a bad file is a ConfigError naming it."""
        tls = cls(
            cert=_read(cert, "--tls-cert"),
            key=_read(key, "--tls-key"),
            client_ca=_read(client_ca, "--tls-client-ca") if client_ca else None,
            cert_path=cert,
            key_path=key,
            client_ca_path=client_ca,
        )
        tls.ssl_context()  # parses everything: fail at start-up, not at first call
        return tls

    @property
    def mutual(self) -> bool:
        return self.client_ca is not None

    def grpc_credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials(
            [(self.key, self.cert)],
            root_certificates=self.client_ca,
            require_client_auth=self.mutual,
        )

    def ssl_context(self, client_auth: bool = True) -> ssl.SSLContext:
        """The HTTP side's context; `client_auth` False never asks for a client
        certificate (the compat listener: stock callers have none)."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(self.cert_path, self.key_path)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                [f"--tls-cert/--tls-key: cannot load the certificate and key: {exc}"]
            ) from None
        if self.client_ca_path and client_auth:
            try:
                ctx.load_verify_locations(cafile=self.client_ca_path)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    [f"--tls-client-ca {self.client_ca_path}: cannot load: {exc}"]
                ) from None
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx


class BearerAuth:
    """Accepted bearer tokens, compared in constant time."""

    def __init__(self, tokens: Sequence[str]):
        cleaned = tuple(t.strip().encode() for t in tokens if t.strip())
        if not cleaned:
            raise ConfigError(["--auth-token-file: the file holds no token"])
        self._tokens = cleaned

    @classmethod
    def from_file(cls, path: str) -> BearerAuth:
        raw = _read(path, "--auth-token-file")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError([f"--auth-token-file {path}: not UTF-8 text"]) from None
        return cls(text.splitlines())

    def allows(self, header: str | bytes | None) -> bool:
        """Whether `header` is 'Bearer <an accepted token>' (scheme case-insensitive)."""
        if isinstance(header, bytes):
            header = header.decode("latin-1")
        if not header:
            return False
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        given = value.strip().encode("utf-8", "replace")
        # Compare with every token, without stopping early: timing says nothing.
        matched = False
        for token in self._tokens:
            matched |= hmac.compare_digest(given, token)
        return matched


def _metadata_value(metadata: Sequence[tuple[str, Any]] | None, key: str) -> Any:
    for k, v in metadata or ():
        if k.lower() == key:
            return v
    return None


async def _deny_unary(request: Any, context: grpc.aio.ServicerContext) -> None:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSAL)


async def _deny_stream(request_iterator: Any, context: grpc.aio.ServicerContext) -> None:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSAL)


def _denial(handler: grpc.RpcMethodHandler | None) -> grpc.RpcMethodHandler:
    """A handler of the same shape as `handler` that refuses the call.

    It has no deserializer: an unauthenticated caller's bytes are never parsed.
    """
    if handler is None or not handler.request_streaming:
        if handler is not None and handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(_deny_unary)
        return grpc.unary_unary_rpc_method_handler(_deny_unary)
    if handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(_deny_stream)
    return grpc.stream_unary_rpc_method_handler(_deny_stream)


class BearerTokenInterceptor(grpc.aio.ServerInterceptor):
    """UNAUTHENTICATED for calls without a valid bearer token (health exempt)."""

    def __init__(self, auth: BearerAuth):
        self._auth = auth

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method or ""
        if method.startswith(GRPC_EXEMPT_PREFIXES):
            return await continuation(handler_call_details)
        header = _metadata_value(handler_call_details.invocation_metadata, "authorization")
        if self._auth.allows(header):
            return await continuation(handler_call_details)
        log.warning("refused a gRPC call without a valid bearer token", extra={"method": method})
        return _denial(await continuation(handler_call_details))


def _is_health(path: str) -> bool:
    # The compat health routes also live under prefixes (/query/..., /collections/...).
    return path in HTTP_EXEMPT or path.endswith(HEALTH_SUFFIXES)


def bearer_middleware(auth: BearerAuth) -> Any:
    """aiohttp middleware: 401 without a valid bearer token, except `HTTP_EXEMPT`."""

    @web.middleware
    async def check_bearer(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # Exempt by the route that matched, so no spelling of a path reaches
        # another handler without the token.
        resource = request.match_info.route.resource
        if resource is not None and _is_health(resource.canonical):
            return await handler(request)
        if auth.allows(request.headers.get("Authorization")):
            return await handler(request)
        log.warning(
            "refused an HTTP request without a valid bearer token",
            extra={"path": request.path[:200]},
        )
        # Raised, not returned: on a compat API's path the compat middleware
        # answers it in that API's error shape.
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": {"code": "UNAUTHENTICATED", "message": REFUSAL}}),
            content_type="application/json",
            headers={"WWW-Authenticate": 'Bearer realm="vectorizer"'},
        )

    return check_bearer
