"""Credentials, SigV4 signing and pooled async HTTP to AWS.

- `AwsCredentials`: one caller's keys; `identity` is a hash, safe to use in
  cache keys and limiter keys; `repr` never shows the secret.
- `CredentialSource`: the standard AWS chain (env incl. the AWS_ACCESS_KEY /
  AWS_SECRET_KEY aliases, profiles, SSO, web identity, container, IMDS).
- `endpoint_base`: the service's base URL, honouring the SDK-wide endpoint
  override variables exactly as the AWS SDKs do.
- `AwsTransport`: signs a request with SigV4 (`sigv4.Signer`: the signing
  key kept per credential and day) and sends it on a shared aiohttp
  connection pool; answers `HttpAnswer` or raises `UpstreamError` for
  transport faults (timeout, reset, truncated body). What only depends on
  the URL (the host check, the parsed URL) is worked out once per URL.
  `post` is the JSON POST of InvokeModel and InvokeEndpoint; `send` any
  method with any body (GetAsyncInvoke, and S3 with its payload-hash header,
  signed by botocore's S3 signer).

Why aiohttp: 2,000 SigV4-signed POSTs to the local emulator (latency 0) at
concurrency 64 took 0.87 s with aiohttp 3.14 against 7.2 s with httpx 0.28
(AsyncClient, HTTP/1.1, one pooled client each), and the client process spent
0.43 ms of CPU per call against 3.6 ms (2 cores; `make bench`, figures in
bench/RESULTS.md).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlsplit

import aiohttp
import botocore.session
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.credentials import RefreshableCredentials
from yarl import URL

from vectorizer.errors import (
    Kind,
    UpstreamError,
    VectorizerError,
    classify_aws_error,
    transport_error,
)
from vectorizer.sigv4 import Signer

log = logging.getLogger(__name__)

# Service id -> (endpoint env suffix, default host pattern, signing name).
SERVICES = {
    "bedrock": ("BEDROCK_RUNTIME", "bedrock-runtime.{region}.{suffix}", "bedrock"),
    "sagemaker": ("SAGEMAKER_RUNTIME", "runtime.sagemaker.{region}.{suffix}", "sagemaker"),
    # Media jobs: staging uploads and asynchronous-invoke output (`vectorizer.s3`).
    "s3": ("S3", "s3.{region}.{suffix}", "s3"),
}
AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
# Refreshable credentials with less than this left go through a thread to
# refresh; botocore refreshes inside 15 minutes (advisory) and 10 (mandatory),
# so with more left `get_frozen_credentials` returns at once, without I/O.
FRESH_SECONDS = 20 * 60
# URLs whose host check passed, kept with their parsed form (one per target).
_URLS_KEPT = 1024


@dataclass(frozen=True)
class AwsCredentials:
    access_key: str
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)
    source: str = "request"

    @cached_property
    def identity(self) -> str:
        """A one-way hash naming this credential (cache and limiter keys)."""
        digest = hashlib.sha256(f"{self.access_key}\0{self.secret_key}".encode())
        return digest.hexdigest()[:32]

    def __repr__(self) -> str:  # never print secrets, even in tracebacks
        return f"AwsCredentials(access_key=***{self.access_key[-4:]}, source={self.source})"


class CredentialSource:
    """The default AWS credential chain, resolved lazily and refreshed by botocore."""

    def __init__(self, env: Mapping[str, str] | None = None):
        self._env = os.environ if env is None else env
        self._session = botocore.session.get_session()
        self._boto_creds: BotoCredentials | None = None
        self._last: AwsCredentials | None = None
        self._lock = asyncio.Lock()

    def _alias_credentials(self) -> AwsCredentials | None:
        # text2vec-aws accepts AWS_ACCESS_KEY / AWS_SECRET_KEY; the SDK chain doesn't.
        env = self._env
        if env.get("AWS_ACCESS_KEY_ID") or not env.get("AWS_ACCESS_KEY"):
            return None
        secret = env.get("AWS_SECRET_ACCESS_KEY") or env.get("AWS_SECRET_KEY")
        if not secret:
            return None
        return AwsCredentials(env["AWS_ACCESS_KEY"], secret, env.get("AWS_SESSION_TOKEN"), "env")

    async def resolve(self) -> AwsCredentials:
        alias = self._alias_credentials()
        if alias is not None:
            return alias
        if self._boto_creds is None:
            async with self._lock:
                if self._boto_creds is None:
                    # The chain may hit the network (IMDS, STS): keep it off the loop.
                    self._boto_creds = await asyncio.to_thread(self._session.get_credentials)
        if self._boto_creds is None:
            raise VectorizerError(
                Kind.UNAUTHENTICATED,
                "no AWS credentials: send x-aws-access-key / x-aws-secret-key metadata, or give "
                "the server credentials (environment, profile, web identity, instance role)",
            )
        boto = self._boto_creds
        if isinstance(boto, RefreshableCredentials) and boto.refresh_needed(FRESH_SECONDS):
            # A refresh may call STS or IMDS: keep it off the loop.
            frozen = await asyncio.to_thread(boto.get_frozen_credentials)
        else:
            # Static keys, or keys valid for longer than botocore's refresh
            # windows: no I/O, so no thread hop (it cost ~15% of a cache hit's CPU).
            frozen = boto.get_frozen_credentials()
        last = self._last
        if (
            last is None
            or last.access_key != frozen.access_key
            or last.secret_key != frozen.secret_key
            or last.token != frozen.token
        ):
            # One object per key set: its identity hash is computed once.
            last = self._last = AwsCredentials(
                frozen.access_key, frozen.secret_key, frozen.token, "chain"
            )
        return last


def endpoint_base(
    service: str, region: str, env: Mapping[str, str] | None = None
) -> tuple[str, bool]:
    """(base URL, overridden?) for `service` in `region`.

    The service-specific AWS_ENDPOINT_URL_<SERVICE> wins over AWS_ENDPOINT_URL;
    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true disables both, as in the SDKs.
    """
    env = os.environ if env is None else env
    env_suffix, pattern, _ = SERVICES[service]
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() != "true":
        for name in (f"AWS_ENDPOINT_URL_{env_suffix}", "AWS_ENDPOINT_URL"):
            if env.get(name):
                return env[name].rstrip("/"), True
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return "https://" + pattern.format(region=region, suffix=suffix), False


def is_aws_host(host: str) -> bool:
    return any(host.endswith(s) for s in AWS_HOST_SUFFIXES)


@dataclass
class HttpAnswer:
    status: int
    headers: Mapping[str, str]
    body: bytes


def aws_error_code(answer: HttpAnswer) -> tuple[str, str]:
    """(error code, message) of an AWS rest-json error answer."""
    code = answer.headers.get("x-amzn-ErrorType", "").split(":", 1)[0]
    message = ""
    try:
        data = json.loads(answer.body or b"{}")
        if isinstance(data, dict):
            message = str(data.get("message") or data.get("Message") or "")
            code = code or str(data.get("__type") or data.get("code") or "").rsplit("#", 1)[-1]
    except ValueError:
        message = answer.body[:200].decode("utf-8", "replace")
    return code, message[:1000]


class AwsTransport:
    """Signs and sends requests to AWS on one pooled aiohttp session."""

    def __init__(
        self,
        *,
        trusted_hosts: tuple[str, ...] = (),
        timeout: float = 30.0,
        pool_size: int = 256,
        env: Mapping[str, str] | None = None,
    ):
        self._env = os.environ if env is None else env
        self._timeout = timeout
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        # Besides AWS, signed requests may go to the operator's allowlist
        # ("host" admits any port, "host:port" only that one) and to the exact
        # host:port of an endpoint override the operator configured.
        self.allowlist = frozenset(h.lower() for h in trusted_hosts if h)
        overrides = set()
        for service in SERVICES:
            base, overridden = endpoint_base(service, "us-east-1", self._env)
            if overridden:
                overrides.add(urlsplit(base).netloc.lower())
        self.override_netlocs = frozenset(overrides)
        self.signer = Signer()
        self._urls: dict[str, URL] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size, ttl_dns_cache=300, keepalive_timeout=30
            )
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=True, skip_auto_headers=("User-Agent",)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def check_host(self, url: str) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme == "https" and is_aws_host(host):
            return
        netloc = parts.netloc.lower()
        if netloc in self.override_netlocs or netloc in self.allowlist or host in self.allowlist:
            return
        raise VectorizerError(
            Kind.INVALID_ARGUMENT,
            f"refusing to send signed requests to {host!r}: not an AWS host and not allowlisted "
            "(add it with --endpoint-allowlist / VECTORIZER_ENDPOINT_ALLOWLIST)",
        )

    def _checked_url(self, url: str) -> URL:
        """`url` parsed, once its host passed `check_host` (cached per URL)."""
        parsed = self._urls.get(url)
        if parsed is None:
            self.check_host(url)
            if len(self._urls) >= _URLS_KEPT:
                self._urls.clear()
            parsed = self._urls[url] = URL(url, encoded=True)
        return parsed

    async def post(
        self,
        *,
        service: str,
        region: str,
        url: str,
        body: bytes,
        credentials: AwsCredentials,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        target: str = "",
    ) -> HttpAnswer:
        """Sign and POST; returns any HTTP answer, raises on transport faults."""
        target_url = self._checked_url(url)
        signing_name = SERVICES[service][2]
        base = {"Content-Type": "application/json", "Accept": "application/json"}
        signed = self.signer.sign(
            "POST",
            url,
            {**base, **headers} if headers else base,
            body,
            credentials,
            region,
            signing_name,
        )
        return await self._exchange("POST", target_url, body, signed, timeout, target)

    async def send(
        self,
        method: str,
        *,
        service: str,
        region: str,
        url: str,
        credentials: AwsCredentials,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        target: str = "",
    ) -> HttpAnswer:
        """Sign and send any request; returns any HTTP answer, raises on transport faults.

        S3 is signed with botocore's S3 signer, which adds the
        x-amz-content-sha256 header S3 requires.
        """
        self.check_host(url)
        signing_name = SERVICES[service][2]
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        signer = S3SigV4Auth if signing_name == "s3" else SigV4Auth
        signer(
            BotoCredentials(credentials.access_key, credentials.secret_key, credentials.token),
            signing_name,
            region,
        ).add_auth(request)
        signed = dict(request.headers.items())
        # Not through the URL cache: S3 object URLs are seldom asked for twice.
        target_url = URL(url, encoded=True)
        return await self._exchange(method, target_url, body or None, signed, timeout, target)

    async def _exchange(
        self,
        method: str,
        url: URL,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: float | None,
        target: str,
    ) -> HttpAnswer:
        """Send a signed request on the pool; transport faults become `UpstreamError`s."""
        wait = self._timeout if timeout is None else max(0.001, min(timeout, self._timeout))
        try:
            async with self._client().request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=wait),
            ) as resp:
                payload = await resp.read()
                return HttpAnswer(resp.status, resp.headers, payload)
        except asyncio.TimeoutError:
            raise transport_error(
                "timeout", f"no answer within {wait:.1f}s", target=target
            ) from None
        except aiohttp.ClientPayloadError as exc:
            raise transport_error(
                "truncated", f"incomplete response body ({type(exc).__name__})", target=target
            ) from None
        except (aiohttp.ClientConnectionError, ConnectionError) as exc:
            raise transport_error(
                "reset", f"connection failed ({type(exc).__name__})", target=target
            ) from None


def error_from_answer(answer: HttpAnswer, target: str) -> UpstreamError:
    code, message = aws_error_code(answer)
    return classify_aws_error(answer.status, code, message, target=target)
