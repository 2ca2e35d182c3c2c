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
- `read_json`, `positive_int`, `one_of`: request parsing that answers any
  malformed body or field with a 4xx naming it, never an exception.
- `observed`: wraps a handler with metrics, the call's log line (request id,
  collection, model, items, duration: `vectorizer.observe.log_call`, as the
  gRPC calls) and the one mapping of errors to HTTP statuses; messages are
  scrubbed of the call's credentials.
- `routing_errors`: middleware giving aiohttp's own 404/405/413 on a compat
  path that protocol's error shape.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from vectorizer import metrics
from vectorizer.app import App
from vectorizer.config import resolve
from vectorizer.errors import ConfigError, Kind, VectorizerError
from vectorizer.http import APP_KEY
from vectorizer.observe import log_call, request_id, scrubber
from vectorizer.transport import AwsCredentials
from vectorizer.types import ItemError, Purpose
from vectorizer.v1 import vectorizer_pb2 as pb

log = logging.getLogger("vectorizer.compat")

COLLECTION_HEADER = "X-Vectorizer-Collection"
PURPOSE_HEADER = "X-Vectorizer-Purpose"
CREDENTIAL_HEADERS = ("X-AWS-Access-Key", "X-AWS-Secret-Key", "X-AWS-Session-Token")
# Collection dimensions are a proto int32; larger values cannot even be asked for.
MAX_INT32 = 2**31 - 1
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


def call_info(request: web.Request) -> dict[str, Any]:
    """This call's log fields; `observed` logs them when the call ends."""
    info = request.get(CALL_INFO)
    if info is None:
        info = request[CALL_INFO] = {}
    return info


def shown(value: object, limit: int = 40) -> str:
    """A caller's value quoted for an error message, bounded."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def positive_int(value: object, name: str, *, param: str | None = None) -> int | None:
    """None, or a positive integer that fits the proto field; else a 400 naming `name`."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_INT32:
        raise CompatError(
            400, f"{name} must be a positive integer, got {shown(value)}", param=param or name
        )
    return value


def one_of(value: object, choices: Sequence[str], name: str, *, param: str | None = None) -> str:
    """`value` if it is one of the string `choices`; else a 400 listing them."""
    if not isinstance(value, str) or value not in choices:
        raise CompatError(
            400,
            f"invalid {name} {shown(value)}: must be one of {', '.join(choices)}",
            param=param or name,
        )
    return value


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
    """The limits of --max-items, --max-request-bytes and --max-text-bytes, and
    text that UTF-8 cannot carry (a JSON lone surrogate such as \\ud800)."""
    limits = app.settings
    if not texts:
        raise CompatError(400, "no input: send at least one text", param="input")
    if len(texts) > limits.max_items:
        raise CompatError(
            400,
            f"{len(texts)} inputs exceed the limit of {limits.max_items}; split the request",
            param="input",
        )
    sizes = utf8_sizes(texts)
    if sum(sizes) > limits.max_request_bytes:
        raise CompatError(
            400,
            f"request holds {sum(sizes)} bytes of text, over the limit of "
            f"{limits.max_request_bytes}; split the request",
            param="input",
        )
    for index, size in enumerate(sizes):
        if size > limits.max_text_bytes:
            raise CompatError(
                400,
                f"input[{index}] is {size} bytes of UTF-8, over the limit of "
                f"{limits.max_text_bytes} per text (--max-text-bytes); shorten or split it",
                param="input",
                code="text_too_large",
            )


def utf8_sizes(texts: Sequence[str]) -> list[int]:
    """Each text's UTF-8 size; a text UTF-8 cannot carry is a 400 naming it."""
    sizes = []
    for index, text in enumerate(texts):
        try:
            sizes.append(len(text.encode("utf-8")))
        except UnicodeEncodeError:
            raise CompatError(
                400,
                f"input[{index}] is not valid Unicode (it holds a lone surrogate); send UTF-8 text",
                param="input",
                code="invalid_utf8",
            ) from None
    return sizes


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
    status = ITEM_STATUS.get(error.code)
    if status is None:
        kind = next((k for k in Kind if k.value == error.code), Kind.INTERNAL)
        status = KIND_STATUS[kind]
    return CompatError(
        status,
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
    info = call_info(request)
    info["items"] = len(texts)
    check_texts(app, texts)
    if app.settings.log_inputs:
        # Opt-in only (--log-inputs): input text is user data.
        info["inputs"] = list(texts)
    config = resolve(with_overrides(cfg, overrides))
    prepared = app.engine.prepare(config)
    info["model"] = app.engine.label(prepared)
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
            info = call_info(request)
            info["request_id"] = request_id(request.headers.get("X-Request-Id"))
            metrics.IN_FLIGHT.inc()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except Exception as exc:  # noqa: BLE001 - every failure gets the API's shape
                error = as_compat_error(exc, info["request_id"])
                # Upstream messages can echo what was signed: never this call's keys.
                error.message = scrubber(request.headers.items())(error.message)
                status = error.status
                info["error"] = error.message
                return render(error)
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


async def read_json(request: web.Request) -> dict:
    """The body as a JSON object; anything else is a 4xx saying what is wrong."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        limit = request.client_max_size
        raise CompatError(
            413, f"request body is over the limit of {limit} bytes; split the request"
        ) from None
    except (web.RequestPayloadError, HttpProcessingError, ConnectionError):
        # A broken chunked stream, or the caller went away mid-body.
        raise CompatError(400, "request body cannot be read: malformed or cut short") from None
    raw = decompressed(raw, request.headers.get("Content-Encoding", ""), request.client_max_size)
    charset = request.charset or "utf-8"
    try:
        body = json.loads(raw.decode(charset))
    except LookupError:
        raise CompatError(400, f"unknown charset {shown(charset)} in Content-Type") from None
    except (ValueError, RecursionError):
        # ValueError covers undecodable bytes too; RecursionError, absurd nesting.
        raise CompatError(400, "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise CompatError(400, "request body must be a JSON object")
    return body


def decompressed(raw: bytes, encoding: str, limit: int) -> bytes:
    """The body under its Content-Encoding (identity, gzip or deflate), at most `limit` bytes.

    The server hands bodies over undecoded (server.py), so a bad one is this
    request's 400, and a small bomb cannot inflate past the size limit.
    """
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return raw
    if name not in ("gzip", "x-gzip", "deflate"):
        raise CompatError(
            415, f"Content-Encoding {shown(encoding)} not supported: use gzip or deflate, or none"
        )
    # wbits 32 + 15: zlib reads a gzip or a zlib header, whichever is there.
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error:
        raise CompatError(400, f"request body is not valid {name} data") from None
    if len(out) > limit:
        raise CompatError(
            413, f"request body inflates past the limit of {limit} bytes; split the request"
        )
    if not inflater.eof:
        raise CompatError(400, f"request body is truncated {name} data")
    return out


def routing_errors(shapes: Sequence[tuple[tuple[str, ...], Renderer]]) -> Any:
    """aiohttp middleware: 404/405/413 raised by aiohttp on a compat path (matched
    by its suffix) in that protocol's error shape, instead of plain text."""

    @web.middleware
    async def compat_routing_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            path = request.path.rstrip("/")
            render = next((r for suffixes, r in shapes if path.endswith(suffixes)), None)
            if exc.status < 400 or render is None:
                raise
            message = exc.reason
            if isinstance(exc, web.HTTPMethodNotAllowed):
                allowed = ", ".join(sorted(exc.allowed_methods))
                message = f"method {request.method[:20]} not allowed here; use {allowed}"
            response = render(CompatError(exc.status, message))
            if "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
            return response

    return compat_routing_errors
