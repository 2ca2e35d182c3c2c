"""Fault injection through a real sidecar against a real emulator.

One seeded emulator, on a fixed port picked for the module, and one sidecar
(no cache, 1 s upstream timeout) serve every test; each test sets fault knobs
through the emulator's control API, sends imports (document batches) and
queries, and hands every outcome to `check_run`, the one invariant:

- a request-level status only where the contract allows one (every item
  failed the same retryable way: RESOURCE_EXHAUSTED, UNAVAILABLE,
  DEADLINE_EXCEEDED; see `_raise_if_uniform` in vectorizer/engine.py);
- otherwise exactly one result per input, in input order, each either the
  emulator's deterministic vector for that text, family and purpose, or one
  item error whose `retryable` is truthful: transient faults are retryable,
  model errors are not.

Vectors are compared per position with texts that are all distinct (plus a
few deliberate repeats), so a lost, duplicated or swapped result fails the
check. After each test the `healthy_after` fixture clears the faults and
proves the server stayed up: process alive, gRPC health SERVING, and a
clean call answers correct vectors. Tests also assert that the sidecar did
retry (`vectorizer_retries_total` by reason) and that the emulator did
inject the fault (its stats), so a run that passed only because no fault
fired fails.
"""

from __future__ import annotations

import signal
import socket
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support import Emulator, Sidecar, start_emulator, start_sidecar
from vectorizer.emulator.vectors import purposed_vector
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

pytestmark = pytest.mark.timeout(60)

SEED = "8008"
REGION = "us-east-1"
DOC, QUERY = pb.PURPOSE_DOCUMENT, pb.PURPOSE_QUERY
DEADLINE = 20.0  # seconds: long enough that moderate fault rates are absorbed
UPSTREAM_TIMEOUT = "1.0"  # the sidecar's per-call timeout, so slow answers time out fast
# Statuses the contract allows for a whole request (all items failed alike, retryably).
CONTRACT_STATUSES = frozenset(
    {
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    }
)
TRANSIENT_CODES = frozenset({"THROTTLED", "UPSTREAM_UNAVAILABLE", "DEADLINE_EXCEEDED"})
FINAL_CODES = frozenset({"MODEL_ERROR"})


# --- targets and the invariant ----------------------------------------------


@dataclass(frozen=True)
class Target:
    """A collection config and how the emulator computes its vectors."""

    name: str
    config: pb.CollectionConfig
    dim: int
    purpose_aware: bool  # Cohere: input_type shifts query vectors

    def expected(self, text: str, purpose: int) -> list[float]:
        if not self.purpose_aware:
            return purposed_vector(text, self.dim, None)
        return purposed_vector(
            text, self.dim, "search_query" if purpose == QUERY else "search_document"
        )


TITAN = Target(
    "titan-v2",
    pb.CollectionConfig(
        service="bedrock", region=REGION, model="amazon.titan-embed-text-v2:0", dimensions=256
    ),
    256,
    False,
)
COHERE = Target(
    "cohere-v3",
    pb.CollectionConfig(service="bedrock", region=REGION, model="cohere.embed-english-v3"),
    1024,
    True,
)
TEI = Target(
    "sm-tei",
    pb.CollectionConfig(
        service="sagemaker", region=REGION, endpoint="tei-small", payload_format="tei"
    ),
    384,
    False,
)
COHERE_SM = Target(
    "sm-cohere",
    pb.CollectionConfig(
        service="sagemaker", region=REGION, endpoint="cohere-sm", payload_format="cohere"
    ),
    1024,
    True,
)


@dataclass
class Tally:
    """What one run ended as."""

    ok: int = 0
    retryable: int = 0
    final: int = 0
    status: grpc.StatusCode | None = None
    codes: Counter = field(default_factory=Counter)


Outcome = pb.VectorizeResponse | grpc.RpcError


