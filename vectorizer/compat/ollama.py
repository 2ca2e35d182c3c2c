"""Ollama embedding API (`POST /api/embed`, and the older `/api/embeddings`).

Weaviate's text2vec-ollama posts `{"model": M, "input": [..]}` (up to 10
texts, no Content-Type) to `{apiEndpoint}/api/embed` from 1.28, and
`{"model": M, "prompt": s}` to `{apiEndpoint}/api/embeddings` in 1.27. It
reads `{"model", "embeddings": [[..]], "error": s}` and checks a non-empty
`error` before the status, so every failure here is `{"error": "..."}`.

- `/api/embed`: `{"model", "input": str | [str], "truncate": bool,
  "dimensions": int}` -> `{"model", "embeddings": [[..]], "total_duration",
  "load_duration", "prompt_eval_count"}` (durations in nanoseconds, as
  Ollama reports them). An empty `input` list gets no embeddings, as from
  Ollama. `truncate` false refuses over-long text, true truncates its end;
  absent keeps the collection's policy. `dimensions` is the caller's
  explicit choice: a size the target cannot give is a 400.
- `/api/embeddings`: `{"model", "prompt"}` -> `{"embedding": [..]}`.

Collection: `/collections/{name}/api/...`, the `X-Vectorizer-Collection`
header, a `model` naming a loaded collection, or `--default-collection`
(so Weaviate's default `nomic-embed-text` lands there). Ollama has no
purpose field: documents unless `X-Vectorizer-Purpose: query` or a
`/query/...` URL.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from vectorizer.compat.common import (
    Overrides,
    embed_texts,
    header_purpose,
    observed,
    resolve_collection,
    route_prefixes,
)
from vectorizer.compat.parsing import CompatError, positive_int, read_json
from vectorizer.compat.routing import Api


def render_error(exc: CompatError) -> web.Response:
    return web.json_response({"error": exc.message}, status=exc.status)


def owns(path: str) -> bool:
    return path.startswith("/api/")


API = Api("ollama", owns, render_error)


def _model(body: dict[str, Any]) -> str | None:
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise CompatError(400, "model must be a string")
    return model


def _input(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise CompatError(400, "input must be a string or a list of strings")


def _overrides(body: dict[str, Any]) -> Overrides:
    truncate = body.get("truncate")
    if truncate is not None and not isinstance(truncate, bool):
        raise CompatError(400, "truncate must be true or false")
    return Overrides(
        dimensions=positive_int(body.get("dimensions"), "dimensions"),
        truncate=None if truncate is None else ("END" if truncate else "NONE"),
    )


@observed("ollama_embed", render_error)
async def embed(request: web.Request) -> web.Response:
    started = time.perf_counter_ns()
    body = await read_json(request)
    model = _model(body)
    if "input" not in body:
        raise CompatError(400, "missing input: send a string or a list of strings")
    texts = _input(body["input"])
    overrides = _overrides(body)
    name, cfg = resolve_collection(request, model)
    if not texts:
        return web.json_response({"model": model or name, "embeddings": []})
    out = await embed_texts(request, texts, header_purpose(request), cfg, overrides)
    return web.json_response(
        {
            "model": model or name,
            "embeddings": out.vectors,
            "total_duration": time.perf_counter_ns() - started,
            "load_duration": 0,
            "prompt_eval_count": out.input_tokens,
        }
    )


@observed("ollama_embeddings", render_error)
async def embeddings(request: web.Request) -> web.Response:
    body = await read_json(request)
    model = _model(body)
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        raise CompatError(400, "prompt must be a string")
    _, cfg = resolve_collection(request, model)
    out = await embed_texts(request, [prompt], header_purpose(request), cfg)
    return web.json_response({"embedding": out.vectors[0]})


def register(http: web.Application) -> None:
    for prefix in route_prefixes():
        http.router.add_post(prefix + "/api/embed", embed)
        http.router.add_post(prefix + "/api/embeddings", embeddings)
