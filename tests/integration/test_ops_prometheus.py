"""A real Prometheus scrapes a real sidecar: known traffic in, exact series
out through Prometheus's own query API, and the recording rules of
deploy/prometheus/rules.yml evaluate over them. Every dashboard expression
is also run against that Prometheus (syntax and evaluation, not only names).

`PromServer` starts `prometheus` (Debian package) on a free loopback port
with a 0.5 s scrape and evaluation interval and answers instant queries.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.support import Emulator, Sidecar, start_sidecar
from vectorizer import __version__
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "vectorizer-dashboard.json"
PROMETHEUS = shutil.which("prometheus")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(60),
    pytest.mark.skipif(
        PROMETHEUS is None,
        reason="prometheus not installed (Debian package prometheus; scripts/test-deps.sh "
        "installs it)",
    ),
]

CALLS = 4  # Vectorize calls with new texts, then one repeat (served by the cache)
TEXTS = 3  # texts per call
MODEL = "amazon.titan-embed-text-v2:0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PromServer:
    def __init__(self, target: str, workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "500ms", "evaluation_interval": "500ms"},
            "rule_files": [str(RULES)],
            "scrape_configs": [
                {"job_name": "vectorizer", "static_configs": [{"targets": [target]}]}
            ],
        }
        cfg = workdir / "prometheus.yml"
        cfg.write_text(json.dumps(config))  # JSON is YAML
        self.log = (workdir / "prometheus.log").open("w")
        assert PROMETHEUS is not None
        self.proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={cfg}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.logfile = workdir / "prometheus.log"

    def get(self, path: str, **params: str) -> Any:
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        with urllib.request.urlopen(self.url + path + query, timeout=5) as resp:
            return json.loads(resp.read())

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = self.get("/api/v1/query", query=expr)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def value(self, expr: str) -> float | None:
        """The single sample of `expr`, or None while there is none."""
        result = self.query(expr)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.logfile.read_text()[-3000:]
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("prometheus not ready: " + self.logfile.read_text()[-3000:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def eventually(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; last={last!r}")


def vectorize(
    stub: pb_grpc.VectorizerStub, batch: int, texts: list[str] | None = None
) -> list[str]:
    texts = texts or [f"prometheus scrape check {batch} {i} {time.time_ns()}" for i in range(TEXTS)]
    resp = stub.Vectorize(pb.VectorizeRequest(texts=texts, collection="Articles"), timeout=10)
    assert len(resp.results) == TEXTS
    assert all(r.HasField("vector") for r in resp.results)
    return texts


OK = 'vectorizer_grpc_requests_total{method="Vectorize",code="OK"}'


def drive_known_traffic(side: Sidecar, prom: PromServer) -> None:
    """CALLS calls of TEXTS new texts, one repeat, one INVALID_ARGUMENT, one GetMeta."""
    eventually(lambda: prom.value('up{job="vectorizer"}') == 1.0, "the first scrape")
    with grpc.insecure_channel(side.grpc_address) as channel:
        stub = pb_grpc.VectorizerStub(channel)
        # Two phases seen by separate scrapes, so rates over them are non-zero.
        first = [vectorize(stub, i) for i in range(CALLS // 2)][0]
        eventually(lambda: prom.value(OK) == CALLS // 2, "the first half of the calls")
        for i in range(CALLS // 2, CALLS):
            vectorize(stub, i)
        vectorize(stub, 0, first)  # the repeat: all cache hits
        with pytest.raises(grpc.RpcError) as err:
            stub.Vectorize(pb.VectorizeRequest(texts=[], collection="Articles"), timeout=10)
        assert err.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        stub.GetMeta(pb.GetMetaRequest(), timeout=10)


@pytest.fixture(scope="module")
def scraped(
    aws_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Sidecar, PromServer]]:
    """A fresh sidecar (counters start at zero), a Prometheus scraping it, and
    the known traffic, driven once for the tests of this module."""
    aws_emulator.reset()
    side = start_sidecar(
        aws_emulator,
        "--collections",
        "examples/collections.json",
        "--endpoint-allowlist",
        aws_emulator.host_port,
    )
    prom = PromServer(side.http_url.removeprefix("http://"), tmp_path_factory.mktemp("prom"))
    try:
        prom.wait_ready()
        drive_known_traffic(side, prom)
        yield side, prom
    finally:
        prom.stop()
        side.terminate()


def test_prometheus_scrapes_exact_counts_and_rules_evaluate(
    scraped: tuple[Sidecar, PromServer],
) -> None:
    _, prom = scraped
    eventually(lambda: prom.value(OK) == CALLS + 1, "all calls")
    invalid = 'vectorizer_grpc_requests_total{method="Vectorize",code="INVALID_ARGUMENT"}'
    eventually(lambda: prom.value(invalid) == 1, "the failed call")
    assert prom.value('vectorizer_grpc_requests_total{method="GetMeta",code="OK"}') == 1
    assert (
        prom.value('vectorizer_grpc_request_duration_seconds_count{method="Vectorize"}')
        == CALLS + 2
    )
    items = (
        f'vectorizer_items_total{{service="bedrock",model="{MODEL}",'
        'purpose="document",outcome="vector"}'
    )
    assert prom.value(items) == (CALLS + 1) * TEXTS
    # Titan takes one text per call: one upstream call per text.
    calls = f'vectorizer_upstream_calls_total{{model="{MODEL}",region="us-east-1",outcome="ok"}}'
    assert prom.value(calls) == CALLS * TEXTS
    misses = 'vectorizer_cache_requests_total{tier="memory",result="miss"}'
    assert prom.value(misses) == CALLS * TEXTS
    assert prom.value('vectorizer_cache_requests_total{tier="memory",result="hit"}') == TEXTS
    assert prom.value("vectorizer_cache_entries") == CALLS * TEXTS
    assert prom.value(f'vectorizer_build_info{{version="{__version__}"}}') == 1
    assert prom.value("vectorizer_in_flight_requests") == 0

    # Recording rules from deploy/prometheus/rules.yml, evaluated by Prometheus.
    rate = 'vectorizer:grpc_requests:rate5m{method="Vectorize",code="OK"}'
    assert eventually(lambda: (prom.value(rate) or 0) > 0, "the request-rate rule")
    p99 = 'vectorizer:grpc_request_duration_seconds:p99_5m{method="Vectorize"}'
    latency = eventually(lambda: prom.value(p99), "the p99 rule")
    assert 0 < latency <= 30 and not math.isnan(latency)
    upstream = f'vectorizer:upstream_calls:rate5m{{model="{MODEL}",outcome="ok"}}'
    assert eventually(lambda: (prom.value(upstream) or 0) > 0, "the upstream-rate rule")
    hit_ratio = 'vectorizer:cache_hit:ratio_rate5m{tier="memory"}'
    eventually(lambda: prom.value(hit_ratio), "the cache-ratio rule")
    assert prom.value(hit_ratio) == pytest.approx(TEXTS / ((CALLS + 1) * TEXTS))
    rules = prom.get("/api/v1/rules")["data"]["groups"]
    loaded = [r for g in rules for r in g["rules"]]
    assert len(loaded) >= 15
    assert all(r["health"] == "ok" for r in loaded), [r for r in loaded if r["health"] != "ok"]


def dashboard_queries() -> list[str]:
    exprs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                exprs.append(node["expr"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(DASHBOARD.read_text()))
    return exprs


def grafana_to_promql(expr: str) -> str:
    """Replace Grafana's variables with what Grafana would send."""
    expr = expr.replace("$__rate_interval", "1m")
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


def test_every_dashboard_query_runs_on_prometheus(scraped: tuple[Sidecar, PromServer]) -> None:
    _, prom = scraped
    eventually(lambda: prom.value(OK) == CALLS + 1, "all calls")
    queries = dashboard_queries()
    assert len(queries) >= 20
    for expr in queries:
        prom.query(grafana_to_promql(expr))  # asserts status == success
    # The build table returns its row once scraped.
    assert prom.query(grafana_to_promql('vectorizer_build_info{instance=~"$instance"}'))
