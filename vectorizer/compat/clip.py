"""Weaviate multi2vec-clip inference API, backed by a multimodal collection.

A stock Weaviate with `multi2vec-clip` and `CLIP_INFERENCE_API` pointed here
(e.g. `http://sidecar:8081/collections/images`) embeds images and texts
through Bedrock. Wire shapes follow Weaviate's clip client
(modules/multi2vec-clip/clients):

- `POST .../vectorize` `{"texts": [..] | null, "images": [base64..] | null}`
  -> `{"textVectors": [[..]], "imageVectors": [[..]], "error": ""}`, one
  vector per text and per image, in order. Errors: a status > 399 with
  `{"error": "..."}` (Weaviate reads that field).
- `GET .../.well-known/ready` and `GET .../meta`: served by the
  text2vec-transformers routes (same paths, same expectations: status
  <= 299, any JSON object).

Images are base64 (Weaviate blob properties) or data URLs. multi2vec-clip
sends documents and queries alike, so vectors are for documents unless the
`X-Vectorizer-Purpose: query` header or a `/query/...` URL says otherwise. Weaviate combines an
object's text and image vectors itself (its textFields/imageFields weights).
Collection: `/collections/{name}/vectorize`, the `X-Vectorizer-Collection`
header, or `--default-collection`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from vectorizer.compat.common import header_purpose, observed, resolve_collection, route_prefixes
from vectorizer.compat.images import decode_images, embed_items
from vectorizer.compat.parsing import CompatError, read_json
from vectorizer.compat.routing import Api


def render_error(exc: CompatError) -> web.Response:
    return web.json_response(
        {"textVectors": None, "imageVectors": None, "error": exc.message}, status=exc.status
    )


def owns(path: str) -> bool:
    return path.rstrip("/") == "/vectorize"


API = Api("clip", owns, render_error)


def _strings(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key)
    if value is None:  # Go marshals an empty slice as null
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CompatError(400, f"{key} must be a list of strings (or null)", param=key)
    return value


@observed("clip_vectorize", render_error)
async def vectorize(request: web.Request) -> web.Response:
    body = await read_json(request)
    texts = _strings(body, "texts")
    images = decode_images(_strings(body, "images"), "images")
    if not texts and not images:
        raise CompatError(400, "nothing to vectorize: send texts or images")
    _, cfg = resolve_collection(request)
    out = await embed_items(request, [*texts, *images], header_purpose(request), cfg)
    return web.json_response(
        {
            "textVectors": out.vectors[: len(texts)],
            "imageVectors": out.vectors[len(texts) :],
            "error": "",
        }
    )


def register(http: web.Application) -> None:
    for prefix in route_prefixes():
        http.router.add_post(prefix + "/vectorize", vectorize)
