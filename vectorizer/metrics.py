"""Every Prometheus metric the sidecar exports, defined once.

Names follow the Prometheus conventions: `vectorizer_` prefix, base units
(`_seconds`, `_bytes`), `_total` counters. Label values are bounded: models
and endpoints come from configuration, never from request text, and anything
unknown collapses into `other` through `bounded()`; regions are checked
against the AWS regions botocore knows (`region_label()`), since an inline
config may name any well-formed region.

With `--workers N` every worker writes its samples to files in one
directory (prometheus_client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR,
set by the supervisor) and `exposition()` merges them, so a scrape of any
worker shows the whole host: counters and histograms add up over every
worker that ever ran (a restarted worker's counts stay), and each gauge says
how it combines (`multiprocess_mode`): in-flight counts, cache sizes and
limiter rates add up over the live workers (`livesum`), the build info is one
series (`livemax`), the shared-budget flag is the lowest of the live workers'
(`livemin`).

Groups: build info; gRPC requests; items; upstream calls (count, latency,
in flight, batch size, retries, throttles, tokens); the adaptive limiter
(rate, token rate, wait); the cache (lookups, evictions, size, tier errors).
"""

from __future__ import annotations

import functools
import os
import platform

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from vectorizer import __version__

# The text format has no "created" timestamp, so the client would add a
# `<name>_created` gauge per counter and histogram child: twice the series for
# a value no dashboard uses.
disable_created_metrics()

REGISTRY = CollectorRegistry(auto_describe=True)

# 1 ms .. 30 s, roughly x2.5 per step.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 96, 128, 256, 512, 1024)

# A gauge rather than an Info: Info has no multiprocess mode. Same series on
# the wire: vectorizer_build_info{python=...,version=...} 1.
BUILD_INFO = Gauge(
    "vectorizer_build_info",
    "Build information.",
    ["version", "python"],
    registry=REGISTRY,
    multiprocess_mode="livemax",
)
BUILD_INFO.labels(__version__, platform.python_version()).set(1)

