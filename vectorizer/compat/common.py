"""What every HTTP compat protocol shares: collection, credentials, engine, metrics.

Parts:
- `CompatError`: a request failure with an HTTP status; each protocol renders
  it in its own error shape.
- `resolve_collection`: path `{collection}`, then the `X-Vectorizer-Collection`
  header, then a `model` that names a loaded collection, then
  `--default-collection`.
- `request_credentials`: per-request AWS keys from the text2vec-aws headers,
  else the default chain.
- `embed_texts`: limits, per-request overrides (dimensions, truncate, input
  type), one engine call; an item error fails the whole request (these APIs
  have no per-item error) naming the item index and the cause.
- `observed`: wraps a handler with metrics, a log line and the one mapping of
  errors to HTTP statuses.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from vectorizer import metrics
from vectorizer.app import App
from vectorizer.config import resolve
from vectorizer.errors import ConfigError, Kind, VectorizerError
from vectorizer.http import APP_KEY
from vectorizer.transport import AwsCredentials
from vectorizer.types import ItemError, Purpose
from vectorizer.v1 import vectorizer_pb2 as pb

log = logging.getLogger("vectorizer.compat")

COLLECTION_HEADER = "X-Vectorizer-Collection"
PURPOSE_HEADER = "X-Vectorizer-Purpose"
CREDENTIAL_HEADERS = ("X-AWS-Access-Key", "X-AWS-Secret-Key", "X-AWS-Session-Token")

# Request-level kinds -> HTTP status.
KIND_STATUS: dict[Kind, int] = {
    Kind.INVALID_ARGUMENT: 400,
    Kind.UNAUTHENTICATED: 401,
    Kind.PERMISSION_DENIED: 403,
    Kind.NOT_FOUND: 404,
    Kind.THROTTLED: 429,
    Kind.MODEL_ERROR: 502,
    Kind.INTERNAL: 500,
    Kind.UNAVAILABLE: 503,
    Kind.DEADLINE_EXCEEDED: 504,
}
# Item error codes -> the status of the whole failed request.
ITEM_STATUS: dict[str, int] = {
    "BLANK_TEXT": 400,
    "TEXT_TOO_LONG": 400,
    "INVALID_ARGUMENT": 400,
    "THROTTLED": 429,
    "MODEL_ERROR": 502,
    "UPSTREAM_UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


class CompatError(Exception):
    """A request failure: HTTP status, message, and the offending field."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str = ""):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True)
class Embedded:
    vectors: list[list[float]]
    model: str
    dimensions: int
    input_tokens: int


@dataclass(frozen=True)
class Overrides:
    """Per-request knobs the compat APIs carry; None keeps the collection's."""

    dimensions: int | None = None
    truncate: str | None = None
    input_type: str | None = None


def app_of(request: web.Request) -> App:
    return request.config_dict[APP_KEY]


def resolve_collection(
    request: web.Request, model: str | None = None
) -> tuple[str, pb.CollectionConfig]:
    app = app_of(request)
    named = request.match_info.get("collection") or request.headers.get(COLLECTION_HEADER, "")
    if not named and model and model in app.collections:
        named = model
    if not named:
        named = app.settings.default_collection
    if not named:
        raise CompatError(
            404,
            "no collection: name one in the path (/collections/{name}/...), the "
            f"{COLLECTION_HEADER} header or the model field, or start the server with "
            "--default-collection",
            param="model",
            code="collection_not_found",
        )
    cfg = app.collections.get(named)
    if cfg is None:
        known = ", ".join(sorted(app.collections)) or "none loaded"
        raise CompatError(
            404,
            f"unknown collection {named!r}; known collections: {known}",
            param="model",
            code="collection_not_found",
        )
    return named, cfg


async def request_credentials(request: web.Request, app: App) -> AwsCredentials:
    access, secret, token = (request.headers.get(h, "") for h in CREDENTIAL_HEADERS)
    if not access and not secret:
        return await app.credentials.resolve()
    if not access or not secret:
        raise CompatError(401, "X-AWS-Access-Key and X-AWS-Secret-Key must be sent together")
    return AwsCredentials(access, secret, token or None)


