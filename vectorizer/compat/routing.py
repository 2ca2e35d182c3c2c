"""Which API a path belongs to, so every answer on it has that API's shape.

- `Api`: a protocol's name, the paths it owns and its error renderer.
- `api_for(apis, path)`: the API owning a path, judged by prefix once the
  optional `/collections/{name}` and `/passage` | `/query` parts are
  dropped; None for the side port's own routes (/healthz, /readyz,
  /metrics). Any other unknown path gets `FALLBACK_RENDER`, whose
  `{"error": str}` body every stock client here can read.
- `compat_errors(apis)`: the outermost middleware. An aiohttp 404/405/413, or
  the bearer check's 401, on an API's path is answered in that API's shape.
- `SlashTolerant`: a resource that retries a path holding `//` with the
  slashes merged: Weaviate's transformers, Cohere and Ollama clients join the
  base URL and the path by concatenation, so a base URL ending in `/` sends
  `//vectors`. Redirecting would not do: Weaviate's clients do not follow.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_urldispatcher import (
    AbstractResource,
    AbstractRoute,
    MatchInfoError,
    UrlMappingMatchInfo,
)
from yarl import URL

from vectorizer.compat.parsing import CompatError, shown

Renderer = Callable[[CompatError], web.Response]

OWN_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
_SLASHES = re.compile(r"/{2,}")
_COLLECTION = re.compile(r"^/collections/[^/]*")
_PURPOSE = re.compile(r"^/(passage|query)(?=/|$)")


@dataclass(frozen=True)
class Api:
    name: str
    owns: Callable[[str], bool]  # called with the bare path (see `bare_path`)
    render: Renderer


def bare_path(path: str) -> str:
    """The path an API sees: slashes merged, collection and purpose parts dropped."""
    path = _SLASHES.sub("/", path)
    path = _COLLECTION.sub("", path, count=1)
    path = _PURPOSE.sub("", path, count=1)
    return path or "/"


def api_for(apis: Sequence[Api], path: str) -> Api | None:
    if _SLASHES.sub("/", path).rstrip("/") in OWN_ROUTES:
        return None
    bare = bare_path(path)
    return next((api for api in apis if api.owns(bare)), None)


def fallback_render(exc: CompatError) -> web.Response:
    """Unknown paths: an `error` string, as transformers, Ollama and TEI callers read."""
    return web.json_response({"error": exc.message}, status=exc.status)


def compat_errors(apis: Sequence[Api]) -> Any:
    """aiohttp middleware: routing and auth refusals in the shape of the path's API."""

    @web.middleware
    async def compat_routing_errors(
        request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            # The path as routed: an escaped "/" (%2F) in a segment stays one segment.
            path = request.rel_url.raw_path
            if exc.status < 400 or _SLASHES.sub("/", path).rstrip("/") in OWN_ROUTES:
                raise
            api = api_for(apis, path)
            render = api.render if api is not None else fallback_render
            response = render(CompatError(exc.status, _message(request, exc)))
            for name in ("Allow", "WWW-Authenticate"):
                if name in exc.headers:
                    response.headers[name] = exc.headers[name]
            return response

    return compat_routing_errors


def _message(request: web.Request, exc: web.HTTPException) -> str:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return f"method {request.method[:20]} not allowed here; use {allowed}"
    if isinstance(exc, web.HTTPNotFound):
        return f"no such route: {request.method[:20]} {shown(request.path, 80)}"
    if exc.content_type == "application/json" and exc.text:
        # The bearer check's refusal: keep its wording, drop its own shape.
        try:
            return str(json.loads(exc.text)["error"]["message"])
        except (ValueError, KeyError, TypeError):
            pass
    return exc.reason


class SlashTolerant(AbstractResource):
    """Matches `//a//b` as `/a/b` when nothing matched it as sent."""

    def __init__(self, router: web.UrlDispatcher):
        super().__init__(name=None)
        self._router = router

    @property
    def canonical(self) -> str:
        return "/"  # indexed at the root: tried after every real resource

    def url_for(self, **kwargs: str) -> URL:
        raise NotImplementedError("SlashTolerant builds no URLs")

    def add_prefix(self, prefix: str) -> None:
        raise NotImplementedError("SlashTolerant cannot be prefixed")

    def get_info(self) -> Any:  # aiohttp's TypedDict for this is private
        return {"path": "//"}

    def raw_match(self, path: str) -> bool:
        return False

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(())

    async def resolve(self, request: web.Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        path = request.rel_url.path
        if "//" not in path:
            return None, set()
        merged = request.clone(rel_url=request.rel_url.with_path(_SLASHES.sub("/", path)))
        match = await self._router.resolve(merged)
        if isinstance(match, MatchInfoError):
            allowed: set[str] = getattr(match.http_exception, "allowed_methods", set())
            return None, set(allowed)
        return match, set()
