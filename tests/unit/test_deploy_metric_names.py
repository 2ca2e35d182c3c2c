"""Every metric the dashboard and the Prometheus rules use is one the
sidecar exports, and the exported metrics follow the naming conventions.

`series_names()` turns the registry's metric families into the series names
Prometheus stores (counter -> `_total`, histogram -> `_bucket`/`_sum`/
`_count`, info -> `_info`); `promql_names()` pulls metric names out of a
PromQL expression (strings, label matchers and ranges removed first).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics import MetricWrapperBase

import vectorizer.server  # noqa: F401 - imports every module that defines metrics
from vectorizer import metrics

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read deploy/prometheus/rules.yml")

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "vectorizer-dashboard.json"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"

SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "gauge": ("",),
    "info": ("_info",),
}
# Labels whose values come from bounded sets (code, config, taxonomy, routes).
BOUNDED_LABELS = {
    "method", "code", "service", "model", "region", "purpose", "outcome",
    "reason", "tier", "result", "op", "endpoint",
}  # fmt: skip
UNITLESS_HISTOGRAMS = {"vectorizer_upstream_batch_size"}

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_NAME = re.compile(r"(?<![A-Za-z0-9_:$])[A-Za-z_:][A-Za-z0-9_:]*")


def series_names() -> dict[str, str]:
    """Series name -> family type, for every family in the registry."""
    out: dict[str, str] = {}
    for family in metrics.REGISTRY.collect():
        for suffix in SUFFIXES[family.type]:
            out[family.name + suffix] = family.type
    return out


def promql_names(expr: str) -> set[str]:
    """Metric and recording-rule names (`vectorizer_*`, `vectorizer:*`, `up`)."""
    expr = _STRING.sub('""', expr)
    expr = _MATCHERS.sub("", expr)
    expr = _RANGE.sub("", expr)
    return {
        n for n in _NAME.findall(expr) if n.startswith(("vectorizer_", "vectorizer:")) or n == "up"
    }


def dashboard_exprs(node: Any) -> Iterator[str]:
    """Panel target expressions and template-variable queries."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            elif key == "query" and isinstance(value, str) and "(" in value:
                yield value
            else:
                yield from dashboard_exprs(value)
    elif isinstance(node, list):
        for item in node:
            yield from dashboard_exprs(item)


def rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES.read_text())
    return [r for group in data["groups"] for r in group["rules"]]


def recorded() -> set[str]:
    return {r["record"] for r in rules() if "record" in r}


def check(expr: str) -> list[str]:
    """Problems of one expression's metric names (empty: all exported)."""
    exported = series_names()
    problems = []
    for name in promql_names(expr):
        if name == "up" or name in exported:
            continue
        if name.startswith("vectorizer:"):
            if name not in recorded():
                problems.append(f"{name}: no recording rule of that name")
        elif name in {n.removesuffix(s) for n in exported for s in ("_bucket", "_total")}:
            problems.append(f"{name}: a family name, not a series (add its suffix)")
        else:
            problems.append(f"{name}: not exported by the sidecar")
    return problems


# -- the extractor itself ---------------------------------------------------


