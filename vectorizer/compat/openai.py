"""OpenAI embeddings API (`POST /v1/embeddings`), backed by a collection.

Request: `{"input": str | [str], "model", "encoding_format": "float"|"base64",
"dimensions", "user"}`. Token-id inputs (a list of ints, or of int lists) are
refused with 400: the upstream models take text, and decoding ids would need
OpenAI's tokenizer, which we do not have.

Response: `{"object": "list", "data": [{"object": "embedding", "index",
"embedding"}], "model", "usage": {"prompt_tokens", "total_tokens"}}`; base64
is the little-endian float32 bytes of each vector. Usage counts are the
tokens the upstream model reported (0 where it reports none). Every answer
carries the six `x-ratelimit-*` headers (`openai_limits`): Weaviate batches
only once it has seen them.

A bad item does not fail the others: its entry carries `"error": {message,
type, param, code}` and an empty embedding, which Weaviate's client reads to
fail that object alone. Only when no item got a vector does the request fail,
with `{"error": {"message", "type", "param", "code"}}` and its status.

Paths: `/v1/embeddings`, `/v1/v1/embeddings` (a base URL that already ends
in /v1, joined by Weaviate with /v1/embeddings) and `/embeddings` (an SDK
base URL without /v1).

Collection: `/collections/{name}/v1/embeddings`, the `X-Vectorizer-Collection`
header, a `model` naming a loaded collection, or `--default-collection` (so
Weaviate's default `text-embedding-3-small` lands there). `dimensions`: a
size the collection's target can give is honoured; any other is ignored and
the answer says so in `X-Vectorizer-Ignored-Dimensions` (stock clients send
their model's default, 1536 or 3072, unasked). OpenAI has no purpose field:
documents unless `X-Vectorizer-Purpose: query` or a `/query/...` URL (for
Weaviate, an `X-Openai-Baseurl` header ending in /query on search requests).
For a collection whose model takes images, an input that is a
`data:image/<type>;base64,` URL is embedded as an image (as LiteLLM does).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np
from aiohttp import web

from vectorizer.compat.common import (
    Overrides,
    call_info,
    embed_items,
    fitted_dimensions,
    header_purpose,
    observed,
    raise_if_all_failed,
    resolve_collection,
    route_prefixes,
    status_of,
)
from vectorizer.compat.images import with_images
from vectorizer.compat.openai_limits import rate_limits, tokens_per_text
from vectorizer.compat.parsing import CompatError, one_of, positive_int, read_json
from vectorizer.compat.routing import Api
from vectorizer.types import ItemError
from vectorizer.vectors import Vector

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
}
PATHS = ("/v1/embeddings", "/v1/v1/embeddings", "/embeddings")
ENCODINGS = ("float", "base64")
IGNORED_DIMENSIONS_HEADER = "X-Vectorizer-Ignored-Dimensions"


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")


def error_body(status: int, message: str, param: str | None, code: str | None) -> dict:
    return {"message": message, "type": error_type(status), "param": param, "code": code}


def render_error(exc: CompatError) -> web.Response:
    code = exc.code or ("invalid_api_key" if exc.status == 401 else None)
    return web.json_response(
        {"error": error_body(exc.status, exc.message, exc.param, code)}, status=exc.status
    )


def owns(path: str) -> bool:
    # /v1/embed is Cohere's (Weaviate 1.27); every other /v1/ path is OpenAI's.
    return (path.startswith("/v1/") and path.rstrip("/") != "/v1/embed") or path == "/embeddings"


API = Api("openai", owns, render_error)


def parse_input(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(v, str) for v in value):
            return value
        if all(isinstance(v, int) for v in value) or all(isinstance(v, list) for v in value):
            raise CompatError(
                400,
                "token arrays are not supported: the upstream models take text; send the "
                "input as a string or a list of strings",
                param="input",
                code="unsupported_input",
            )
    if isinstance(value, list) and not value:
        raise CompatError(400, "input must not be empty", param="input")
    raise CompatError(400, "input must be a string or a list of strings", param="input")


def encode(vector: Sequence[float] | Vector, encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    # JSON needs Python floats: one C-speed tolist per vector.
    return np.asarray(vector, dtype=np.float32).tolist()  # type: ignore[no-any-return]


def item_entry(
    index: int, vector: Vector | None, error: ItemError | None, encoding: str
) -> dict[str, Any]:
    if error is None and vector is not None:
        return {"object": "embedding", "index": index, "embedding": encode(vector, encoding)}
    assert error is not None
    return {
        "object": "embedding",
        "index": index,
        "embedding": encode([], encoding),
        "error": error_body(
            status_of(error), f"{error.code}: {error.message}", "input", error.code.lower()
        ),
    }


def _encoding(body: dict[str, Any]) -> str:
    value = body.get("encoding_format")
    return "float" if value is None else one_of(value, ENCODINGS, "encoding_format")


@observed("openai_embeddings", render_error)
async def embeddings(request: web.Request) -> web.Response:
    body = await read_json(request)
    if "input" not in body:
        raise CompatError(400, "missing required parameter: input", param="input")
    texts = parse_input(body["input"])
    encoding = _encoding(body)
    dims = positive_int(body.get("dimensions"), "dimensions")
    model = body.get("model")
    model = model if isinstance(model, str) else None
    _, cfg = resolve_collection(request, model)
    headers: dict[str, str] = {}
    if not fitted_dimensions(request, cfg, dims):
        headers[IGNORED_DIMENSIONS_HEADER] = str(dims)
        call_info(request)["ignored_dimensions"] = dims
        dims = None
    # Multimodal models: `data:image/...;base64,` inputs are images.
    items = with_images(texts, cfg, "input") or texts
    out = await embed_items(request, items, header_purpose(request), cfg, Overrides(dims))
    raise_if_all_failed(out.results)
    # Images count as items, not as text bytes, in the token estimate.
    embedded = [
        t if isinstance(t, str) else ""
        for t, r in zip(items, out.results, strict=True)
        if r.vector is not None
    ]
    headers.update(rate_limits(out.load, tokens_per_text(embedded, out.input_tokens)).headers())
    data = [item_entry(i, r.vector, r.error, encoding) for i, r in enumerate(out.results)]
    return web.json_response(
        {
            "object": "list",
            "data": data,
            "model": model or out.model,
            "usage": {"prompt_tokens": out.input_tokens, "total_tokens": out.input_tokens},
        },
        headers=headers,
    )


def register(http: web.Application) -> None:
    for prefix in route_prefixes():
        for path in PATHS:
            http.router.add_post(prefix + path, embeddings)