def header_purpose(request: web.Request, default: Purpose = Purpose.DOCUMENT) -> Purpose:
    """`X-Vectorizer-Purpose: query|document` for APIs without a purpose field."""
    raw = request.headers.get(PURPOSE_HEADER, "").strip().lower()
    if not raw:
        return default
    if raw in ("query", "search_query"):
        return Purpose.QUERY
    if raw in ("document", "search_document", "passage"):
        return Purpose.DOCUMENT
    raise CompatError(400, f"{PURPOSE_HEADER} must be query or document, got {raw[:40]!r}")


def check_texts(app: App, texts: Sequence[str]) -> None:
    limits = app.settings
    if not texts:
        raise CompatError(400, "no input: send at least one text")
    if len(texts) > limits.max_items:
        raise CompatError(
            400, f"{len(texts)} inputs exceed the limit of {limits.max_items}; split the request"
        )
    total = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)
    if total > limits.max_request_bytes:
        raise CompatError(
            400,
            f"request holds {total} bytes of text, over the limit of "
            f"{limits.max_request_bytes}; split the request",
        )


def with_overrides(cfg: pb.CollectionConfig, overrides: Overrides) -> pb.CollectionConfig:
    if overrides == Overrides():
        return cfg
    out = pb.CollectionConfig()
    out.CopyFrom(cfg)
    if overrides.dimensions is not None:
        out.dimensions = overrides.dimensions
    if overrides.truncate is not None:
        out.truncate = overrides.truncate
    if overrides.input_type is not None:
        out.input_type = overrides.input_type
    return out


def item_failure(index: int, error: ItemError, count: int) -> CompatError:
    """One failed item fails the request: name it, its cause and the rest."""
    others = f" ({count - 1} more input(s) failed too)" if count > 1 else ""
    return CompatError(
        ITEM_STATUS.get(error.code, 500),
        f"input[{index}] failed: {error.code}: {error.message}{others}",
        param="input",
        code=error.code.lower(),
    )


async def embed_texts(
    request: web.Request,
    texts: Sequence[str],
    purpose: Purpose,
    cfg: pb.CollectionConfig,
    overrides: Overrides = Overrides(),
) -> Embedded:
    app = app_of(request)
    check_texts(app, texts)
    config = resolve(with_overrides(cfg, overrides))
    prepared = app.engine.prepare(config)
    credentials = await request_credentials(request, app)
    deadline = time.monotonic() + app.settings.default_deadline
    outcome = await app.engine.embed(prepared, list(texts), purpose, credentials, deadline)
    failed = [(i, r.error) for i, r in enumerate(outcome.results) if r.error is not None]
    if failed:
        index, error = failed[0]
        raise item_failure(index, error, len(failed))
    vectors = [r.vector for r in outcome.results if r.vector is not None]
    return Embedded(vectors, outcome.model, outcome.dimensions, outcome.input_tokens)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Renderer = Callable[[CompatError], web.Response]


def observed(endpoint: str, render: Renderer) -> Callable[[Handler], Handler]:
    """Metrics and log per request; every failure rendered by the protocol."""

    def wrap(handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            started = time.perf_counter()
            request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex[:16]
            metrics.IN_FLIGHT.inc()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except CompatError as exc:
                status = exc.status
                return render(exc)
            except ConfigError as exc:
                status = 400
                return render(CompatError(400, exc.message, code="invalid_config"))
            except VectorizerError as exc:
                status = KIND_STATUS.get(exc.kind, 500)
                return render(CompatError(status, exc.message, code=exc.code.lower()))
            except Exception:  # noqa: BLE001 - the last line of defence
                log.exception("internal error", extra={"request_id": request_id})
                status = 500
                return render(
                    CompatError(
                        500, f"internal error (request id {request_id}); see the server log"
                    )
                )
            finally:
                elapsed = time.perf_counter() - started
                metrics.IN_FLIGHT.dec()
                metrics.HTTP_REQUESTS.labels(endpoint, str(status)).inc()
                metrics.HTTP_LATENCY.labels(endpoint).observe(elapsed)
                log.info(
                    "%s %s %d in %.1f ms",
                    request.method,
                    endpoint,
                    status,
                    elapsed * 1000,
                    extra={"endpoint": endpoint, "status": status, "request_id": request_id},
                )

        return run

    return wrap


async def read_json(request: web.Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise CompatError(400, "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise CompatError(400, "request body must be a JSON object")
    return body