def check_run(
    target: Target,
    texts: Sequence[str],
    purpose: int,
    outcome: Outcome,
    *,
    failing: frozenset[str] = frozenset(),
) -> Tally:
    """The invariant, for one call. `failing`: texts the model must refuse."""
    if isinstance(outcome, grpc.RpcError):
        code = outcome.code()
        assert code in CONTRACT_STATUSES, f"{target.name}: status {code}: {outcome.details()}"
        assert not failing, f"{target.name}: model errors must be items, got {code}"
        return Tally(status=code)
    tally = Tally()
    assert len(outcome.results) == len(texts), (
        f"{target.name}: {len(texts)} inputs, {len(outcome.results)} results"
    )
    for i, (text, result) in enumerate(zip(texts, outcome.results, strict=True)):
        kind = result.WhichOneof("outcome")
        where = f"{target.name} item {i} ({text[:40]!r})"
        if kind == "vector":
            assert text not in failing, f"{where}: the model fails this text, got a vector"
            got = list(result.vector.values)
            assert len(got) == target.dim, f"{where}: dimension {len(got)} != {target.dim}"
            np.testing.assert_allclose(
                got, target.expected(text, purpose), atol=2e-6, err_msg=where
            )
            tally.ok += 1
            continue
        assert kind == "error", f"{where}: neither vector nor error"
        error = result.error
        tally.codes[error.code] += 1
        if text in failing:
            assert error.code in FINAL_CODES and not error.retryable, f"{where}: {error}"
            tally.final += 1
        else:
            assert error.code in TRANSIENT_CODES and error.retryable, f"{where}: {error}"
            tally.retryable += 1
    if tally.ok:
        assert outcome.dimensions == target.dim
    return tally


# --- the rig: one emulator + one sidecar for the module ----------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Rig:
    port: int
    emulator: Emulator
    sidecar: Sidecar
    channel: grpc.Channel
    stub: pb_grpc.VectorizerStub
    tag: Iterator[int] = field(default_factory=lambda: iter(range(1_000_000)))

    def texts(self, label: str, count: int, repeats: int = 0) -> list[str]:
        """`count` distinct texts, plus `repeats` copies of earlier ones spread in."""
        n = next(self.tag)
        texts = [f"fault {label} run {n} item {i} of the harbour ledger" for i in range(count)]
        for r in range(repeats):
            texts.insert((r * 7 + 3) % len(texts), texts[(r * 5) % count])
        return texts

    def call(
        self, target: Target, texts: list[str], purpose: int = DOC, timeout: float = DEADLINE
    ) -> Outcome:
        try:
            return self.stub.Vectorize(
                pb.VectorizeRequest(texts=texts, config=target.config, purpose=purpose),
                timeout=timeout,
            )
        except grpc.RpcError as exc:
            return exc

    def start(
        self, target: Target, texts: list[str], purpose: int = DOC, timeout: float = DEADLINE
    ) -> grpc.Future:
        return self.stub.Vectorize.future(
            pb.VectorizeRequest(texts=texts, config=target.config, purpose=purpose),
            timeout=timeout,
        )

    def kill_emulator(self) -> None:
        self.emulator.proc.send_signal(signal.SIGKILL)
        self.emulator.proc.wait(timeout=10)

    def start_emulator(self) -> None:
        self.emulator = start_emulator("--seed", SEED, port=self.port)

    def retries(self) -> Counter:
        """vectorizer_retries_total summed by (service, reason)."""
        status, body = self.sidecar.http_get("/metrics")
        assert status == 200
        counts: Counter = Counter()
        for line in body.splitlines():
            if not line.startswith("vectorizer_retries_total{"):
                continue
            labels, value = line.rsplit(" ", 1)
            parsed = dict(
                part.split("=", 1) for part in labels[labels.index("{") + 1 : -1].split(",")
            )
            key = (parsed["service"].strip('"'), parsed["reason"].strip('"'))
            counts[key] += float(value)
        return counts


