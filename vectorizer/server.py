"""`vectorizer-server`: settings -> app -> serve gRPC + HTTP -> drain.

The lifecycle in one sequence (`serve`):
1. build the app (collections validated: a bad file stops start-up),
2. start gRPC (Vectorizer, grpc.health.v1, reflection), the HTTP port and
   the compat listener if asked (--compat-address),
3. mark ready (health SERVING, /readyz 200) and print where it listens,
4. on SIGTERM or SIGINT: readiness off, stop taking calls, let in-flight
   calls finish within --grace-period, close, exit 0; a second signal exits
   at once.

With `--workers N` (N > 1) `main` runs the supervisor of vectorizer.workers
instead, which starts N processes of this same sequence on the same ports.
A worker also drains when its supervisor disappears.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

import grpc
from aiohttp import web
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from vectorizer import __version__
from vectorizer.app import App, build_app
from vectorizer.auth import BearerAuth, BearerTokenInterceptor, TlsConfig
from vectorizer.decoding import DecodeGuardInterceptor, add_vectorizer_service
from vectorizer.errors import ConfigError
from vectorizer.http import make_http_app
from vectorizer.logs import setup_logging
from vectorizer.media_service import SERVICE_NAME as MEDIA_SERVICE_NAME
from vectorizer.media_service import MediaJobsService
from vectorizer.metrics import WORKER_ENV
from vectorizer.service import VectorizerService
from vectorizer.settings import Settings, parse_settings, split_address
from vectorizer.v1 import media_jobs_pb2_grpc as mpb_grpc
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.workers import supervise, watch_parent

log = logging.getLogger("vectorizer.server")
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Vectorizer"].full_name


def grpc_options(settings: Settings) -> list[tuple[str, int]]:
    options = [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        # --workers: every worker listens on the same port.
        ("grpc.so_reuseport", 1),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ]
    if settings.max_connection_age > 0:
        options += [
            ("grpc.max_connection_age_ms", int(settings.max_connection_age * 1000)),
            ("grpc.max_connection_age_grace_ms", int(settings.grace_period * 1000)),
        ]
    return options


class Server:
    """Owns the gRPC server, the HTTP runner and the drain sequence."""

    def __init__(self, settings: Settings, app: App):
        """Raises ConfigError when a TLS or token file is missing or unreadable."""
        self.settings = settings
        self.app = app
        self.tls = (
            TlsConfig.load(settings.tls_cert, settings.tls_key, settings.tls_client_ca)
            if settings.tls_cert
            else None
        )
        self.auth = (
            BearerAuth.from_file(settings.auth_token_file) if settings.auth_token_file else None
        )
        # Auth first: an unauthenticated caller's bytes are never parsed.
        interceptors: list[grpc.aio.ServerInterceptor] = [DecodeGuardInterceptor()]
        if self.auth is not None:
            interceptors.insert(0, BearerTokenInterceptor(self.auth))
        self.grpc = grpc.aio.server(options=grpc_options(settings), interceptors=interceptors)
        self.health = health.aio.HealthServicer()
        self.http_runner: web.AppRunner | None = None
        self.compat_runner: web.AppRunner | None = None
        self.grpc_port = 0
        self.http_port = 0
        self.compat_port = 0
        self._stop = asyncio.Event()
        self._signals = 0

    async def start(self) -> None:
        add_vectorizer_service(VectorizerService(self.app), self.grpc)
        if self.app.media is not None:
            mpb_grpc.add_MediaJobsServicer_to_server(
                MediaJobsService(self.app, self.app.media), self.grpc
            )
            await self.app.media.resume()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.grpc)
        reflection.enable_server_reflection(
            (SERVICE_NAME, MEDIA_SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME),
            self.grpc,
        )
        for name in ("", SERVICE_NAME, MEDIA_SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        if self.tls is not None:
            self.grpc_port = self.grpc.add_secure_port(
                self.settings.grpc_address, self.tls.grpc_credentials()
            )
        else:
            self.grpc_port = self.grpc.add_insecure_port(self.settings.grpc_address)
        if not self.grpc_port:
            raise OSError(f"cannot bind gRPC address {self.settings.grpc_address}")
        await self.grpc.start()

        # Bodies reach the handlers as sent: aiohttp's own decoding answers a bad
        # gzip/deflate body itself and leaves the handler waiting on the payload.
        self.http_runner = web.AppRunner(
            make_http_app(self.app, self.auth), access_log=None, auto_decompress=False
        )
        await self.http_runner.setup()
        host, port = split_address(self.settings.http_address)
        ssl_context = self.tls.ssl_context() if self.tls is not None else None
        site = web.TCPSite(self.http_runner, host, port, reuse_port=True, ssl_context=ssl_context)
        await site.start()
        self.http_port = self.http_runner.addresses[0][1]
        if self.settings.compat_address:
            await self._start_compat()

        await self._become_ready()

    async def _start_compat(self) -> None:
        """The compat listener: the compat APIs only, token per --compat-auth,
        TLS with --tls-cert but no client certificate (stock callers have none)."""
        auth = self.auth if self.settings.compat_auth == "token" else None
        self.compat_runner = web.AppRunner(
            make_http_app(self.app, auth, compat_only=True),
            access_log=None,
            auto_decompress=False,
        )
        await self.compat_runner.setup()
        host, port = split_address(self.settings.compat_address)
        ssl_context = self.tls.ssl_context(client_auth=False) if self.tls is not None else None
        site = web.TCPSite(self.compat_runner, host, port, reuse_port=True, ssl_context=ssl_context)
        await site.start()
        self.compat_port = self.compat_runner.addresses[0][1]

    async def _become_ready(self) -> None:
        if self.settings.check_credentials:
            try:
                await self.app.credentials.resolve()
            except Exception as exc:  # noqa: BLE001 - reported through /readyz
                note = f"default AWS credentials unavailable: {type(exc).__name__}"
                self.app.notes.append(note)
                log.warning(note)
                return
        self.app.ready = True
        for name in ("", SERVICE_NAME, MEDIA_SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    def request_stop(self) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second signal: exiting now without draining")
            os._exit(1)
        log.info("signal received: draining (grace period %.1fs)", self.settings.grace_period)
        self._stop.set()

    def supervisor_gone(self) -> None:
        """A --workers worker whose supervisor died drains like on SIGTERM."""
        if not self._stop.is_set():
            log.warning("supervisor gone: draining")
            self._stop.set()

    async def wait(self) -> None:
        await self._stop.wait()

    async def drain(self) -> None:
        self.app.draining = True
        await self.health.enter_graceful_shutdown()
        # Stops accepting calls; in-flight calls get the grace period.
        await self.grpc.stop(self.settings.grace_period)
        for runner in (self.http_runner, self.compat_runner):
            if runner is not None:
                await runner.cleanup()
        await self.app.close()
        log.info("drained; exiting")


async def serve(settings: Settings) -> int:
    try:
        app = build_app(settings)
        server = Server(settings, app)
    except ConfigError as exc:
        log.error("invalid configuration: %s", "; ".join(exc.errors))
        return 2
    if server.tls is not None:
        mutual = " with client certificates required" if server.tls.mutual else ""
        log.info("TLS on the gRPC and HTTP ports%s", mutual)
        if server.tls.mutual and settings.compat_address:
            log.warning("the compat listener %s asks for no client certificate",
                        settings.compat_address)  # fmt: skip
    if server.auth is not None:
        log.info("bearer token required on every call but health checks")
        if settings.compat_address and settings.compat_auth == "none":
            log.warning(
                "the compat listener %s requires no bearer token: whoever reaches it can "
                "embed with this server's AWS credentials",
                settings.compat_address,
            )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.request_stop)
    await server.start()
    if os.environ.get(WORKER_ENV):
        await watch_parent(server.supervisor_gone)
    grpc_host, _ = split_address(settings.grpc_address)
    http_host, _ = split_address(settings.http_address)
    # One parseable line: scripts and tests read the bound ports from it.
    compat = ""
    if settings.compat_address:
        compat_host, _ = split_address(settings.compat_address)
        compat = f" compat={compat_host}:{server.compat_port}"
    print(
        f"vectorizer {__version__} listening grpc={grpc_host}:{server.grpc_port} "
        f"http={http_host}:{server.http_port}{compat}",
        flush=True,
    )
    await server.wait()
    await server.drain()
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    settings = parse_settings(argv)
    worker = os.environ.get(WORKER_ENV)
    setup_logging(
        settings.log_level, settings.log_format, fields={"worker": worker} if worker else None
    )
    if settings.workers > 1:
        sys.exit(asyncio.run(supervise(settings)))
    sys.exit(asyncio.run(serve(settings)))


if __name__ == "__main__":
    main()
