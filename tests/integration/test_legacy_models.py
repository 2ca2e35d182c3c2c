"""Legacy Bedrock models through a real server: a collection on Marengo 2.7
(Legacy on AWS's model card, end of life 2026-11-30) is served but logs a
start-up warning naming the move to Marengo 3.0; other collections do not."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest

from tests.support import Emulator, start_sidecar
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

pytestmark = pytest.mark.timeout(60)

COLLECTIONS = {
    "OldClips": {"region": "us-east-1", "model": "us.twelvelabs.marengo-embed-2-7-v1:0"},
    "NewClips": {"region": "us-east-1", "model": "twelvelabs.marengo-embed-3-0-v1:0"},
    "Articles": {"region": "us-east-1", "model": "amazon.titan-embed-text-v2:0"},
}


def test_legacy_collection_warns_at_start_and_still_works(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "collections.json"
    path.write_text(json.dumps(COLLECTIONS))
    side = start_sidecar(emulator, "--collections", str(path))
    try:
        with grpc.insecure_channel(side.grpc_address) as channel:
            stub = pb_grpc.VectorizerStub(channel)
            for name, dim in (("OldClips", 1024), ("NewClips", 512)):
                resp = stub.Vectorize(
                    pb.VectorizeRequest(texts=["a clip of a dog"], collection=name), timeout=10
                )
                assert resp.results[0].HasField("vector") and resp.dimensions == dim
    finally:
        assert side.terminate() == 0
        side.stderr.join(timeout=5)
    warnings = [line for line in side.logs.splitlines() if "Legacy" in line]
    assert len(warnings) == 1, side.logs
    (line,) = warnings
    assert "'OldClips'" in line and "us.twelvelabs.marengo-embed-2-7-v1:0" in line
    assert "2026-11-30" in line and "twelvelabs.marengo-embed-3-0-v1:0" in line
    assert "WARNING" in line.upper()