def outcome_of(future: grpc.Future) -> Outcome:
    try:
        return future.result()
    except grpc.RpcError as exc:
        return exc


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    port = free_port()
    emulator = start_emulator("--seed", SEED, port=port)
    try:
        sidecar = start_sidecar(
            emulator,
            "--cache-max-bytes",
            "0",
            "--upstream-timeout",
            UPSTREAM_TIMEOUT,
            "--endpoint-allowlist",
            emulator.host_port,
            "--log-level",
            "warning",
        )
    except BaseException:
        emulator.stop()  # no orphan emulator when the sidecar cannot start
        raise
    channel = grpc.insecure_channel(sidecar.grpc_address)
    the_rig = Rig(port, emulator, sidecar, channel, pb_grpc.VectorizerStub(channel))
    yield the_rig
    channel.close()
    sidecar.terminate()
    the_rig.emulator.stop()


@pytest.fixture(autouse=True)
def healthy_after(rig: Rig) -> Iterator[None]:
    """Each test starts fault-free and must leave the server up and answering right."""
    rig.emulator.reset()
    yield
    rig.emulator.reset()
    assert rig.sidecar.proc.poll() is None, "the sidecar died:\n" + rig.sidecar.logs[-3000:]
    health = health_pb2_grpc.HealthStub(rig.channel)
    answer = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
    for target in (TITAN, TEI):
        texts = rig.texts(f"clean after {target.name}", 3)
        tally = check_run(target, texts, DOC, rig.call(target, texts))
        assert tally.ok == len(texts), tally


def injected(rig: Rig, fault: str) -> int:
    """How many answers the emulator replaced or corrupted with `fault` in this test."""
    return sum(1 for r in rig.emulator.requests() if r["fault"] == fault)


def mostly_ok(tally: Tally, total: int) -> None:
    # 0.3 per attempt and 8 attempts: an item fails for good about once in 15,000.
    assert tally.status is None and tally.ok >= total - 2, tally


# --- the faults ----------------------------------------------------------------


def test_throttling_storm_is_absorbed_for_imports_and_queries(rig: Rig) -> None:
    rig.emulator.faults(throttle_rate=0.3, model_not_ready_rate=0.1)
    before = rig.retries()
    docs = rig.texts("throttle titan", 60, repeats=4)
    cohere_docs = rig.texts("throttle cohere", 120)
    queries = [rig.texts("throttle query", 1) for _ in range(8)]
    imports = [rig.start(TITAN, docs), rig.start(COHERE, cohere_docs)]
    asked = [rig.start(COHERE, q, QUERY) for q in queries]
    mostly_ok(check_run(TITAN, docs, DOC, outcome_of(imports[0])), len(docs))
    mostly_ok(check_run(COHERE, cohere_docs, DOC, outcome_of(imports[1])), len(cohere_docs))
    for q, future in zip(queries, asked, strict=True):
        # A single text has nothing to spread its luck over: any contract outcome will do.
        check_run(COHERE, q, QUERY, outcome_of(future))
    after = rig.retries()
    assert after[("bedrock", "throttled")] > before[("bedrock", "throttled")]
    assert after[("bedrock", "model_not_ready")] > before[("bedrock", "model_not_ready")]
    assert injected(rig, "throttle") > 0 and injected(rig, "model_not_ready") > 0


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_bursts_are_retried(rig: Rig, status: int) -> None:
    rig.emulator.faults(error_rate=0.3, error_status=status)
    before = rig.retries()
    docs = rig.texts(f"5xx {status} titan", 50, repeats=3)
    cohere_docs = rig.texts(f"5xx {status} cohere", 100)
    futures = [rig.start(TITAN, docs), rig.start(COHERE, cohere_docs)]
    mostly_ok(check_run(TITAN, docs, DOC, outcome_of(futures[0])), len(docs))
    mostly_ok(check_run(COHERE, cohere_docs, DOC, outcome_of(futures[1])), len(cohere_docs))
    assert rig.retries()[("bedrock", "5xx")] > before[("bedrock", "5xx")]
    assert injected(rig, "error") > 0


