"""Cohere Embed v2 API (`POST /v2/embed`), backed by a collection.

Request: `{"model", "texts", "input_type", "embedding_types", "output_dimension",
"truncate"}`. `input_type`: search_document (document purpose), search_query
(query purpose), classification / clustering (passed to models that take an
input type; models without one, like Titan, embed the text the same way for
every use). `embedding_types`: only "float": int8/uint8/binary would need
the model's own quantisation, which Bedrock and SageMaker text models do not
return through our backends, and inventing it would give different vectors.
`truncate`: NONE | START | END (overrides the collection's policy).

Response: `{"id", "embeddings": {"float": [[..]]}, "texts", "meta":
{"api_version": {"version": "2"}, "billed_units": {"input_tokens"}},
"response_type": "embeddings_by_type"}`. Errors: `{"message": ...}`.

Collection: `/collections/{name}/v2/embed`, the `X-Vectorizer-Collection`
header, a `model` naming a loaded collection, or `--default-collection`.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from vectorizer.compat.common import (
    CompatError,
    Overrides,
    app_of,
    embed_texts,
    observed,
    one_of,
    positive_int,
    read_json,
    resolve_collection,
    shown,
    with_overrides,
)
from vectorizer.config import resolve
from vectorizer.errors import ConfigError
from vectorizer.types import Purpose

INPUT_TYPES = {
    "search_document": Purpose.DOCUMENT,
    "search_query": Purpose.QUERY,
    "classification": Purpose.DOCUMENT,
    "clustering": Purpose.DOCUMENT,
}
EMBEDDING_TYPES = ("float",)
TRUNCATE = ("NONE", "START", "END")
SUFFIXES = ("/v2/embed",)


def render_error(exc: CompatError) -> web.Response:
    return web.json_response({"message": exc.message}, status=exc.status)


def _texts(body: dict[str, Any]) -> list[str]:
    if body.get("images") or body.get("inputs"):
        raise CompatError(400, "only texts are supported: images and inputs are not")
    texts = body.get("texts")
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise CompatError(400, "texts must be a list of strings")
    return texts


def _input_type(body: dict[str, Any]) -> str:
    value = body.get("input_type")
    return "search_document" if value is None else one_of(value, list(INPUT_TYPES), "input_type")


def _embedding_types(body: dict[str, Any]) -> None:
    types = body.get("embedding_types")
    if types is None:
        return
    if not isinstance(types, list):
        raise CompatError(400, "embedding_types must be a list")
    unsupported = [t for t in types if t not in EMBEDDING_TYPES]
    if unsupported:
        raise CompatError(
            400,
            f"embedding_types {shown(unsupported)} not supported: only {list(EMBEDDING_TYPES)} "
            "is (quantised types need the model's own quantisation)",
        )


def _overrides(body: dict[str, Any]) -> Overrides:
    dims = positive_int(body.get("output_dimension"), "output_dimension")
    truncate = body.get("truncate")
    if truncate is not None:
        truncate = one_of(
            truncate.upper() if isinstance(truncate, str) else truncate, TRUNCATE, "truncate"
        )
    return Overrides(dimensions=dims, truncate=truncate)


def _with_input_type(request: web.Request, cfg: Any, overrides: Overrides, value: str) -> Overrides:
    """classification/clustering reach models that have input types."""
    if value in ("search_document", "search_query") or cfg.input_type:
        return overrides
    wanted = Overrides(overrides.dimensions, overrides.truncate, value)
    try:
        app_of(request).engine.prepare(resolve(with_overrides(cfg, wanted)))
    except ConfigError:
        # The model has no input-type setting (Titan): the vector is the same
        # for every use, so embedding it as a document is exact.
        return overrides
    return wanted


@observed("cohere_embed", render_error)
async def embed(request: web.Request) -> web.Response:
    body = await read_json(request)
    texts = _texts(body)
    input_type = _input_type(body)
    _embedding_types(body)
    model = body.get("model") if isinstance(body.get("model"), str) else None
    _, cfg = resolve_collection(request, model)
    overrides = _with_input_type(request, cfg, _overrides(body), input_type)
    out = await embed_texts(request, texts, INPUT_TYPES[input_type], cfg, overrides)
    return web.json_response(
        {
            "id": str(uuid.uuid4()),
            "embeddings": {"float": out.vectors},
            "texts": texts,
            "meta": {
                "api_version": {"version": "2"},
                "billed_units": {"input_tokens": out.input_tokens},
            },
            "response_type": "embeddings_by_type",
        }
    )


def register(http: web.Application) -> None:
    for prefix in ("", "/collections/{collection}"):
        http.router.add_post(prefix + "/v2/embed", embed)
