"""Adapters for vector DB libraries that take an embedding function.

Each module imports its library, so import only the one you use:
- `vectorizer.adapters.chroma`: `VectorizerEmbeddingFunction`, a Chroma
  `EmbeddingFunction` (documents on add, queries through `embed_query`).
- `vectorizer.adapters.lancedb`: `VectorizerEmbeddings`, registered in
  LanceDB's embedding registry as "vectorizer" (source embeddings with
  document purpose, query embeddings with query purpose).
"""
