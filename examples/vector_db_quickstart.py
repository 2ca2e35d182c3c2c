"""Quickstart: a real vector DB (LanceDB, embedded) searching through the sidecar.

Start the sidecar first (`make run`: it embeds with the local AWS emulator
unless you point it at AWS), then:

    .venv/bin/python examples/vector_db_quickstart.py [--address localhost:50051]
        [--collection Reviews] [--docs-per-topic 25]

It makes a small labelled corpus, imports it through the sidecar (document
purpose, with a progress bar), builds LanceDB's full-text index, and runs
near-text (vector) and hybrid (vector + BM25) queries (query purpose),
printing the hits and recall@5. With the emulator the vectors are hashed
character n-grams: lexical similarity, not meaning; with a real model the
same script measures the model.

Needs the `vectordb` extra: `pip install -e '.[vectordb]'`.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections.abc import Iterable, Iterator

import lancedb
from lancedb.embeddings import get_registry
from lancedb.index import FTS
from lancedb.pydantic import LanceModel, Vector

import vectorizer.adapters.lancedb  # noqa: F401 - registers the "vectorizer" function

TOPICS = {
    "astronomy": "telescope nebula galaxy orbit comet planet asteroid quasar",
    "cooking": "saucepan simmer garlic braise oregano skillet dough pastry",
    "sailing": "mainsail rudder keel harbor regatta anchor tiller spinnaker",
    "gardening": "compost trowel seedling mulch hedge tulip pruning greenhouse",
    "finance": "dividend equity bond ledger portfolio interest mortgage audit",
    "music": "violin sonata chord tempo orchestra melody cello rhythm",
}
FILLER = "the a of and with about some notes report daily simple guide".split()
SYLLABLES = "ka ro mi zu te va lo ni shu pe do gri fan bel tor wex".split()
BATCH = 32


def corpus(per_topic: int, rng: random.Random) -> list[dict]:
    rows, names = [], set()
    for topic, vocab in TOPICS.items():
        for _ in range(per_topic):
            name = ""
            while not name or name in names:
                name = "".join(rng.sample(SYLLABLES, 3))
            names.add(name)
            words = rng.sample(vocab.split(), 4) + rng.sample(FILLER, 3)
            rng.shuffle(words)
            rows.append({"text": f"{name} {' '.join(words)}", "name": name, "topic": topic})
    return rows


def progress(batches: list[list[dict]], total: int) -> Iterator[list[dict]]:
    """tqdm when installed, else a one-line textual bar."""
    try:
        from tqdm import tqdm
    except ImportError:
        done = 0
        for batch in batches:
            yield batch
            done += len(batch)
            filled = 30 * done // total
            print(f"\rimporting [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}", end="")
        print()
        return
    with tqdm(total=total, unit="doc", desc="importing") as bar:
        for batch in batches:
            yield batch
            bar.update(len(batch))


def chunks(rows: list[dict], size: int) -> Iterable[list[dict]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--address", default="localhost:50051", help="sidecar gRPC address")
    parser.add_argument("--collection", default="Reviews", help="a collection the sidecar loaded")
    parser.add_argument("--docs-per-topic", type=int, default=25)
    args = parser.parse_args()

    func = get_registry().get("vectorizer").create(address=args.address, collection=args.collection)

    class Doc(LanceModel):
        text: str = func.SourceField()
        vector: Vector(func.ndims()) = func.VectorField()  # type: ignore[valid-type]
        name: str
        topic: str

    rng = random.Random(7)
    rows = corpus(args.docs_per_topic, rng)
    with tempfile.TemporaryDirectory() as where:
        table = lancedb.connect(where).create_table("docs", schema=Doc)
        for batch in progress(list(chunks(rows, BATCH)), len(rows)):
            table.add(batch)  # embedded by the sidecar, document purpose
        table.create_index("text", config=FTS())

        picks = rng.sample(rows, 20)
        for query_type in ("vector", "hybrid"):
            hits = 0
            for row in picks:
                query = f"{row['name']} {rng.choice(TOPICS[row['topic']].split())}"
                found = table.search(query, query_type=query_type).limit(5).to_list()
                hits += row["name"] in [f["name"] for f in found]
            print(f"{query_type:>6}: known-item recall@5 = {hits / len(picks):.2f}")

        query = "telescope comet orbit"
        print(f"\nhybrid search for {query!r}:")
        for hit in table.search(query, query_type="hybrid").limit(5).to_list():
            print(f"  [{hit['topic']}] {hit['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
