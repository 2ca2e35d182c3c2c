"""AWS Signature Version 4 for the sidecar's requests, with the costly parts kept.

botocore's `SigV4Auth` rebuilds everything on every request: a request
object, the URL parsed twice, and the signing key, four chained HMAC-SHA256
steps over the secret that only change with the day, the Region and the
service. Here the per-request work is the part that really differs per
request (the body's hash, the timestamp, the final HMAC), and the rest is
kept:

- `SigningKeys`: the derived key per (credential, date, Region, service),
  a small LRU. The key is kDate = HMAC("AWS4" + secret, date), kRegion =
  HMAC(kDate, region), kService = HMAC(kRegion, service), kSigning =
  HMAC(kService, "aws4_request") (AWS: "Create a signed AWS API request").
- `url_parts`: per URL, the Host header value, the canonical URI (each path
  segment URI-encoded again, dot segments and empty segments removed, as
  for every service but S3) and the canonical query string; cached.
- `Signer.sign`: the headers to send for one request, Authorization included.

The canonical request is METHOD, URI, query, the signed headers (lower-case
names, sorted, values with whitespace runs collapsed), their names, and the
body's SHA-256; the string to sign is the algorithm, the timestamp, the
credential scope and the canonical request's SHA-256. A unit test holds the
result equal to botocore's `SigV4Auth` header for the same request and time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
# Headers botocore leaves out of the signature (hop-by-hop, tracing, agent):
# a proxy or the HTTP client may change them.
UNSIGNED_HEADERS = frozenset(
    {
        "authorization",
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
# Headers `Signer.sign` sets itself; a caller's own values are dropped.
_SET_HERE = frozenset({"authorization", "host", "x-amz-date", "x-amz-security-token"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_KEYS_KEPT = 256


class Credentials(Protocol):
    @property
    def access_key(self) -> str: ...
    @property
    def secret_key(self) -> str: ...
    @property
    def token(self) -> str | None: ...
    @property
    def identity(self) -> str: ...


@dataclass(frozen=True)
class UrlParts:
    host: str  # the Host header value: lower-case host, port only when not the default
    canonical_uri: str
    canonical_query: str


@lru_cache(maxsize=1024)
def url_parts(url: str) -> UrlParts:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return UrlParts(host, _canonical_uri(parts.path), _canonical_query(parts.query))


def _canonical_uri(path: str) -> str:
    segments = [s for s in path.split("/") if s and s != "."]
    kept: list[str] = []
    for s in segments:
        if s == "..":
            if kept:
                kept.pop()
        else:
            kept.append(s)
    if not path:
        normalized = "/"
    else:
        lead = "/" if path.startswith("/") else ""
        trail = "/" if path.endswith("/") and kept else ""
        normalized = lead + "/".join(kept) + trail
    return quote(normalized, safe="/~")


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = sorted(pair.partition("=")[::2] for pair in query.split("&"))
    return "&".join(f"{k}={v}" for k, v in pairs)


class SigningKeys:
    """Derived signing keys, newest kept; one derivation per credential and day."""

    def __init__(self, capacity: int = _KEYS_KEPT):
        self._keys: OrderedDict[tuple[str, str, str, str], bytes] = OrderedDict()
        self._capacity = capacity
        self.derived = 0  # how many keys were computed (tests, curiosity)

    def get(self, credentials: Credentials, date: str, region: str, service: str) -> bytes:
        # The identity is a hash of the key pair: the secret is no dict key.
        cache_key = (credentials.identity, date, region, service)
        key = self._keys.get(cache_key)
        if key is not None:
            self._keys.move_to_end(cache_key)
            return key
        key = _hmac(("AWS4" + credentials.secret_key).encode(), date)
        for part in (region, service, "aws4_request"):
            key = _hmac(key, part)
        self.derived += 1
        self._keys[cache_key] = key
        if len(self._keys) > self._capacity:
            self._keys.popitem(last=False)
        return key


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class Signer:
    """Signs requests; the clock is injected so tests pin the timestamp."""

    def __init__(self, clock: Callable[[], float] = time.time, keys: SigningKeys | None = None):
        self._clock = clock
        self.keys = keys or SigningKeys()
        self._second = -1
        self._stamp = ""

    def _timestamp(self) -> str:
        second = int(self._clock())
        if second != self._second:
            self._stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))
            self._second = second
        return self._stamp

    def sign(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        credentials: Credentials,
        region: str,
        service: str,
    ) -> dict[str, str]:
        """`headers` plus Host, X-Amz-Date, X-Amz-Security-Token and Authorization."""
        parts = url_parts(url)
        stamp = self._timestamp()
        out = {k: v for k, v in headers.items() if k.lower() not in _SET_HERE}
        out["Host"] = parts.host
        out["X-Amz-Date"] = stamp
        if credentials.token:
            out["X-Amz-Security-Token"] = credentials.token
        signed: dict[str, str] = {}
        for name, value in out.items():
            lname = name.lower()
            if lname in UNSIGNED_HEADERS:
                continue
            value = " ".join(value.split())
            signed[lname] = f"{signed[lname]},{value}" if lname in signed else value
        names = sorted(signed)
        signed_names = ";".join(names)
        canonical = "\n".join(
            (
                method.upper(),
                parts.canonical_uri,
                parts.canonical_query,
                "".join(f"{n}:{signed[n]}\n" for n in names),
                signed_names,
                hashlib.sha256(body).hexdigest(),
            )
        )
        date = stamp[:8]
        scope = f"{date}/{region}/{service}/aws4_request"
        to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = self.keys.get(credentials, date, region, service)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        out["Authorization"] = (
            f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_names}, Signature={signature}"
        )
        return out
