"""The README's metrics table and a live sidecar's /metrics agree: every
metric in the table is exported after traffic (same type; same labels where
it has samples), and every `vectorizer_*` family exported is in the table."""

from __future__ import annotations

import re
import time
from pathlib import Path

import grpc

from tests.support import Sidecar
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(r"^\| `(vectorizer_[a-z0-9_]+)` \| (\w+) \|([^|]*)\| [^|]+ \|$")
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ")
SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
}


def readme_table() -> dict[str, tuple[str, set[str]]]:
    """name -> (type, label names) from the table under `## Metrics`."""
    text = README.read_text()
    section = text.split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = ROW.match(line.strip())
        if m:
            labels = set(re.findall(r"`(\w+)`", m.group(3)))
            rows[m.group(1)] = (m.group(2), labels)
    return rows


def exported(body: str) -> dict[str, tuple[str, set[str] | None]]:
    """family name (as in # TYPE) -> (type, label names seen in samples or None)."""
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", body, re.M))
    labels: dict[str, set[str]] = {}
    for line in body.splitlines():
        m = SAMPLE.match(line)
        if not m or line.startswith("#"):
            continue
        name = m.group(1)
        family = next(
            (
                f
                for f, t in types.items()
                if name == f
                or any(name == f.removesuffix("_total") + s for s in SUFFIXES.get(t, ()))
            ),
            None,
        )
        assert family is not None, f"sample {name} of no declared family"
        names = set(re.findall(r'(\w+)="', m.group(2) or "")) - {"le"}
        labels.setdefault(family, set()).update(names)
    return {f: (t, labels.get(f)) for f, t in types.items()}


def test_readme_metrics_table_matches_live_metrics(sidecar: Sidecar) -> None:
    with grpc.insecure_channel(sidecar.grpc_address) as channel:
        stub = pb_grpc.VectorizerStub(channel)
        stub.Vectorize(
            pb.VectorizeRequest(texts=[f"readme metrics {time.time_ns()}"], collection="Articles"),
            timeout=10,
        )
        stub.GetMeta(pb.GetMetaRequest(), timeout=10)
    status, body = sidecar.http_get("/metrics")
    assert status == 200
    live = {n: v for n, v in exported(body).items() if n.startswith("vectorizer_")}
    table = readme_table()
    assert len(table) >= 15

    assert sorted(set(table) - set(live)) == [], "in the README, not on /metrics"
    assert sorted(set(live) - set(table)) == [], "on /metrics, not in the README"
    for name, (kind, labels) in table.items():
        live_kind, live_labels = live[name]
        assert kind == live_kind, name
        if live_labels is not None:
            assert labels == live_labels, name
    # Traffic reached the families the table promises for a call.
    for name in ("vectorizer_grpc_requests_total", "vectorizer_items_total"):
        assert live[name][1], f"{name} has no samples after traffic"
