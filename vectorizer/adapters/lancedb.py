"""LanceDB embedding function backed by the sidecar.

`VectorizerEmbeddings` is registered in LanceDB's registry as "vectorizer":

    from lancedb.embeddings import get_registry
    import vectorizer.adapters.lancedb  # registers "vectorizer"
    func = get_registry().get("vectorizer").create(collection="Reviews")

Rows added to a table whose schema uses `func.SourceField()` /
`func.VectorField()` are embedded with document purpose; `table.search(text)`
(vector or hybrid) embeds the query with query purpose. Fields are plain
values so LanceDB can store the function's config with the table; the
gRPC client is made on first use. `dim` saves the probe call that otherwise
learns the dimension.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from lancedb.embeddings import TextEmbeddingFunction, register
from pydantic import PrivateAttr

from vectorizer.client import PurposeName, VectorizerClient


@register("vectorizer")
class VectorizerEmbeddings(TextEmbeddingFunction):
    address: str = "localhost:50051"
    collection: str | None = None
    # A moduleConfig as JSON text (kept hashable, as LanceDB needs).
    config_json: str | None = None
    dim: int | None = None
    timeout: float = 60.0
    # The sidecar client retries failed items itself; LanceDB's own retry
    # loop on top would only repeat non-retryable errors.
    max_retries: int = 0
    _client: Any = PrivateAttr(default=None)

    def _vectorizer(self) -> VectorizerClient:
        if self._client is None:
            config = json.loads(self.config_json) if self.config_json else None
            self._client = VectorizerClient(
                self.address, collection=self.collection, config=config, timeout=self.timeout
            )
        return self._client

    def _embed(self, texts: list[str], purpose: PurposeName) -> list[np.ndarray]:
        vectors = self._vectorizer().embed(texts, purpose=purpose)
        return [np.asarray(v, dtype=np.float32) for v in vectors]

    def ndims(self) -> int:
        if self.dim is None:
            self.dim = len(self._embed(["dimension probe"], "document")[0])
        return self.dim

    def generate_embeddings(self, texts: Any, *args: Any, **kwargs: Any) -> list[Any]:
        return self._embed([str(t) for t in texts], "document")

    # LanceDB's TextEmbeddingFunction narrows this signature the same way.
    def compute_query_embeddings(  # type: ignore[override]
        self, query: str, *args: Any, **kwargs: Any
    ) -> list[Any]:
        return self._embed([query], "query")
