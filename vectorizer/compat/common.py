"""What every HTTP compat protocol shares: collection, credentials, engine, metrics.

Parts:
- `resolve_collection`: path `{collection}`, then the `X-Vectorizer-Collection`
  header, then a `model` that names a loaded collection, then
  `--default-collection`. Any other model name (a stock client's default such
  as `text-embedding-3-small`) lands on the default collection.
- `route_prefixes`, `header_purpose`: every route is also served under
  `/collections/{name}`, `/query` and `/passage` (and both); the purpose of
  APIs without a purpose field comes from `X-Vectorizer-Purpose`, else that URL.
- `request_credentials`: per-request AWS keys from the text2vec-aws headers,
  else the default chain.
- `fitted_dimensions`: a requested size the target can give, or none (for
  APIs whose clients send their own model's default size unasked).
- `embed_items`: limits, per-request overrides (dimensions, truncate, input
  type), one engine call; every item comes back as a vector or its error,
  with the target's limiter state (`TargetLoad`) for rate-limit headers.
  `embed_texts` is the same for APIs without per-item errors: one failed item
  fails the request, naming the item and the cause.
- `observed`: wraps a handler with metrics, the call's log line (request id,
  collection, model, items, duration: `vectorizer.observe.log_call`, as the
  gRPC calls) and the one mapping of errors to HTTP statuses; messages are
  scrubbed of the call's credentials. Every answer carries `X-Request-Id`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from vectorizer import metrics
from vectorizer.app import App
from vectorizer.compat.parsing import CompatError, check_items
from vectorizer.config import resolve
from vectorizer.errors import ConfigError, Kind, VectorizerError
from vectorizer.http import APP_KEY
from vectorizer.inputs import Item, describe
from vectorizer.observe import log_call, request_id, scrubber
from vectorizer.transport import AwsCredentials
from vectorizer.types import ItemError, ItemResult, Purpose
from vectorizer.v1 import vectorizer_pb2 as pb

log = logging.getLogger("vectorizer.compat")

COLLECTION_HEADER = "X-Vectorizer-Collection"
PURPOSE_HEADER = "X-Vectorizer-Purpose"
CREDENTIAL_HEADERS = ("X-AWS-Access-Key", "X-AWS-Secret-Key", "X-AWS-Session-Token")
_URL_PURPOSE = re.compile(r"^/*(?:collections/[^/]*/+)?(passage|query)/")
# Where a handler's helpers leave the call's log fields (collection, model, items).
CALL_INFO = "vectorizer.call_info"

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
    "TEXT_TOO_LARGE": 400,
    "INVALID_UTF8": 400,
    "INVALID_ARGUMENT": 400,
    # Image limits and unsupported media: the caller's input.
    "IMAGE_INVALID": 400,
    "IMAGE_TOO_LARGE": 400,
    "IMAGE_FORMAT_UNSUPPORTED": 400,
    "IMAGE_DIMENSIONS": 400,
    "IMAGE_SOURCE_UNSUPPORTED": 400,
    "MEDIA_NOT_SUPPORTED": 400,
    "THROTTLED": 429,
    "MODEL_ERROR": 502,
    "UPSTREAM_UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


@dataclass(frozen=True)
class TargetLoad:
    """The target's limiter right after a call: what rate-limit headers derive from."""

    rate: float  # upstream calls per second the adaptive limiter allows now
    backlog: int  # upstream calls in flight or queued on it
    texts_per_call: int  # texts one upstream call carries
    token_rate: float | None = None  # input tokens per second, once the limiter paces tokens


@dataclass(frozen=True)
class Outcome:
    """Every item's result, in input order, and what the call learned."""

    results: list[ItemResult]
    model: str
    dimensions: int
    input_tokens: int
    load: TargetLoad


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


def call_info(request: web.Request) -> dict[str, Any]:
    """This call's log fields; `observed` logs them when the call ends."""
    info = request.get(CALL_INFO)
    if info is None:
        info = request[CALL_INFO] = {}
    return info


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
    # Logged only once known: a loaded name, never the caller's free text.
    call_info(request)["collection"] = named
    return named, cfg


async def request_credentials(request: web.Request, app: App) -> AwsCredentials:
    access, secret, token = (request.headers.get(h, "") for h in CREDENTIAL_HEADERS)
    if not access and not secret:
        return await app.credentials.resolve()
    if not access or not secret:
        raise CompatError(401, "X-AWS-Access-Key and X-AWS-Secret-Key must be sent together")
    if not all(value.isascii() and value.isprintable() for value in (access, secret, token)):
        # AWS keys and tokens are printable ASCII; anything else cannot be signed with.
        raise CompatError(401, "X-AWS-* credential headers must be printable ASCII")
    return AwsCredentials(access, secret, token or None)


def route_prefixes() -> list[str]:
    """Where every compat route is also served: a collection, a purpose, or both."""
    return [c + p for c in ("", "/collections/{collection}") for p in ("", "/passage", "/query")]


def url_purpose(request: web.Request) -> Purpose | None:
    """The purpose a `/query/...` or `/passage/...` URL names, if any."""
    match = _URL_PURPOSE.match(request.path)
    if match is None:
        return None
    return Purpose.QUERY if match.group(1) == "query" else Purpose.DOCUMENT


def header_purpose(request: web.Request, default: Purpose | None = None) -> Purpose:
    """`X-Vectorizer-Purpose: query|document` for APIs without a purpose field;
    else the URL's purpose, else `default`, else document."""
    raw = request.headers.get(PURPOSE_HEADER, "").strip().lower()
    if not raw:
        return default or url_purpose(request) or Purpose.DOCUMENT
    if raw in ("query", "search_query"):
        return Purpose.QUERY
    if raw in ("document", "search_document", "passage"):
        return Purpose.DOCUMENT
    raise CompatError(400, f"{PURPOSE_HEADER} must be query or document, got {raw[:40]!r}")


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


