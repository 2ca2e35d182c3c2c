"""Chroma's own embedding functions pointed at the sidecar: OpenAI, Ollama and
HuggingFaceEmbeddingServer (TEI), each with nothing but a URL changed, and a
real Chroma collection searched through one of them."""

from __future__ import annotations

from collections.abc import Iterator

import chromadb
import numpy as np
import pytest
from chromadb.utils.embedding_functions import (
    HuggingFaceEmbeddingServer,
    OllamaEmbeddingFunction,
    OpenAIEmbeddingFunction,
)

from tests.support import Emulator, Sidecar, start_sidecar
from vectorizer.emulator.vectors import deterministic_vector

TEXTS = ["chroma telescope nebula orbit", "chroma saucepan garlic simmer"]


@pytest.fixture(scope="module")
def side(aws_emulator: Emulator) -> Iterator[Sidecar]:
    s = start_sidecar(
        aws_emulator,
        "--collections", "examples/collections.json",
        "--default-collection", "Articles",
        "--endpoint-allowlist", aws_emulator.host_port,
    )  # fmt: skip
    yield s
    s.terminate()


def assert_articles(vectors: list) -> None:
    assert len(vectors) == len(TEXTS)
    for text, vector in zip(TEXTS, vectors, strict=True):
        np.testing.assert_allclose(vector, deterministic_vector(text, 512), atol=1e-6)


def test_openai_embedding_function(side: Sidecar, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("CHROMA_OPENAI_API_KEY", "unused-by-the-sidecar")
    ef = OpenAIEmbeddingFunction(model_name="Articles", api_base=side.http_url + "/v1")
    assert_articles(ef(TEXTS))
    # Its default model, with dimensions: the default collection, its own size.
    sized = OpenAIEmbeddingFunction(api_base=side.http_url + "/v1", dimensions=1536)
    assert [len(v) for v in sized(TEXTS)] == [512, 512]


def test_ollama_embedding_function(side: Sidecar) -> None:
    assert_articles(OllamaEmbeddingFunction(url=side.http_url, model_name="Articles")(TEXTS))
    # Its default model name lands on the default collection; /api/embeddings URLs work too.
    legacy = OllamaEmbeddingFunction(url=side.http_url + "/api/embeddings")
    assert_articles(legacy(TEXTS))


def test_huggingface_embedding_server(side: Sidecar) -> None:
    assert_articles(HuggingFaceEmbeddingServer(url=side.http_url + "/embed")(TEXTS))


def test_a_chroma_collection_searched_through_the_sidecar(side: Sidecar) -> None:
    ef = HuggingFaceEmbeddingServer(url=side.http_url + "/collections/Articles/embed")
    client = chromadb.EphemeralClient()
    docs = client.create_collection("sidecar_docs", embedding_function=ef)
    docs.add(ids=["space", "kitchen"], documents=TEXTS)
    found = docs.query(query_texts=["nebula telescope"], n_results=1)
    assert found["ids"] == [["space"]]
    stored = docs.get(ids=["kitchen"], include=["embeddings"])["embeddings"]
    np.testing.assert_allclose(stored[0], deterministic_vector(TEXTS[1], 512), atol=1e-6)
