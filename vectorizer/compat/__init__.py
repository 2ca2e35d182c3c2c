"""HTTP compat endpoints: stock tools talk to the sidecar in their own protocol.

One module per protocol (`transformers`: Weaviate text2vec-transformers,
`openai`: OpenAI embeddings, `cohere`: Cohere Embed v2, `clip`: Weaviate
multi2vec-clip), sharing `common`
(collection, credentials, engine call, metrics, logs). `register_compat(http)`
adds every route to the side port's aiohttp application, and a middleware
that answers a wrong method or path under a protocol's route in that
protocol's error shape.
"""

from __future__ import annotations

from aiohttp import web

from vectorizer.compat import clip, cohere, openai, transformers
from vectorizer.compat.common import routing_errors

PROTOCOLS = (transformers, openai, cohere, clip)


def register_compat(http: web.Application) -> None:
    for module in PROTOCOLS:
        module.register(http)
    # Appended after the auth middleware (if any): a refused call stays refused.
    http.middlewares.append(routing_errors([(m.SUFFIXES, m.render_error) for m in PROTOCOLS]))
