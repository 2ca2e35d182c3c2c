"""A real embedded vector DB (LanceDB) doing near-text and hybrid search through the sidecar.

The test makes a labelled corpus: 12 topics, each with its own vocabulary,
25 documents per topic, every document with a unique made-up name. It
imports the corpus through the LanceDB adapter (document purpose), builds
LanceDB's native full-text index, then asks two kinds of question through
the same adapter (query purpose):

- topic queries (three topic words): precision@5, the share of the top 5
  that belong to the topic;
- known-item queries (a document's unique name plus one topic word):
  recall@5, whether that document is in the top 5.

Both run as near-text (vector only) and hybrid (vector + BM25 full text,
fused with LanceDB's RRF reranker). The emulator's vectors are hashed
character n-grams: honest lexical similarity, not semantics, so the floors
below are about lexical overlap. The collection is Cohere, so the purpose
reaches the wire as input_type, which the test checks on the emulator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import lancedb
import pytest
from lancedb.embeddings import get_registry
from lancedb.index import FTS
from lancedb.pydantic import LanceModel, Vector

import vectorizer.adapters.lancedb  # noqa: F401 - registers "vectorizer"
from tests.support import Emulator, Sidecar

TOPICS = {
    "astronomy": "telescope nebula galaxy orbit comet planet asteroid quasar",
    "cooking": "saucepan simmer garlic braise oregano skillet dough pastry",
    "sailing": "mainsail rudder keel harbor regatta anchor tiller spinnaker",
    "gardening": "compost trowel seedling mulch hedge tulip pruning greenhouse",
    "finance": "dividend equity bond ledger portfolio interest mortgage audit",
    "music": "violin sonata chord tempo orchestra melody cello rhythm",
    "medicine": "vaccine diagnosis surgeon antibiotic clinic fever dosage therapy",
    "chess": "gambit bishop rook checkmate endgame pawn castling opening",
    "geology": "basalt granite tectonic fossil sediment volcano magma quartz",
    "cycling": "derailleur pedal peloton sprocket handlebar saddle cadence tire",
    "weather": "drizzle monsoon barometer humidity thunderstorm forecast hail breeze",
    "coffee": "espresso arabica roast grinder barista latte crema brew",
}
FILLER = "the a of and with about some notes report daily simple guide new".split()
DOCS_PER_TOPIC = 25
SYLLABLES = "ka ro mi zu te va lo ni shu pe do gri fan bel tor wex".split()

# Measured (seeded corpus and queries): topic precision@5 1.0 / 1.0,
# known-item recall@5 0.85 (vector) / 1.0 (hybrid): the unique name is one
# word among eight for the n-gram vector, but an exact BM25 match.
FLOOR_TOPIC_PRECISION_VECTOR = 0.9
FLOOR_TOPIC_PRECISION_HYBRID = 0.9
FLOOR_KNOWN_ITEM_RECALL_VECTOR = 0.7
FLOOR_KNOWN_ITEM_RECALL_HYBRID = 0.95


@dataclass(frozen=True)
class Doc:
    doc_id: int
    topic: str
    name: str
    text: str


def make_corpus(seed: int = 7) -> list[Doc]:
    rng = random.Random(seed)
    docs, names = [], set()
    for topic, vocab in TOPICS.items():
        words = vocab.split()
        for _ in range(DOCS_PER_TOPIC):
            name = ""
            while not name or name in names:
                name = "".join(rng.sample(SYLLABLES, 3))
            names.add(name)
            body = rng.sample(words, 4) + rng.sample(FILLER, 3)
            rng.shuffle(body)
            docs.append(Doc(len(docs), topic, name, f"{name} {' '.join(body)}"))
    return docs


def topic_queries(rng: random.Random) -> list[tuple[str, str]]:
    return [(t, " ".join(rng.sample(v.split(), 3))) for t, v in TOPICS.items()]


def known_item_queries(docs: list[Doc], rng: random.Random, n: int = 40) -> list[tuple[Doc, str]]:
    picks = rng.sample(docs, n)
    return [(d, f"{d.name} {rng.choice(TOPICS[d.topic].split())}") for d in picks]


@pytest.fixture()
def table(sidecar: Sidecar, emulator: Emulator, tmp_path):
    func = (
        get_registry()
        .get("vectorizer")
        .create(address=sidecar.grpc_address, collection="Reviews", dim=1024)
    )

    class Row(LanceModel):
        text: str = func.SourceField()
        vector: Vector(func.ndims()) = func.VectorField()  # type: ignore[valid-type]
        doc_id: int
        topic: str

    db = lancedb.connect(tmp_path / "lancedb")
    tbl = db.create_table("docs", schema=Row)
    return tbl


def top5(tbl, query: str, query_type: str) -> list[int]:
    return [r["doc_id"] for r in tbl.search(query, query_type=query_type).limit(5).to_list()]


def test_near_text_and_hybrid_through_the_sidecar(table, emulator: Emulator) -> None:
    docs = make_corpus()
    table.add([{"text": d.text, "doc_id": d.doc_id, "topic": d.topic} for d in docs])
    assert table.count_rows() == len(docs)
    imports = [r["body"] for r in emulator.requests() if r["service"] == "bedrock"]
    assert sum(len(b["texts"]) for b in imports) == len(docs)
    assert {b["input_type"] for b in imports} == {"search_document"}
    table.create_index("text", config=FTS())

    emulator.clear()
    rng = random.Random(11)
    by_id = {d.doc_id: d for d in docs}
    scores: dict[str, float] = {}
    for query_type in ("vector", "hybrid"):
        precision = [
            sum(by_id[i].topic == topic for i in top5(table, q, query_type)) / 5
            for topic, q in topic_queries(rng)
        ]
        recall = [
            doc.doc_id in top5(table, q, query_type) for doc, q in known_item_queries(docs, rng)
        ]
        scores[f"topic_precision@5/{query_type}"] = sum(precision) / len(precision)
        scores[f"known_item_recall@5/{query_type}"] = sum(recall) / len(recall)
    print("retrieval:", {k: round(v, 3) for k, v in scores.items()})

    queries = [r["body"] for r in emulator.requests() if r["service"] == "bedrock"]
    assert queries and {b["input_type"] for b in queries} == {"search_query"}
    assert scores["topic_precision@5/vector"] >= FLOOR_TOPIC_PRECISION_VECTOR
    assert scores["topic_precision@5/hybrid"] >= FLOOR_TOPIC_PRECISION_HYBRID
    assert scores["known_item_recall@5/vector"] >= FLOOR_KNOWN_ITEM_RECALL_VECTOR
    assert scores["known_item_recall@5/hybrid"] >= FLOOR_KNOWN_ITEM_RECALL_HYBRID


def test_chroma_adapter_documents_and_queries(sidecar: Sidecar, emulator: Emulator) -> None:
    """Chroma (vector only here): add embeds documents, query_texts embeds queries."""
    import chromadb

    from vectorizer.adapters.chroma import VectorizerEmbeddingFunction

    docs = make_corpus(seed=23)[::5]
    func = VectorizerEmbeddingFunction(sidecar.grpc_address, collection="Reviews")
    client = chromadb.EphemeralClient()
    coll = client.create_collection("docs_e2e", embedding_function=func)
    coll.add(
        ids=[str(d.doc_id) for d in docs],
        documents=[d.text for d in docs],
        metadatas=[{"topic": d.topic} for d in docs],
    )
    added = [r["body"] for r in emulator.requests() if r["service"] == "bedrock"]
    assert {b["input_type"] for b in added} == {"search_document"}
    emulator.clear()
    rng = random.Random(5)
    precision = []
    for topic, q in topic_queries(rng):
        found = coll.query(query_texts=[q], n_results=5)["metadatas"][0]
        precision.append(sum(m["topic"] == topic for m in found) / 5)
    asked = [r["body"] for r in emulator.requests() if r["service"] == "bedrock"]
    assert asked and {b["input_type"] for b in asked} == {"search_query"}
    assert sum(precision) / len(precision) >= FLOOR_TOPIC_PRECISION_VECTOR