def test_every_call_failing_is_a_retryable_status_or_retryable_items(rig: Rig) -> None:
    # Nothing gets through: the request must still end inside its deadline, truthfully.
    rig.emulator.faults(error_rate=1.0, error_status=503)
    texts = rig.texts("all 503", 5)
    started = time.monotonic()
    tally = check_run(TITAN, texts, DOC, rig.call(TITAN, texts, timeout=3.0))
    assert time.monotonic() - started < 3.5
    assert tally.ok == 0
    assert tally.status == grpc.StatusCode.UNAVAILABLE or tally.retryable == len(texts), tally


def test_slow_answers_past_the_upstream_timeout_are_retried(rig: Rig) -> None:
    # 100-1300 ms per answer against a 1 s upstream timeout: about a quarter time out.
    rig.emulator.faults(latency_ms=700, latency_jitter_ms=600)
    before = rig.retries()
    texts = rig.texts("slow upstream", 24)
    mostly_ok(check_run(TITAN, texts, DOC, rig.call(TITAN, texts, timeout=15.0)), len(texts))
    assert rig.retries()[("bedrock", "timeout")] > before[("bedrock", "timeout")]


def test_slow_answers_past_the_callers_deadline(rig: Rig) -> None:
    # Every answer slower than the deadline: the whole request is DEADLINE_EXCEEDED,
    # and it comes back on time rather than hanging.
    rig.emulator.faults(latency_ms=900)
    texts = rig.texts("past deadline", 6)
    started = time.monotonic()
    tally = check_run(TITAN, texts, DOC, rig.call(TITAN, texts, timeout=0.5))
    assert time.monotonic() - started < 1.0
    assert tally.status == grpc.StatusCode.DEADLINE_EXCEEDED or tally.codes == Counter(
        {"DEADLINE_EXCEEDED": len(texts)}
    ), tally
    # Some answers in time, some not: per-item results, each truthful.
    rig.emulator.faults(latency_ms=250, latency_jitter_ms=250)
    texts = rig.texts("around deadline", 20)
    check_run(TITAN, texts, DOC, rig.call(TITAN, texts, timeout=0.4))


@pytest.mark.parametrize(
    ("knob", "reason"), [("reset_rate", "reset"), ("truncate_rate", "truncated")]
)
def test_connection_resets_and_truncated_bodies(rig: Rig, knob: str, reason: str) -> None:
    rig.emulator.faults(**{knob: 0.3})
    before = rig.retries()
    docs = rig.texts(f"{reason} titan", 50, repeats=3)
    cohere_docs = rig.texts(f"{reason} cohere", 100)
    tei_docs = rig.texts(f"{reason} tei", 80)
    futures = [rig.start(TITAN, docs), rig.start(COHERE, cohere_docs), rig.start(TEI, tei_docs)]
    for target, texts, future in zip(
        (TITAN, COHERE, TEI), (docs, cohere_docs, tei_docs), futures, strict=True
    ):
        mostly_ok(check_run(target, texts, DOC, outcome_of(future)), len(texts))
    after = rig.retries()
    assert after[("bedrock", reason)] > before[("bedrock", reason)]
    assert injected(rig, knob.removesuffix("_rate")) > 0


def test_malformed_json_is_refused_and_retried(rig: Rig) -> None:
    rig.emulator.faults(malformed_rate=0.3)
    before = rig.retries()
    docs = rig.texts("malformed titan", 40)
    cohere_docs = rig.texts("malformed cohere", 100, repeats=2)
    futures = [rig.start(TITAN, docs), rig.start(COHERE, cohere_docs)]
    mostly_ok(check_run(TITAN, docs, DOC, outcome_of(futures[0])), len(docs))
    mostly_ok(check_run(COHERE, cohere_docs, DOC, outcome_of(futures[1])), len(cohere_docs))
    assert rig.retries()[("bedrock", "bad_response")] > before[("bedrock", "bad_response")]
    assert injected(rig, "malformed") > 0


