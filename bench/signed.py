"""Raw SigV4-signed POSTs to the emulator: the baseline without the sidecar.

- `signed_headers`: botocore's SigV4 headers for one Bedrock InvokeModel body.
- `AiohttpPoster` / `HttpxPoster`: one pooled client each, same interface:
  `await poster.invoke(model, body) -> (status, parsed JSON)`.
- `timed_calls`: `concurrency` callers, one call per body, each timed.

Both clients sign every request (as a real caller must), parse the JSON
answer (a caller needs the vector), and keep connections alive.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = "us-east-1"


def credentials() -> Credentials:
    return Credentials(
        os.environ.get("AWS_ACCESS_KEY_ID", "AKIDBENCH000000001"),
        os.environ.get("AWS_SECRET_ACCESS_KEY", "bench-secret-000000001"),
    )


def invoke_url(base: str, model: str) -> str:
    return f"{base.rstrip('/')}/model/{quote(model, safe='-._~')}/invoke"


def signed_headers(url: str, body: bytes, creds: Credentials) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    SigV4Auth(creds, "bedrock", REGION).add_auth(request)
    return dict(request.headers.items())


class Poster(Protocol):
    async def invoke(self, model: str, body: bytes) -> tuple[int, Any]: ...

    async def close(self) -> None: ...


class AiohttpPoster:
    def __init__(self, base: str, pool: int = 256):
        import aiohttp
        from yarl import URL

        self._url = URL
        self._base = base
        self._creds = credentials()
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=pool))

    async def invoke(self, model: str, body: bytes) -> tuple[int, Any]:
        url = invoke_url(self._base, model)
        headers = signed_headers(url, body, self._creds)
        async with self._session.post(
            self._url(url, encoded=True), data=body, headers=headers
        ) as resp:
            raw = await resp.read()
            return resp.status, json.loads(raw)

    async def close(self) -> None:
        await self._session.close()


class HttpxPoster:
    def __init__(self, base: str, pool: int = 256):
        import httpx

        self._base = base
        self._creds = credentials()
        self._client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
            timeout=60.0,
        )

    async def invoke(self, model: str, body: bytes) -> tuple[int, Any]:
        url = invoke_url(self._base, model)
        headers = signed_headers(url, body, self._creds)
        resp = await self._client.post(url, content=body, headers=headers)
        return resp.status_code, json.loads(resp.content)

    async def close(self) -> None:
        await self._client.aclose()


@dataclass
class CallRun:
    latencies: list[float]
    errors: int
    wall: float


async def timed_calls(
    poster: Poster, model: str, bodies: Sequence[bytes], *, concurrency: int
) -> CallRun:
    latencies: list[float] = []
    errors = 0
    todo = iter(bodies)

    async def caller() -> None:
        nonlocal errors
        for body in todo:
            began = time.perf_counter()
            try:
                status, _ = await poster.invoke(model, body)
            except Exception:  # noqa: BLE001 - counted, the run goes on
                status = 0
            if status == 200:
                latencies.append(time.perf_counter() - began)
            else:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return CallRun(latencies, errors, time.perf_counter() - started)


def titan_body(text: str) -> bytes:
    return json.dumps({"inputText": text}).encode()
