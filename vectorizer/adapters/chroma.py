"""Chroma `EmbeddingFunction` backed by the sidecar.

`VectorizerEmbeddingFunction(address, collection=..., config=...)`: Chroma
calls `__call__` for documents it stores (document purpose) and
`embed_query` for `query_texts` (query purpose), so models that embed the
two differently (Cohere, Nova) get the right input type. Registered with
Chroma as "vectorizer" so a persisted collection can rebuild it from its
config (address, collection, config, timeout; credentials are never stored).
"""

from __future__ import annotations

from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from vectorizer.client import Credentials, PurposeName, VectorizerClient


@register_embedding_function
class VectorizerEmbeddingFunction(EmbeddingFunction[Documents]):
    def __init__(
        self,
        address: str = "localhost:50051",
        *,
        collection: str | None = None,
        config: dict[str, Any] | None = None,
        credentials: Credentials | None = None,
        timeout: float = 60.0,
        space: Space = "cosine",
    ):
        self.address = address
        self.collection = collection
        self.config = config
        self.timeout = timeout
        self.space: Space = space
        self._client = VectorizerClient(
            address,
            collection=collection,
            config=config,
            credentials=credentials,
            timeout=timeout,
        )

    def _embed(self, texts: Documents, purpose: PurposeName) -> Embeddings:
        import numpy as np

        vectors = self._client.embed(list(texts), purpose=purpose)
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    def __call__(self, input: Documents) -> Embeddings:
        return self._embed(input, "document")

    def embed_query(self, input: Documents) -> Embeddings:
        return self._embed(input, "query")

    @staticmethod
    def name() -> str:
        return "vectorizer"

    def default_space(self) -> Space:
        return self.space

    def get_config(self) -> dict[str, Any]:
        return {
            "address": self.address,
            "collection": self.collection,
            "config": self.config,
            "timeout": self.timeout,
            "space": self.space,
        }

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> VectorizerEmbeddingFunction:
        return VectorizerEmbeddingFunction(
            config.get("address", "localhost:50051"),
            collection=config.get("collection"),
            config=config.get("config"),
            timeout=float(config.get("timeout", 60.0)),
            space=config.get("space", "cosine"),
        )