def test_promql_names_ignores_strings_matchers_functions_and_labels() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (method, le) (rate("
        'vectorizer_grpc_request_duration_seconds_bucket{code="vectorizer_fake", '
        'instance=~"$instance"}[$__rate_interval]))) / on (method) vectorizer:x:rate5m'
    )
    assert promql_names(expr) == {
        "vectorizer_grpc_request_duration_seconds_bucket",
        "vectorizer:x:rate5m",
    }
    assert promql_names("label_values(vectorizer_items_total, model)") == {"vectorizer_items_total"}


def test_check_rejects_unknown_names_and_suffix_mistakes() -> None:
    assert check("rate(vectorizer_grpc_requests_total[5m])") == []
    assert check("vectorizer_nonexistent_total")
    # A histogram's family name or a counter without _total is not a series.
    assert check("rate(vectorizer_grpc_request_duration_seconds[5m])")
    assert check("rate(vectorizer_grpc_requests[5m])")
    # Suffixes belong to their types: no _bucket on a counter, no _total on a gauge.
    assert check("vectorizer_items_total_bucket")
    assert check("vectorizer_cache_bytes_total")
    assert check("vectorizer:never:recorded")


# -- the files --------------------------------------------------------------


def test_every_dashboard_expression_uses_exported_metrics() -> None:
    dash = json.loads(DASHBOARD.read_text())
    exprs = list(dashboard_exprs(dash))
    assert len(exprs) >= 20
    problems = {e: p for e in exprs if (p := check(e))}
    assert not problems
    for e in exprs:
        assert promql_names(e), f"expression names no vectorizer metric: {e}"


def test_every_rule_expression_uses_exported_metrics() -> None:
    all_rules = rules()
    assert len(all_rules) >= 10
    problems = {r.get("record") or r.get("alert"): p for r in all_rules if (p := check(r["expr"]))}
    assert not problems


def test_dashboard_covers_the_operating_questions() -> None:
    used = set().union(*map(promql_names, dashboard_exprs(json.loads(DASHBOARD.read_text()))))
    for name in (
        "vectorizer_items_total",
        "vectorizer_upstream_calls_total",
        "vectorizer_grpc_request_duration_seconds_bucket",
        "vectorizer_upstream_call_duration_seconds_bucket",
        "vectorizer_grpc_requests_total",
        "vectorizer_throttles_total",
        "vectorizer_retries_total",
        "vectorizer_cache_requests_total",
        "vectorizer_limiter_rate_per_second",
        "vectorizer_in_flight_requests",
    ):
        assert name in used, name
    quantiles = {
        q
        for e in dashboard_exprs(json.loads(DASHBOARD.read_text()))
        for q in re.findall(r"histogram_quantile\((0\.\d+)", e)
    }
    assert {"0.5", "0.9", "0.99"} <= quantiles


def test_dashboard_panels_use_the_datasource_variable_and_unique_ids() -> None:
    dash = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for p in dash["panels"]:
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}", p["title"]
            assert p["targets"], p["title"]


# -- naming conventions -----------------------------------------------------


def wrappers() -> list[MetricWrapperBase]:
    return [v for v in vars(metrics).values() if isinstance(v, MetricWrapperBase)]


def test_names_follow_prometheus_conventions() -> None:
    families = list(metrics.REGISTRY.collect())
    assert len(families) >= 15
    for family in families:
        assert re.fullmatch(r"vectorizer_[a-z0-9_]+", family.name), family.name
        assert family.documentation.strip(), family.name
        if family.type == "histogram" and family.name not in UNITLESS_HISTOGRAMS:
            assert family.name.endswith("_seconds"), family.name
        if family.type == "gauge":
            assert not family.name.endswith(("_total", "_count")), family.name
    names = series_names()
    assert "vectorizer_build_info" in names
    assert names["vectorizer_grpc_requests_total"] == "counter"


def test_no_created_series_on_the_wire() -> None:
    """`_created` gauges are switched off: one series per counter child, not two."""
    from prometheus_client import generate_latest

    metrics.GRPC_REQUESTS.labels("GetMeta", "OK")
    body = generate_latest(metrics.REGISTRY).decode()
    assert "vectorizer_grpc_requests_total{" in body
    assert "_created" not in body


def test_label_names_are_bounded_kinds() -> None:
    for m in wrappers():
        if m is metrics.BUILD_INFO:
            continue
        assert set(m._labelnames) <= BOUNDED_LABELS, (m._name, m._labelnames)


def test_latency_buckets_span_1ms_to_30s() -> None:
    assert metrics.LATENCY_BUCKETS[0] == 0.001
    assert metrics.LATENCY_BUCKETS[-1] == 30.0
    assert list(metrics.LATENCY_BUCKETS) == sorted(set(metrics.LATENCY_BUCKETS))


def test_bounded_label_values() -> None:
    assert metrics.bounded("tei-small", {"tei-small"}) == "tei-small"
    assert metrics.bounded("anything a caller sends", {"tei-small"}) == metrics.OTHER
    assert metrics.region_label("us-east-1") == "us-east-1"
    assert metrics.region_label("eu-central-1") == "eu-central-1"
    assert metrics.region_label("zz-made-up-9") == metrics.OTHER
