"""HTTP compat endpoints: stock tools talk to the sidecar in their own protocol.

One module per protocol (`transformers`: Weaviate text2vec-transformers,
`openai`: OpenAI embeddings, `cohere`: Cohere Embed v2), sharing `common`
(collection, credentials, engine call, metrics). `register_compat(http)`
adds every route to the side port's aiohttp application.
"""

from __future__ import annotations

from aiohttp import web

from vectorizer.compat import cohere, openai, transformers


def register_compat(http: web.Application) -> None:
    for module in (transformers, openai, cohere):
        module.register(http)
