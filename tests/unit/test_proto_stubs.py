"""The committed stubs in vectorizer/v1 are exactly what the .proto generates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GENERATED = (
    "vectorizer_pb2.py",
    "vectorizer_pb2.pyi",
    "vectorizer_pb2_grpc.py",
    "internal_pb2.py",
    "internal_pb2.pyi",
    "media_jobs_pb2.py",
    "media_jobs_pb2.pyi",
    "media_jobs_pb2_grpc.py",
)
PROTOS = ("vectorizer.proto", "internal.proto", "media_jobs.proto")


def test_committed_stubs_match_proto(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{ROOT / 'proto'}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            *(str(ROOT / "proto/vectorizer/v1" / name) for name in PROTOS),
        ],
        check=True,
    )
    for name in GENERATED:
        fresh = (tmp_path / "vectorizer/v1" / name).read_text()
        committed = (ROOT / "vectorizer/v1" / name).read_text()
        assert fresh == committed, f"vectorizer/v1/{name} is stale: run `make proto`"


@pytest.mark.parametrize("proto", PROTOS)
def test_every_message_and_field_is_commented(proto: str) -> None:
    lines = (ROOT / "proto/vectorizer/v1" / proto).read_text().splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        s = line.strip()
        is_decl = s.startswith(("message ", "enum ", "rpc ", "service ")) or (
            s.endswith(";") and "=" in s and not s.startswith(("syntax", "package", "option"))
        )
        if is_decl and not lines[i - 1].strip().startswith("//"):
            undocumented.append(s)
    assert undocumented == []