def test_wrong_vector_count_in_a_cohere_batch_is_never_accepted(rig: Rig) -> None:
    rig.emulator.faults(wrong_count_rate=0.3)
    before = rig.retries()
    # Imports of 200 texts: batches of 96, 96 and 8, where one vector missing would
    # shift every later one; a one-text batch would lose its only vector.
    imports = [rig.texts(f"wrong count cohere {n}", 200) for n in range(4)]
    queries = rig.texts("wrong count query", 30)
    futures = [rig.start(COHERE, docs) for docs in imports]
    query_future = rig.start(COHERE, queries, QUERY)
    for docs, future in zip(imports, futures, strict=True):
        mostly_ok(check_run(COHERE, docs, DOC, outcome_of(future)), len(docs))
    mostly_ok(check_run(COHERE, queries, QUERY, outcome_of(query_future)), len(queries))
    assert rig.retries()[("bedrock", "bad_response")] > before[("bedrock", "bad_response")]
    assert injected(rig, "wrong_count") > 0


def test_wrong_dimension_is_never_accepted(rig: Rig) -> None:
    rig.emulator.faults(wrong_dim_rate=0.3)
    before = rig.retries()
    docs = rig.texts("wrong dim titan", 40)
    cohere_docs = rig.texts("wrong dim cohere", 100)
    futures = [rig.start(TITAN, docs), rig.start(COHERE, cohere_docs)]
    # Single-text queries too: the answer holds nothing to compare the short vector with.
    singles = [rig.texts("wrong dim single", 1) for _ in range(10)]
    single_futures = [rig.start(COHERE, s, QUERY) for s in singles]
    mostly_ok(check_run(TITAN, docs, DOC, outcome_of(futures[0])), len(docs))
    mostly_ok(check_run(COHERE, cohere_docs, DOC, outcome_of(futures[1])), len(cohere_docs))
    for s, future in zip(singles, single_futures, strict=True):
        check_run(COHERE, s, QUERY, outcome_of(future))
    assert rig.retries()[("bedrock", "bad_response")] > before[("bedrock", "bad_response")]
    assert injected(rig, "wrong_dim") > 0


def test_model_errors_are_final_items_amid_transient_faults(rig: Rig) -> None:
    marker = "poisoned-pill"
    rig.emulator.faults(fail_texts=[marker], error_rate=0.2, throttle_rate=0.1)
    docs = rig.texts("model error cohere", 90)
    for i in (5, 41, 77):
        docs[i] = f"{docs[i]} {marker}"
    failing = frozenset(t for t in docs if marker in t)
    singles = [f"{rig.texts('model error titan', 1)[0]} {marker}", *rig.texts("model ok", 3)]
    futures = [rig.start(COHERE, docs), rig.start(TITAN, singles)]
    tally = check_run(COHERE, docs, DOC, outcome_of(futures[0]), failing=failing)
    assert tally.final == len(failing) and tally.ok >= len(docs) - len(failing) - 2, tally
    tally = check_run(TITAN, singles, DOC, outcome_of(futures[1]), failing=frozenset(singles[:1]))
    assert tally.final == 1, tally


SAGEMAKER_FAULTS = {
    "throttle_rate": 0.1,
    "error_rate": 0.1,
    "reset_rate": 0.05,
    "truncate_rate": 0.05,
    "malformed_rate": 0.05,
    "wrong_count_rate": 0.1,
    "wrong_dim_rate": 0.1,
}


