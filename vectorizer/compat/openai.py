"""OpenAI embeddings API (`POST /v1/embeddings`), backed by a collection.

Request: `{"input": str | [str], "model", "encoding_format": "float"|"base64",
"dimensions", "user"}`. Token-id inputs (a list of ints, or of int lists) are
refused with 400: the upstream models take text, and decoding ids would need
OpenAI's tokenizer, which we do not have.

Response: `{"object": "list", "data": [{"object": "embedding", "index",
"embedding"}], "model", "usage": {"prompt_tokens", "total_tokens"}}`; base64
is the little-endian float32 bytes of each vector. Usage counts are the
tokens the upstream model reported (0 where it reports none).

Errors: `{"error": {"message", "type", "param", "code"}}`.

Collection: `/collections/{name}/v1/embeddings`, the `X-Vectorizer-Collection`
header, a `model` naming a loaded collection, or `--default-collection`.
OpenAI has no purpose field: documents unless `X-Vectorizer-Purpose: query`.
For a collection whose model takes images, an input that is a
`data:image/<type>;base64,` URL is embedded as an image (as LiteLLM does).
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from aiohttp import web

from vectorizer.compat.common import (
    CompatError,
    Overrides,
    embed_texts,
    header_purpose,
    observed,
    one_of,
    positive_int,
    read_json,
    resolve_collection,
)
from vectorizer.compat.images import embed_items, with_images

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
}
SUFFIXES = ("/v1/embeddings",)
ENCODINGS = ("float", "base64")


def render_error(exc: CompatError) -> web.Response:
    kind = ERROR_TYPES.get(
        exc.status, "server_error" if exc.status >= 500 else "invalid_request_error"
    )
    return web.json_response(
        {
            "error": {
                "message": exc.message,
                "type": kind,
                "param": exc.param,
                "code": exc.code or None,
            }
        },
        status=exc.status,
    )


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


def encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector


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
    # Multimodal models: `data:image/...;base64,` inputs are images.
    items = with_images(texts, cfg, "input")
    purpose, overrides = header_purpose(request), Overrides(dims)
    if items is None:
        out = await embed_texts(request, texts, purpose, cfg, overrides)
    else:
        out = await embed_items(request, items, purpose, cfg, overrides)
    return web.json_response(
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": encode(v, encoding)}
                for i, v in enumerate(out.vectors)
            ],
            "model": model or out.model,
            "usage": {"prompt_tokens": out.input_tokens, "total_tokens": out.input_tokens},
        }
    )


def register(http: web.Application) -> None:
    for prefix in ("", "/collections/{collection}"):
        http.router.add_post(prefix + "/v1/embeddings", embeddings)