def fitted_dimensions(request: web.Request, cfg: pb.CollectionConfig, dims: int | None) -> bool:
    """Whether the collection's target can give `dims` (None: nothing asked, True).

    False only when `dims` alone is the problem: a collection that is itself
    unusable still fails with its own error later.
    """
    if dims is None:
        return True
    engine = app_of(request).engine
    try:
        engine.prepare(resolve(with_overrides(cfg, Overrides(dimensions=dims))))
        return True
    except ConfigError:
        pass
    try:
        engine.prepare(resolve(cfg))
    except ConfigError:
        return True  # the collection's own error, reported by the embedding call
    return False


def status_of(error: ItemError) -> int:
    status = ITEM_STATUS.get(error.code)
    if status is None:
        kind = next((k for k in Kind if k.value == error.code), Kind.INTERNAL)
        status = KIND_STATUS[kind]
    return status


def item_failure(index: int, error: ItemError, count: int) -> CompatError:
    """One failed item fails the request: name it, its cause and the rest."""
    others = f" ({count - 1} more input(s) failed too)" if count > 1 else ""
    return CompatError(
        status_of(error),
        f"input[{index}] failed: {error.code}: {error.message}{others}",
        param="input",
        code=error.code.lower(),
    )


def raise_if_all_failed(results: Sequence[ItemResult]) -> None:
    """No vector at all: the request fails with the first item's error."""
    failed = [(i, r.error) for i, r in enumerate(results) if r.error is not None]
    if failed and len(failed) == len(results):
        index, error = failed[0]
        raise item_failure(index, error, len(failed))


async def embed_items(
    request: web.Request,
    texts: Sequence[Item],
    purpose: Purpose,
    cfg: pb.CollectionConfig,
    overrides: Overrides = Overrides(),
) -> Outcome:
    app = app_of(request)
    info = call_info(request)
    info["items"] = len(texts)
    check_items(app.settings, texts)
    if app.settings.log_inputs:
        # Opt-in only (--log-inputs): input text is user data; images by hash and size.
        info["inputs"] = [describe(t) for t in texts]
    config = resolve(with_overrides(cfg, overrides))
    prepared = app.engine.prepare(config)
    info["model"] = app.engine.label(prepared)
    credentials = await request_credentials(request, app)
    deadline = time.monotonic() + app.settings.default_deadline
    outcome = await app.engine.embed(prepared, list(texts), purpose, credentials, deadline)
    limiter = app.engine.limiter(prepared, credentials)
    load = TargetLoad(
        rate=limiter.rate,
        backlog=limiter.in_flight + limiter.waiting,
        texts_per_call=max(1, prepared.max_batch_size),
        token_rate=limiter.token_rate,
    )
    return Outcome(outcome.results, outcome.model, outcome.dimensions, outcome.input_tokens, load)


async def embed_texts(
    request: web.Request,
    texts: Sequence[Item],
    purpose: Purpose,
    cfg: pb.CollectionConfig,
    overrides: Overrides = Overrides(),
) -> Embedded:
    """Every text's vector, or a request failure naming the first failed item."""
    out = await embed_items(request, texts, purpose, cfg, overrides)
    failed = [(i, r.error) for i, r in enumerate(out.results) if r.error is not None]
    if failed:
        index, error = failed[0]
        raise item_failure(index, error, len(failed))
    # JSON answers need Python floats: one C-speed tolist per vector.
    vectors = [r.vector.tolist() for r in out.results if r.vector is not None]
    return Embedded(vectors, out.model, out.dimensions, out.input_tokens)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Renderer = Callable[[CompatError], web.Response]


def observed(endpoint: str, render: Renderer) -> Callable[[Handler], Handler]:
    """Metrics and log per request; every failure rendered by the protocol."""

    def wrap(handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            started = time.perf_counter()
            info = call_info(request)
            info["request_id"] = request_id(request.headers.get("X-Request-Id"))
            metrics.IN_FLIGHT.inc()
            status = 500
            try:
                try:
                    response = await handler(request)
                except Exception as exc:  # noqa: BLE001 - every failure gets the API's shape
                    error = as_compat_error(exc, info["request_id"])
                    # Upstream messages can echo what was signed: never this call's keys.
                    error.message = scrubber(request.headers.items())(error.message)
                    info["error"] = error.message
                    response = render(error)
                status = response.status
                # Callers quote it in their errors (Weaviate's OpenAI client does).
                response.headers["X-Request-Id"] = info["request_id"]
                return response
            finally:
                elapsed = time.perf_counter() - started
                metrics.IN_FLIGHT.dec()
                metrics.HTTP_REQUESTS.labels(endpoint, str(status)).inc()
                metrics.HTTP_LATENCY.labels(endpoint).observe(elapsed)
                fields = {"endpoint": endpoint, "status": status}
                log_call(log, f"{request.method} {endpoint}", str(status), elapsed, fields, info)

        return run

    return wrap


def as_compat_error(exc: Exception, request_id: str) -> CompatError:
    """The one mapping of failures to HTTP statuses; unexpected ones are logged."""
    if isinstance(exc, CompatError):
        return exc
    if isinstance(exc, ConfigError):
        return CompatError(400, exc.message, code="invalid_config")
    if isinstance(exc, VectorizerError):
        return CompatError(KIND_STATUS.get(exc.kind, 500), exc.message, code=exc.code.lower())
    if isinstance(exc, web.HTTPException) and exc.status >= 400:
        return CompatError(exc.status, exc.reason)
    log.exception("internal error", extra={"request_id": request_id})
    return CompatError(500, f"internal error (request id {request_id}); see the server log")