@pytest.mark.parametrize("target", [TEI, COHERE_SM], ids=lambda t: t.name)
def test_sagemaker_endpoints_under_every_fault(rig: Rig, target: Target) -> None:
    # These configs name no dimension: the sidecar trusts the first answer's length
    # (vectorizer/dimensions.py), so the first answer comes before the faults.
    warm = rig.texts(f"sagemaker warm {target.name}", 2)
    assert check_run(target, warm, DOC, rig.call(target, warm)).ok == 2
    rig.emulator.faults(**SAGEMAKER_FAULTS)
    before = rig.retries()
    docs = rig.texts(f"sagemaker {target.name}", 150, repeats=3)
    queries = [rig.texts(f"sagemaker query {target.name}", 1) for _ in range(8)]
    doc_future = rig.start(target, docs)
    query_futures = [rig.start(target, q, QUERY) for q in queries]
    mostly_ok(check_run(target, docs, DOC, outcome_of(doc_future)), len(docs))
    for q, future in zip(queries, query_futures, strict=True):
        check_run(target, q, QUERY, outcome_of(future))
    after = rig.retries()
    retried = {
        reason
        for (service, reason), n in after.items()
        if n > before[(service, reason)] and service == "sagemaker"
    }
    assert {"throttled", "5xx", "bad_response"} <= retried, retried
    assert injected(rig, "wrong_count") + injected(rig, "wrong_dim") > 0


def test_emulator_killed_and_restarted_mid_import(rig: Rig) -> None:
    # One call per Titan text, paced from 50 calls/s by the limiter: the import is
    # still running when the upstream dies; it comes back on the same port about a
    # second later (the outage plus the emulator's start-up).
    rig.emulator.faults(latency_ms=20)
    before = rig.retries()
    docs = rig.texts("killed titan", 400)
    cohere_docs = rig.texts("killed cohere", 300)
    futures = [rig.start(TITAN, docs), rig.start(COHERE, cohere_docs)]
    time.sleep(0.3)
    # The Cohere import (4 batched calls) may be done; the Titan one (400 calls) is not.
    assert not futures[0].done(), "the import ended before the upstream died"
    rig.kill_emulator()
    queries = [rig.texts("killed query", 1) for _ in range(4)]
    during = [rig.start(TITAN, q, QUERY, timeout=0.8) for q in queries]
    time.sleep(0.5)  # the outage: nothing listens on the port
    rig.start_emulator()
    totals = Tally()
    for target, texts, future in zip((TITAN, COHERE), (docs, cohere_docs), futures, strict=True):
        tally = check_run(target, texts, DOC, outcome_of(future))
        totals.ok += tally.ok
        totals.retryable += tally.retryable
    for q, future in zip(queries, during, strict=True):
        check_run(TITAN, q, QUERY, outcome_of(future))
    # Most of the import lands (before the kill, or retried after the restart).
    assert totals.ok > (len(docs) + len(cohere_docs)) // 2, totals
    assert rig.retries()[("bedrock", "reset")] > before[("bedrock", "reset")]
    # And new work flows again against the restarted upstream.
    again = rig.texts("after restart", 30)
    mostly_ok(check_run(COHERE, again, DOC, rig.call(COHERE, again)), len(again))


@pytest.mark.parametrize(("status", "reason"), [(408, "timeout"), (530, "5xx")])
def test_sagemaker_model_timeouts_and_dependency_errors_are_retried(
    rig: Rig, status: int, reason: str
) -> None:
    # 408: SageMaker's ModelError (424) for a container that timed out: transient,
    # unlike a container refusing the input. 530: InternalDependencyException.
    warm = rig.texts(f"sagemaker {status} warm", 2)
    assert check_run(TEI, warm, DOC, rig.call(TEI, warm)).ok == 2
    rig.emulator.faults(error_rate=0.3, error_status=status)
    before = rig.retries()
    docs = rig.texts(f"sagemaker {status}", 60)
    singles = [rig.texts(f"sagemaker {status} single", 1) for _ in range(6)]
    futures = [rig.start(TEI, s, QUERY) for s in singles]
    mostly_ok(check_run(TEI, docs, DOC, rig.call(TEI, docs)), len(docs))
    for s, future in zip(singles, futures, strict=True):
        check_run(TEI, s, QUERY, outcome_of(future))
    assert rig.retries()[("sagemaker", reason)] > before[("sagemaker", reason)]
    assert injected(rig, "error") > 0
