"""The HTTP side port: /healthz, /readyz, /metrics, and the compat APIs.

`make_http_app(app)` returns an aiohttp application; compat endpoints
(text2vec-transformers, OpenAI, Cohere, Ollama, TEI) register their routes
from their own modules. The optional compat listener serves the same app
without /metrics.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from vectorizer import metrics
from vectorizer.app import App
from vectorizer.auth import BearerAuth, bearer_middleware

APP_KEY: web.AppKey[App] = web.AppKey("vectorizer_app", App)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    if app.ready and not app.draining:
        return web.json_response({"status": "ready"})
    state = "draining" if app.draining else "starting"
    return web.json_response({"status": state, "notes": app.notes}, status=503)


async def metrics_endpoint(request: web.Request) -> web.Response:
    body = metrics.exposition()
    resp = web.Response(body=body)
    resp.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    resp.charset = "utf-8"
    return resp


def make_http_app(
    app: App, auth: BearerAuth | None = None, *, compat_only: bool = False
) -> web.Application:
    """The side port's routes; with `auth`, all but health need the bearer token.

    `compat_only`: the compat listener's app (--compat-address): the compat
    APIs and health, without /metrics.
    """
    http = web.Application(
        client_max_size=app.settings.max_request_bytes + 1024 * 1024,
        middlewares=[bearer_middleware(auth)] if auth is not None else [],
    )
    http[APP_KEY] = app
    http.router.add_get("/healthz", healthz)
    http.router.add_get("/readyz", readyz)
    if not compat_only:
        http.router.add_get("/metrics", metrics_endpoint)
    from vectorizer.compat import register_compat  # here: compat imports APP_KEY from us

    register_compat(http)
    return http
