"""Weaviate text2vec-transformers inference API, backed by a collection.

A stock Weaviate with `text2vec-transformers` and `inferenceUrl` (or
`passageInferenceUrl` / `queryInferenceUrl`) pointed here vectorizes through
Bedrock or SageMaker. What Weaviate 1.27 to 1.39 send and read (its client in
usecases/modulecomponents/clients/transformers):

- `GET .../.well-known/ready` every second at start-up (any status <= 299 is
  ready): 204, or 503 while starting or draining. `.well-known/live`: 204.
- `GET .../meta`: a JSON object describing the collection's model.
- `POST .../vectors` (and `.../vectors/`), one text per request, no
  Content-Type: `{"text": s, "dims": 0, "vector": null, "error": "",
  "config": {"pooling_strategy", "task_type", "dimensions"}}` (`task_type`
  from 1.31, `dimensions` from 1.33 when the class sets it) ->
  `{"text", "vector", "dim", "dims"}`. Errors: `{"error": "..."}` (a string:
  Weaviate parses the body strictly before it looks at the status).
- Our extension: a batch `{"texts": [..], "config": ..}` -> `{"vectors", "dims"}`.

Purpose: `config.task_type` ("passage" document, "query" query) when sent,
else the URL variant (`/passage/...`, `/query/...`: the separate URLs of
versions before 1.31), else document. `pooling_strategy` is accepted and
ignored: the models pool themselves. `config.dimensions` is the class's own
setting, so a size the target cannot give is a 400 naming the sizes it can.
Collection: `/collections/{name}/...`, the `X-Vectorizer-Collection` header,
or `--default-collection`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from vectorizer import __version__
from vectorizer.compat.common import (
    Overrides,
    app_of,
    embed_texts,
    observed,
    resolve_collection,
)
from vectorizer.compat.parsing import (
    CompatError,
    one_of,
    positive_int,
    read_json,
    string_list,
)
from vectorizer.compat.routing import Api
from vectorizer.config import resolve
from vectorizer.types import Purpose

TASK_PURPOSE = {"passage": Purpose.DOCUMENT, "query": Purpose.QUERY}
PREFIXES = ("", "/collections/{collection}")
VARIANTS = {"": None, "/passage": Purpose.DOCUMENT, "/query": Purpose.QUERY}


def render_error(exc: CompatError) -> web.Response:
    # Weaviate parses the body into {text, dims, vector, error string} at any status.
    return web.json_response({"error": exc.message}, status=exc.status)


def owns(path: str) -> bool:
    return path in ("/vectors", "/vectors/", "/meta") or path.startswith("/.well-known/")


API = Api("transformers", owns, render_error)


async def live(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def ready(request: web.Request) -> web.Response:
    app = app_of(request)
    return web.Response(status=204 if app.ready and not app.draining else 503)


@observed("transformers_meta", render_error)
async def meta(request: web.Request) -> web.Response:
    name, cfg = resolve_collection(request)
    config = resolve(cfg)
    return web.json_response(
        {
            "model": {
                "service": config.service,
                "region": config.region,
                "name": config.target_name,
                "dimensions": config.options.dimensions,
            },
            "collection": name,
            "server": f"vectorizer {__version__}",
        }
    )


def _purpose(config: dict[str, Any], variant: Purpose | None) -> Purpose:
    task = config.get("task_type")
    if task in (None, ""):
        return variant or Purpose.DOCUMENT
    return TASK_PURPOSE[one_of(task, list(TASK_PURPOSE), "config.task_type")]


def vectors_handler(variant: Purpose | None) -> Any:
    @observed("transformers_vectors", render_error)
    async def vectors(request: web.Request) -> web.Response:
        body = await read_json(request)
        config = body.get("config") or {}
        if not isinstance(config, dict):
            raise CompatError(400, "config must be an object")
        purpose = _purpose(config, variant)
        _, cfg = resolve_collection(request)
        overrides = Overrides(
            dimensions=positive_int(config.get("dimensions"), "config.dimensions")
        )
        if "texts" in body:
            texts = string_list(body["texts"], "texts")
            out = await embed_texts(request, texts, purpose, cfg, overrides)
            return web.json_response({"vectors": out.vectors, "dims": out.dimensions})
        text = body.get("text")
        if not isinstance(text, str):
            raise CompatError(400, "text must be a string (or send texts: a list of strings)")
        out = await embed_texts(request, [text], purpose, cfg, overrides)
        dims = out.dimensions
        return web.json_response(
            {"text": text, "vector": out.vectors[0], "dim": dims, "dims": dims}
        )

    return vectors


def register(http: web.Application) -> None:
    for prefix in PREFIXES:
        for sub, variant in VARIANTS.items():
            base = prefix + sub
            http.router.add_get(base + "/.well-known/live", live)
            http.router.add_get(base + "/.well-known/ready", ready)
            http.router.add_get(base + "/meta", meta)
            handler = vectors_handler(variant)
            http.router.add_post(base + "/vectors", handler)
            http.router.add_post(base + "/vectors/", handler)
