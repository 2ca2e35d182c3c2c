"""Cohere Embed API, v2 (`POST /v2/embed`) and v1 (`POST /v1/embed`), backed by a collection.

Weaviate's text2vec-cohere posts to `{baseURL}/v2/embed` from 1.28 and to
`{baseURL}/v1/embed` in 1.27; both carry `texts` (at most 96), `model`,
`input_type` (search_document for objects, search_query for queries) and
`truncate` (default END); v2 adds `embedding_types: ["float"]` and, from
1.35, `output_dimension` when the class sets one.

Request fields: `input_type`: search_document (document purpose),
search_query (query purpose), classification / clustering (passed to models
that take an input type; models without one, like Titan, embed the text the
same way for every use). `embedding_types`: only "float": int8/uint8/binary
would need the model's own quantisation, which Bedrock and SageMaker text
models do not return through our backends, and inventing it would give
different vectors. `truncate`: NONE | START | END, and LEFT / RIGHT as
Cohere's older names for START / END (overrides the collection's policy).
`output_dimension`: the caller's explicit choice, so a size the target cannot
give is a 400 naming the sizes it can.

Responses:
- v2: `{"id", "embeddings": {"float": [[..]]}, "texts", "meta":
  {"api_version": {"version": "2"}, "billed_units": {"input_tokens"}},
  "response_type": "embeddings_by_type"}`.
- v1: the same with `"embeddings": [[..]]` and `"response_type":
  "embeddings_floats"`, or the v2 `embeddings` object when the request named
  `embedding_types` (as Cohere's v1 does).
Errors: `{"message": ...}` (both versions).

Collection: `/collections/{name}/v2/embed`, the `X-Vectorizer-Collection`
header, a `model` naming a loaded collection, or `--default-collection` (so
Weaviate's default `embed-multilingual-v3.0` lands there; 1.27 accepts only
Cohere's own model names, so there the path or the default names it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from vectorizer.compat.common import (
    Embedded,
    Overrides,
    app_of,
    embed_texts,
    observed,
    resolve_collection,
    with_overrides,
)
from vectorizer.compat.parsing import (
    CompatError,
    one_of,
    positive_int,
    read_json,
    shown,
    string_list,
)
from vectorizer.compat.routing import Api
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
TRUNCATE = ("NONE", "START", "END", "LEFT", "RIGHT")
TRUNCATE_ALIASES = {"LEFT": "START", "RIGHT": "END"}


def render_error(exc: CompatError) -> web.Response:
    return web.json_response({"message": exc.message}, status=exc.status)


def owns(path: str) -> bool:
    return path.startswith("/v2/") or path.rstrip("/") == "/v1/embed"


API = Api("cohere", owns, render_error)


@dataclass(frozen=True)
class EmbedCall:
    texts: list[str]
    by_type: bool  # the request named embedding_types
    embedded: Embedded


def _texts(body: dict[str, Any]) -> list[str]:
    if body.get("images") or body.get("inputs"):
        raise CompatError(400, "only texts are supported: images and inputs are not")
    return string_list(body.get("texts"), "texts")


def _input_type(body: dict[str, Any]) -> str:
    value = body.get("input_type")
    return "search_document" if value is None else one_of(value, list(INPUT_TYPES), "input_type")


def _embedding_types(body: dict[str, Any]) -> bool:
    """Whether the request names embedding types (all of them supported), else a 400."""
    types = body.get("embedding_types")
    if types is None:
        return False
    if not isinstance(types, list):
        raise CompatError(400, "embedding_types must be a list")
    unsupported = [t for t in types if t not in EMBEDDING_TYPES]
    if unsupported:
        raise CompatError(
            400,
            f"embedding_types {shown(unsupported)} not supported: only {list(EMBEDDING_TYPES)} "
            "is (quantised types need the model's own quantisation)",
        )
    return True


def _overrides(body: dict[str, Any]) -> Overrides:
    dims = positive_int(body.get("output_dimension"), "output_dimension")
    truncate = body.get("truncate")
    if truncate is not None:
        truncate = one_of(
            truncate.upper() if isinstance(truncate, str) else truncate, TRUNCATE, "truncate"
        )
        truncate = TRUNCATE_ALIASES.get(truncate, truncate)
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


async def _embed(request: web.Request) -> EmbedCall:
    body = await read_json(request)
    texts = _texts(body)
    input_type = _input_type(body)
    by_type = _embedding_types(body)
    model = body.get("model") if isinstance(body.get("model"), str) else None
    _, cfg = resolve_collection(request, model)
    overrides = _with_input_type(request, cfg, _overrides(body), input_type)
    out = await embed_texts(request, texts, INPUT_TYPES[input_type], cfg, overrides)
    return EmbedCall(texts, by_type, out)


def _answer(call: EmbedCall, version: str, embeddings: Any, response_type: str) -> web.Response:
    return web.json_response(
        {
            "id": str(uuid.uuid4()),
            "embeddings": embeddings,
            "texts": call.texts,
            "meta": {
                "api_version": {"version": version},
                "billed_units": {"input_tokens": call.embedded.input_tokens},
            },
            "response_type": response_type,
        }
    )


@observed("cohere_embed", render_error)
async def embed(request: web.Request) -> web.Response:
    call = await _embed(request)
    return _answer(call, "2", {"float": call.embedded.vectors}, "embeddings_by_type")


@observed("cohere_embed_v1", render_error)
async def embed_v1(request: web.Request) -> web.Response:
    call = await _embed(request)
    if call.by_type:
        return _answer(call, "1", {"float": call.embedded.vectors}, "embeddings_by_type")
    return _answer(call, "1", call.embedded.vectors, "embeddings_floats")


def register(http: web.Application) -> None:
    for prefix in ("", "/collections/{collection}"):
        http.router.add_post(prefix + "/v2/embed", embed)
        http.router.add_post(prefix + "/v1/embed", embed_v1)
