"""Text Embeddings Inference API (`POST /embed`, `GET /info`, `GET /health`).

The native API of Hugging Face's TEI server, which Chroma's
HuggingFaceEmbeddingServer, Milvus's TEI text-embedding function,
Elasticsearch's inference API and LangChain speak: each works here with a
URL change.

- `POST /embed`: `{"inputs": str | [str], "normalize": bool (true),
  "truncate": bool | null, "truncation_direction": "Left" | "Right",
  "prompt_name": str | null, "dimensions": int | null}` -> `[[..], ..]`, one
  vector per input, in order. `normalize` true L2-normalises the vectors
  here; false returns them as the model gives them. `truncate` true cuts
  over-long text at the direction's end (Right: keep the start), false
  refuses it, null keeps the collection's policy (TEI: the server's
  `--auto-truncate`). `prompt_name` carries the purpose: query /
  search_query for queries, passage / document / search_document for
  documents; any other name is refused, as TEI refuses a prompt the model
  does not define. Token-id inputs are refused: the models take text.
- `GET /info`: the served model (`model_id` the Bedrock model or SageMaker
  endpoint, `served_model_name` the collection) and the sidecar's limits.
- `GET /health`: 200 when ready, 503 otherwise.

Errors: `{"error": str, "error_type": str}` with TEI's types and statuses:
Validation 422 (413 for a body over the limit), Empty 400, Overloaded 429,
Unhealthy 503, Backend 424 (an upstream or model failure). A refused token
is 401 and an unknown collection 404, typed Validation (TEI has no own type
for them). A deadline is 504 typed Backend.

`/embed_all` (per-token vectors) is not offered: Bedrock and SageMaker
embedding models return pooled vectors only.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from vectorizer import __version__
from vectorizer.backends.families import family_for_model, l2_normalize
from vectorizer.compat.common import (
    Overrides,
    app_of,
    embed_texts,
    header_purpose,
    observed,
    resolve_collection,
    route_prefixes,
)
from vectorizer.compat.parsing import CompatError, positive_int, read_json
from vectorizer.compat.routing import Api
from vectorizer.config import resolve
from vectorizer.types import Purpose

PATHS = ("/embed", "/info", "/health", "/embed_all", "/embed_sparse", "/tokenize", "/decode")
PROMPT_PURPOSE = {
    "query": Purpose.QUERY,
    "search_query": Purpose.QUERY,
    "passage": Purpose.DOCUMENT,
    "document": Purpose.DOCUMENT,
    "search_document": Purpose.DOCUMENT,
}
DIRECTION_TRUNCATE = {"right": "END", "left": "START"}
# Our status -> TEI's (status, error_type).
STATUS_TYPE: dict[int, tuple[int, str]] = {
    400: (422, "Validation"),
    413: (413, "Validation"),
    415: (422, "Validation"),
    429: (429, "Overloaded"),
    500: (424, "Backend"),
    502: (424, "Backend"),
    503: (503, "Unhealthy"),
    504: (504, "Backend"),
}


def render_error(exc: CompatError) -> web.Response:
    if exc.code == "empty":
        status, kind = 400, "Empty"
    else:
        status, kind = STATUS_TYPE.get(exc.status, (exc.status, "Validation"))
    return web.json_response({"error": exc.message, "error_type": kind}, status=status)


def owns(path: str) -> bool:
    return path.rstrip("/") in PATHS


API = Api("tei", owns, render_error)


def _inputs(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        if not value:
            raise CompatError(400, "Batch is empty: send at least one input", code="empty")
        if all(isinstance(v, str) for v in value):
            return value
        if any(isinstance(v, (int, list)) and not isinstance(v, bool) for v in value):
            raise CompatError(
                400, "token-id inputs are not supported: the upstream models take text"
            )
    raise CompatError(400, "inputs must be a string or a list of strings")


def _flag(body: dict[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise CompatError(400, f"{name} must be true, false or null")
    return value


def _truncate(body: dict[str, Any]) -> str | None:
    truncate = _flag(body, "truncate")
    direction = body.get("truncation_direction", "Right")
    if not isinstance(direction, str) or direction.lower() not in DIRECTION_TRUNCATE:
        raise CompatError(400, "truncation_direction must be Left or Right")
    if truncate is None:
        return None
    return DIRECTION_TRUNCATE[direction.lower()] if truncate else "NONE"


def _purpose(request: web.Request, body: dict[str, Any]) -> Purpose:
    name = body.get("prompt_name")
    if name is None:
        return header_purpose(request)
    if not isinstance(name, str) or name.lower() not in PROMPT_PURPOSE:
        known = ", ".join(PROMPT_PURPOSE)
        raise CompatError(400, f"prompt_name {str(name)[:40]!r} is not known: use one of {known}")
    return PROMPT_PURPOSE[name.lower()]


@observed("tei_embed", render_error)
async def embed(request: web.Request) -> web.Response:
    body = await read_json(request)
    if "inputs" not in body:
        raise CompatError(400, "missing field `inputs`")
    texts = _inputs(body["inputs"])
    normalize = _flag(body, "normalize")
    overrides = Overrides(
        dimensions=positive_int(body.get("dimensions"), "dimensions"), truncate=_truncate(body)
    )
    purpose = _purpose(request, body)
    _, cfg = resolve_collection(request)
    out = await embed_texts(request, texts, purpose, cfg, overrides)
    vectors = out.vectors
    if normalize is not False:
        vectors = [l2_normalize(v).tolist() for v in vectors]
    return web.json_response(vectors)


@observed("tei_info", render_error)
async def info(request: web.Request) -> web.Response:
    app = app_of(request)
    name, cfg = resolve_collection(request)
    config = resolve(cfg)
    family = family_for_model(config.target_name) if config.service == "bedrock" else None
    max_tokens = family.spec.max_tokens if family and family.spec.max_tokens else None
    truncate = config.options.truncate
    return web.json_response(
        {
            "model_id": config.target_name,
            "model_sha": None,
            "model_dtype": "float32",
            # The model pools its own output: no TEI pooling mode applies.
            "model_type": {"embedding": {"pooling": "upstream"}},
            "served_model_name": name,
            "max_concurrent_requests": app.settings.max_concurrency,
            # Unknown for a SageMaker endpoint: the sidecar's own per-text bound.
            "max_input_length": max_tokens or app.settings.max_text_bytes // 4,
            "max_batch_tokens": app.settings.max_request_bytes // 4,
            "max_batch_requests": None,
            "max_client_batch_size": app.settings.max_items,
            "auto_truncate": truncate is not None and truncate.value != "NONE",
            "tokenization_workers": 0,
            "version": __version__,
            "sha": None,
            "docker_label": None,
        }
    )


async def health(request: web.Request) -> web.Response:
    app = app_of(request)
    if app.ready and not app.draining:
        return web.Response(status=200)
    return web.json_response(
        {"error": "not ready: starting or draining", "error_type": "Unhealthy"}, status=503
    )


def register(http: web.Application) -> None:
    for prefix in route_prefixes():
        http.router.add_post(prefix + "/embed", embed)
        http.router.add_get(prefix + "/info", info)
        http.router.add_get(prefix + "/health", health)