GRPC_REQUESTS = Counter(
    "vectorizer_grpc_requests_total",
    "gRPC requests by method and status code.",
    ["method", "code"],
    registry=REGISTRY,
)
GRPC_LATENCY = Histogram(
    "vectorizer_grpc_request_duration_seconds",
    "gRPC request latency by method.",
    ["method"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
HTTP_REQUESTS = Counter(
    "vectorizer_http_requests_total",
    "HTTP compat requests (OpenAI, Cohere, text2vec-transformers) by endpoint and status.",
    ["endpoint", "code"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "vectorizer_http_request_duration_seconds",
    "HTTP compat request latency by endpoint.",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
IN_FLIGHT = Gauge(
    "vectorizer_in_flight_requests",
    "Requests (gRPC and HTTP compat) being served now.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
ITEMS = Counter(
    "vectorizer_items_total",
    "Items embedded, by service, model, purpose and outcome (vector or error code).",
    ["service", "model", "purpose", "outcome"],
    registry=REGISTRY,
)
UPSTREAM_CALLS = Counter(
    "vectorizer_upstream_calls_total",
    "Calls to AWS by service, model, region and outcome (ok or error kind).",
    ["service", "model", "region", "outcome"],
    registry=REGISTRY,
)
UPSTREAM_LATENCY = Histogram(
    "vectorizer_upstream_call_duration_seconds",
    "Latency of calls to AWS by service, model, region and outcome (as in upstream_calls).",
    ["service", "model", "region", "outcome"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
UPSTREAM_IN_FLIGHT = Gauge(
    "vectorizer_upstream_in_flight_calls",
    "Calls to AWS in flight, per target model or endpoint.",
    ["service", "model"],
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
RETRIES = Counter(
    "vectorizer_retries_total",
    "Upstream retries by reason (throttled, 5xx, timeout, model_not_ready, reset, ...).",
    ["service", "model", "reason"],
    registry=REGISTRY,
)
THROTTLES = Counter(
    "vectorizer_throttles_total",
    "Throttling answers received from AWS.",
    ["service", "model"],
    registry=REGISTRY,
)
INPUT_TOKENS = Counter(
    "vectorizer_input_tokens_total",
    "Input tokens reported by the upstream model.",
    ["service", "model"],
    registry=REGISTRY,
)
BATCH_SIZE = Histogram(
    "vectorizer_upstream_batch_size",
    "Texts per upstream call.",
    ["service", "model"],
    buckets=BATCH_BUCKETS,
    registry=REGISTRY,
)
RATE_LIMIT = Gauge(
    "vectorizer_limiter_rate_per_second",
    "Current adaptive rate limit per target (upstream calls per second; with --workers, "
    "the sum over the workers).",
    ["service", "model"],
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
TOKEN_RATE_LIMIT = Gauge(
    "vectorizer_limiter_token_rate_per_second",
    "Current adaptive input-token rate limit per target (tokens per second; with "
    "--workers, the sum over the workers); absent until a throttle taught one.",
    ["service", "model"],
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
RATE_BUDGET_SHARED = Gauge(
    "vectorizer_rate_budget_shared",
    "1 while the rate budget is shared through Redis (--shared-budget); 0 while Redis is "
    "unreachable and each target is paced at this process's share (with --workers, 0 if "
    "any worker is), or when no shared budget is configured (GetMeta's rate_budget says "
    "which).",
    registry=REGISTRY,
    multiprocess_mode="livemin",
)
LIMITER_WAIT = Histogram(
    "vectorizer_limiter_wait_seconds",
    "Time an upstream call waited for its target's limiter (concurrency and rate).",
    ["service", "model"],
    buckets=(0.0001,) + LATENCY_BUCKETS,
    registry=REGISTRY,
)
CACHE_REQUESTS = Counter(
    "vectorizer_cache_requests_total",
    "Cache lookups by tier (memory, redis) and result (hit, miss).",
    ["tier", "result"],
    registry=REGISTRY,
)
CACHE_EVICTIONS = Counter(
    "vectorizer_cache_evictions_total",
    "Entries evicted from the in-memory cache to stay within its byte bound.",
    registry=REGISTRY,
)
CACHE_BYTES = Gauge(
    "vectorizer_cache_bytes",
    "Bytes held by the in-memory cache (with --workers, by all workers' caches).",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
CACHE_ENTRIES = Gauge(
    "vectorizer_cache_entries",
    "Entries held by the in-memory cache (with --workers, by all workers' caches).",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
CACHE_ERRORS = Counter(
    "vectorizer_cache_errors_total",
    "Cache tier failures by tier and operation (get, put); swallowed, the request goes on.",
    ["tier", "op"],
    registry=REGISTRY,
)

OTHER = "other"
# Set by the --workers supervisor in each worker's environment, beside
# PROMETHEUS_MULTIPROC_DIR.
WORKER_ENV = "VECTORIZER_WORKER_INDEX"


def exposition() -> bytes:
    """The text a /metrics scrape returns: this process's registry, or, in a
    --workers worker, every worker's samples merged from the shared directory."""
    if os.environ.get(WORKER_ENV) and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged = CollectorRegistry()
        MultiProcessCollector(merged)
        return generate_latest(merged)
    return generate_latest(REGISTRY)


def bounded(value: str, allowed: set[str] | frozenset[str]) -> str:
    """`value` when it is one of the configured values, else `other`."""
    return value if value in allowed else OTHER


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every partition in botocore's endpoint data (read once)."""
    from botocore.loaders import create_loader

    data = create_loader().load_data("endpoints")
    return frozenset(r for p in data.get("partitions", ()) for r in p.get("regions", {}))


def region_label(region: str) -> str:
    """Bounded region label: a region botocore knows, else `other`."""
    return bounded(region, known_regions())
