"""HTTP compat endpoints: stock tools talk to the sidecar in their own protocol.

One module per protocol: `transformers` (Weaviate text2vec-transformers),
`clip` (Weaviate multi2vec-clip), `openai` (OpenAI embeddings, with
`openai_limits` for its rate-limit headers), `cohere` (Cohere Embed v1 and
v2), `ollama` (Ollama /api/embed and /api/embeddings) and `tei` (Text
Embeddings Inference /embed, /info). They share `common` (collection,
credentials, engine call, metrics, logs), `parsing` (bodies and fields),
`images` (image inputs) and `routing` (which API a path belongs to).

`register_compat(http)` adds every route to an aiohttp application, plus the
outermost middleware that answers any routing or auth refusal on an API's
path in that API's error shape, and the resource that serves `//path` as
`/path`.
"""

from __future__ import annotations

from aiohttp import web

from vectorizer.compat import clip, cohere, ollama, openai, tei, transformers
from vectorizer.compat.routing import Api, SlashTolerant, compat_errors

PROTOCOLS = (transformers, clip, tei, cohere, ollama, openai)
# Matching order: Cohere owns /v1/embed before OpenAI claims the rest of /v1/.
APIS: tuple[Api, ...] = tuple(m.API for m in PROTOCOLS)


def register_compat(http: web.Application) -> None:
    for module in PROTOCOLS:
        module.register(http)
    http.router.register_resource(SlashTolerant(http.router))
    # Outermost: a refusal by the bearer check is shaped too (and stays a refusal).
    http.middlewares.insert(0, compat_errors(APIS))
