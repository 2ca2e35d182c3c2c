"""Near-image search in a real embedded vector DB (LanceDB) through the sidecar.

Five kinds of synthetic image (horizontal and vertical stripes, checkerboard,
disc, gradient; tests/images.py), eight jittered instances of each, are
embedded as documents with the Python client (`embed_images`) and stored in
LanceDB. Then a fresh instance of each kind, never stored, is embedded as a
query and searched with LanceDB's vector search: its own kind must come
first, and fill the top 5.

The vectors come from the emulator, whose image vectors are a random
projection of a 16x16 thumbnail: look-alike layouts are near, which is what
this test measures. That is not semantic similarity (a real model would also
put two differently drawn cats together); the test shows the path, not a
model's quality.
"""

from __future__ import annotations

from collections import Counter

import lancedb
import pyarrow as pa
import pytest

from tests.images import KINDS, make
from tests.support import Sidecar
from vectorizer.client import VectorizerClient

STORED = range(1, 9)
QUERY_SEED = 1000


@pytest.mark.parametrize(
    ("model", "dims"),
    [("amazon.titan-embed-image-v1", 256), ("amazon.nova-2-multimodal-embeddings-v1:0", 384)],
)
def test_query_image_finds_its_own_kind(sidecar: Sidecar, tmp_path, model: str, dims: int) -> None:
    config = {"region": "us-east-1", "model": model, "dimensions": dims}
    rows = [(kind, seed, make(kind, seed)) for kind in KINDS for seed in STORED]
    with VectorizerClient(sidecar.grpc_address, config=config) as client:
        vectors = client.embed_images([data for _, _, data in rows])
        queries = {
            kind: client.embed_images([make(kind, QUERY_SEED)], purpose="query")[0]
            for kind in KINDS
        }
    db = lancedb.connect(str(tmp_path / "db"))
    schema = pa.schema(
        [
            pa.field("kind", pa.string()),
            pa.field("seed", pa.int32()),
            pa.field("image", pa.binary()),
            pa.field("vector", pa.list_(pa.float32(), dims)),
        ]
    )
    table = db.create_table("images", schema=schema)
    table.add(
        [
            {"kind": kind, "seed": seed, "image": data, "vector": vector}
            for (kind, seed, data), vector in zip(rows, vectors, strict=True)
        ]
    )
    assert table.count_rows() == len(KINDS) * len(STORED)
    for kind, query in queries.items():
        hits = table.search(query).metric("cosine").limit(5).to_list()
        assert hits[0]["kind"] == kind, (kind, [h["kind"] for h in hits])
        assert Counter(h["kind"] for h in hits)[kind] == 5, (kind, [h["kind"] for h in hits])
