"""A headless Service's DNS on loopback: one name answering with the addresses
of the replicas that are up now, as Kubernetes' cluster DNS does for a
headless Service (one A record per ready pod).

Replicas listen on distinct loopback addresses (127.0.0.1, 127.0.0.2, ...)
and one port; gRPC clients reach them through the target
`dns://127.0.0.1:<dns port>/<name>:<port>` (c-ares, gRPC's default resolver,
asks the server named in the target). Answers carry a 1 s TTL; a gRPC
channel looks the name up again when a connection closes, at most every
`grpc.dns_min_time_between_resolutions_ms` (30 s unless set).
"""

from __future__ import annotations

import threading

from dnslib import QTYPE, RR, A
from dnslib.server import BaseResolver, DNSServer

NAME = "vectorizer-grpc.vectorizer.svc.cluster.local"


class _Resolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, name: str):
        self.name = name.rstrip(".")
        self.addresses: list[str] = []
        self.queries = 0
        self.lock = threading.Lock()

    def resolve(self, request, handler):  # type: ignore[no-untyped-def]
        reply = request.reply()
        q = request.q
        with self.lock:
            self.queries += 1
            addresses = list(self.addresses)
        if q.qtype == QTYPE.A and str(q.qname).rstrip(".") == self.name:
            for address in addresses:
                reply.add_answer(RR(q.qname, QTYPE.A, rdata=A(address), ttl=1))
        return reply


class _Quiet:
    """dnslib's logger, silenced: one line per query otherwise."""

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return lambda *args, **kwargs: None


class HeadlessDns:
    """A UDP DNS server on 127.0.0.1 for one name; `set(addresses)` changes the answer."""

    def __init__(self, name: str = NAME):
        self.resolver = _Resolver(name)
        self.server = DNSServer(self.resolver, port=0, address="127.0.0.1", logger=_Quiet())
        self.server.start_thread()
        self.port = int(self.server.server.server_address[1])

    def target(self, port: int) -> str:
        return f"dns://127.0.0.1:{self.port}/{self.resolver.name}:{port}"

    def set(self, addresses: list[str]) -> None:
        with self.resolver.lock:
            self.resolver.addresses = list(addresses)

    @property
    def queries(self) -> int:
        return self.resolver.queries

    def stop(self) -> None:
        self.server.stop()
