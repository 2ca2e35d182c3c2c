"""The figures of one bench run, as plain dataclasses (`report` renders them).

- `Scale`: the sizes of every workload (full, or 1/20 for `--quick`).
- `Machine`: where and how the run was made.
- `ImportResult`, `PeerResult`, `QueryCell`, `CacheResult`, `HttpClientResult`:
  one workload each.
- `ClientRun`, `ScenarioResult`: issue 13's scenarios, one client's run and
  the scenario with all of its clients.
- `Results`: all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.overhead import Overhead
from bench.scenarios import Scenario
from bench.stats import Latency
from bench.workload import Tally


@dataclass(frozen=True)
class Scale:
    name: str
    import_n: int  # texts per import (sidecar, boto3 pool, batched peers)
    sample_n: int  # texts for peers that go one text at a time
    cache_n: int
    query_n_1: int  # queries timed at one caller
    query_per_caller_64: int  # queries per caller at 64 callers
    background_n: int  # most texts the background import may send
    http_n: int

    @classmethod
    def full(cls) -> Scale:
        # One text at a time, a peer does ~23 texts/s at 40 ms: 300 give its rate.
        # 6,000 texts an import (10,000 before issue 13) keep make bench near 15 minutes.
        return cls("full", 6_000, 300, 1_000, 100, 25, 45_000, 2_000)

    @classmethod
    def quick(cls) -> Scale:
        return cls("quick (1/20)", 500, 15, 50, 10, 3, 6_000, 100)


@dataclass
class Machine:
    command: str
    commit: str
    date: str
    nproc: int
    cpu_model: str
    python: str
    load_before: float
    product_versions: dict[str, str]
    peer_versions: dict[str, str]


@dataclass
class ImportResult:
    label: str  # "adaptive" or "quota-told"
    family: str
    n: int
    wall: float
    tally: Tally
    upstream_calls: int
    throttled: int
    upstream_errors: int
    sidecar_cpu: float
    emulator_cpu: float
    others_cpu: float  # CPU used meanwhile by jobs outside the bench
    batch: int
    callers: int
    error_codes: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.n / self.wall


@dataclass
class PeerResult:
    peer: str
    family: str
    n: int
    wall: float
    cpu: float
    tally: dict[str, int]
    errors: dict[str, int]
    upstream_calls: int
    throttled: int
    emulator_cpu: float
    max_texts_per_call: int
    rejected_calls: int
    sampled: bool

    @property
    def lost(self) -> int:
        return self.tally["lost"]

    @property
    def rate(self) -> float:
        """Texts embedded per second (lost texts do not count)."""
        return (self.n - self.lost) / self.wall if self.wall > 0 else 0.0


@dataclass
class QueryCell:
    sidecar_label: str  # "adaptive" or "quota-told"
    concurrency: int
    during_import: bool
    sidecar: Latency
    direct: Latency
    errors: int
    emulator_cpu: float
    sidecar_cpu: float
    others_cpu: float  # CPU used meanwhile by jobs outside the bench

    @property
    def overhead_p50(self) -> float:
        return self.sidecar.p50 - self.direct.p50

    @property
    def overhead_p99(self) -> float:
        return self.sidecar.p99 - self.direct.p99


@dataclass
class CacheResult:
    latency: Latency
    errors: int
    upstream_calls: int
    floor: Latency  # grpc.health.v1 Check on the same client: the round trip alone


@dataclass
class HttpClientResult:
    n: int
    concurrency: int
    clients: dict[str, dict[str, Any]]
    emulator_cpu: float


@dataclass
class ClientRun:
    """One client's run of a scenario: the sidecar, or a boto3 pool."""

    client: str  # "sidecar", "boto3-standard", "boto3-adaptive"
    n: int
    wall: float
    tally: Tally
    upstream_calls: int  # as the emulator counted them, throttled ones included
    throttled: int
    upstream_errors: int  # error answers other than throttling
    client_cpu: float  # the client process: the sidecar's, or the pool's own calls
    emulator_cpu: float
    others_cpu: float  # CPU used meanwhile by jobs outside the bench
    limit: float | None  # physical limit (s) with the change at the time it was made
    change_at: float | None = None  # seconds into the run the quota changed
    # Per sampling period (about 1 s): (its seconds, calls the emulator accepted,
    # calls it throttled).
    timeline: list[tuple[float, int, int]] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # item errors, by kind
    retries: float | None = None  # the sidecar's vectorizer_retries_total
    limiter_rates: list[float] = field(default_factory=list)  # its rate gauge, each second
    limiter_token_rates: list[float] = field(default_factory=list)  # its token-rate gauge

    @property
    def accepted(self) -> int:
        return self.upstream_calls - self.throttled

    @property
    def throttled_share(self) -> float:
        return self.throttled / self.upstream_calls if self.upstream_calls else 0.0

    @property
    def delivered_rate(self) -> float:
        """Correct vectors per second: a client that drops texts is not faster for it."""
        return self.tally.ok / self.wall if self.wall > 0 else 0.0

    @property
    def ratio(self) -> float | None:
        return self.wall / self.limit if self.limit else None

    def cpu_per_text_ms(self) -> float:
        return self.client_cpu / self.n * 1e3 if self.n else float("nan")


@dataclass
class ScenarioResult:
    scenario: Scenario
    calls: int  # upstream calls the texts need at the model's largest batch
    tokens: int  # input tokens of the texts, as the emulator counts them
    limit: float | None  # physical limit (s) with the change at its planned time
    runs: list[ClientRun] = field(default_factory=list)
    failure: str = ""  # why the scenario (or part of it) did not run
    sidecar_command: str = ""
    answer_bytes: int = 0  # one upstream answer as the clients get it (a full batch)
    answer_keys: str = ""  # its top-level JSON keys

    def run(self, client: str) -> ClientRun | None:
        return next((r for r in self.runs if r.client == client), None)


@dataclass
class Results:
    scale: Scale
    machine: Machine
    emulator_command: str = ""
    sidecar_command: str = ""
    imports: list[ImportResult] = field(default_factory=list)
    peers: list[PeerResult] = field(default_factory=list)
    queries: list[QueryCell] = field(default_factory=list)
    cache: CacheResult | None = None
    background_imports: dict[str, dict[str, Any]] = field(default_factory=dict)
    http: HttpClientResult | None = None
    scenarios: list[ScenarioResult] = field(default_factory=list)
    overhead: list[Overhead] = field(default_factory=list)  # issue 13's (g)
    failures: list[str] = field(default_factory=list)  # phases that did not complete, and why
    scenario_emulator_command: str = ""
    bench_seconds: float = 0.0

    def scenario(self, key: str) -> ScenarioResult | None:
        return next((s for s in self.scenarios if s.scenario.key == key), None)

    def overhead_at(self, concurrency: int) -> Overhead | None:
        return next((o for o in self.overhead if o.concurrency == concurrency), None)

    def sidecar_import(self, family: str, label: str = "adaptive") -> ImportResult | None:
        return next((r for r in self.imports if r.family == family and r.label == label), None)

    def peer(self, peer: str, family: str) -> PeerResult | None:
        return next((p for p in self.peers if p.peer == peer and p.family == family), None)

    def query(
        self, concurrency: int, during_import: bool, label: str = "adaptive"
    ) -> QueryCell | None:
        return next(
            (
                q
                for q in self.queries
                if q.concurrency == concurrency
                and q.during_import == during_import
                and q.sidecar_label == label
            ),
            None,
        )
