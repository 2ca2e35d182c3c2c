"""`make bench-scale` (`python -m bench.scale`): replicas, workers and Redis
against one quota nobody told them. Writes bench/SCALE.md.

Phases:
- `replicas`: 3 sidecars sharing a real redis-server, a round-robin client
  (vectorizer.client over every replica), the emulator enforcing an untold
  quota of 300 calls/s whose bucket starts empty. A cold import (fresh
  sidecars), then a warm one (the same sidecars, new texts), each with the
  shared rate budget off and on, side by side.
- `autoscale`: 3 replicas; a 4th added when a third of the texts was sent, one
  drained away (out of DNS, then SIGTERM) at two thirds, as an autoscaler does.

Replicas sit on 127.0.0.1, .2, ... behind a DNS name of the bench's own
(tests/headless.py), as pods behind a headless Service; the client resolves
it with gRPC's round_robin policy and re-resolves when connections age out.
- `redis-killed`: the redis-server SIGKILLed a third of the way through.
- `workers`: one sidecar with 1, then 2 worker processes, no quota, no
  latency, Cohere v3 (96 texts per upstream call, so the sidecar's own work,
  JSON and protobuf, weighs most): the CPU-bound path, through 8 client
  connections (a single one would pin to one worker).

Every run restarts the emulator on the same port, so each starts with the
quota's bucket as `--quota-start` says. Every item is checked against the
emulator's deterministic vector: `lost` counts missing, wrong and failed items
after the client's retries.

The shared budget (issue 14, item 1) is switched on by the sidecar flags of
`--shared-budget-arg` (repeatable; default `--shared-budget on`), off by
`--shared-budget off` (the Redis cache tier stays on either way).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import numpy as np

from bench.fleet import (
    BATCH,
    CALLERS,
    CLIENT_RETRY,
    Event,
    Fleet,
    Upstream,
    import_all,
)
from bench.sidecar import config_for
from bench.stats import CpuMeter
from bench.workload import COHERE, TITAN, Answer, Family, make_texts, verify
from tests.support import start_emulator, start_redis, start_sidecar
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parent.parent
QUOTA_RPS = 300.0
LATENCY_MS = 40.0
REPLICAS = 3
SIDECAR_ARGS = ("--log-level", "warning", "--max-connection-age", "5")
# --redis-url alone turns the shared budget on (--shared-budget auto): the
# "off" rows keep the Redis cache tier and switch the budget off.
BUDGET_OFF = ("--shared-budget", "off")
BUDGET_ON = ["--shared-budget", "on"]


@dataclass
class Row:
    phase: str
    run: str
    texts: int
    wall: float | None = None
    bound: float | None = None
    upstream: int = 0
    throttled: int = 0
    lost: int | None = None
    note: str = ""

    def cells(self) -> list[str]:
        if self.wall is None:
            return [self.phase, self.run, f"{self.texts:,}", "pending", "", "", "", self.note]
        ratio = f"{self.wall / self.bound:.2f}x" if self.bound else ""
        share = f"{self.throttled / self.upstream:.1%}" if self.upstream else ""
        return [
            self.phase,
            self.run,
            f"{self.texts:,}",
            f"{self.wall:.2f} s",
            ratio,
            f"{self.upstream:,} / {self.throttled:,} ({share})",
            str(self.lost),
            self.note,
        ]


def spread_note(before: dict[str, float], after: dict[str, float]) -> str:
    parts = [f"{ip.rsplit('.', 1)[1]}: {after[ip] - before.get(ip, 0):.0f}" for ip in after]
    return "requests per replica (127.0.0.x) " + ", ".join(parts)


@dataclass
class Imported:
    """One import through a fleet: its wall time, the answers, and the
    emulator's CPU meanwhile (seconds)."""

    wall: float
    answers: list[Answer]
    emulator_cpu: float


async def run_import(
    fleet: Fleet, upstream: Upstream, texts: Sequence[str], events: Sequence[Event] = ()
) -> Imported:
    meter = CpuMeter({"emulator": upstream.emu.proc.pid}).start()
    wall, answers = await import_all(fleet, texts, events)
    return Imported(wall, answers, meter.stop()["emulator"])


def measured(
    phase: str,
    run: str,
    upstream: Upstream,
    texts: Sequence[str],
    result: Imported,
    note: str = "",
) -> Row:
    stats = upstream.emu.stats()
    tally = verify(texts, result.answers, TITAN)
    cores = result.emulator_cpu / result.wall
    return Row(
        phase,
        run,
        len(texts),
        result.wall,
        len(texts) / QUOTA_RPS,
        int(stats["requests"]),
        int(stats["throttled"]),
        tally.lost,
        f"{note}; emulator {cores:.2f} cores" if note else f"emulator {cores:.2f} cores",
    )


async def replicas_phase(
    upstream: Upstream, texts_n: int, shared: Sequence[str], stamp: str
) -> list[Row]:
    rows = []
    for budget, extra in (("off", BUDGET_OFF), ("on", tuple(shared))):
        if budget == "on" and not shared:
            for run in ("cold", "warm"):
                rows.append(
                    Row(
                        "replicas",
                        f"{REPLICAS} replicas, shared budget on, {run}",
                        texts_n,
                        note="needs the Redis budget (issue 14 item 1)",
                    )
                )
            continue
        store = start_redis()
        fleet = Fleet(upstream, [*SIDECAR_ARGS, "--redis-url", store.url, *extra])
        try:
            upstream.restart()
            for _ in range(REPLICAS):
                fleet.add()
            for run in ("cold", "warm"):
                if run == "warm":
                    upstream.restart()  # the same sidecars; a fresh, empty bucket
                texts = make_texts(texts_n, f"scale-{budget}-{run}-{stamp}")
                before = fleet.served()
                result = await run_import(fleet, upstream, texts)
                name = f"{REPLICAS} replicas, shared budget {budget}, {run}"
                note = spread_note(before, fleet.served())
                rows.append(measured("replicas", name, upstream, texts, result, note))
                print(rows[-1].cells(), flush=True)
        finally:
            await fleet.close()
            store.kill()
    return rows


async def autoscale_phase(
    upstream: Upstream, texts_n: int, shared: Sequence[str], stamp: str
) -> list[Row]:
    rows = []
    for budget, extra in (("off", BUDGET_OFF), ("on", tuple(shared))):
        name = f"3 replicas, +1 at 1/3, -1 at 2/3, shared budget {budget}"
        if budget == "on" and not shared:
            rows.append(Row("autoscale", name, texts_n, note="needs the Redis budget"))
            continue
        store = start_redis()
        fleet = Fleet(upstream, [*SIDECAR_ARGS, "--redis-url", store.url, *extra])
        try:
            upstream.restart()
            for _ in range(REPLICAS):
                fleet.add()
            texts = make_texts(texts_n, f"autoscale-{budget}-{stamp}")
            events = [(1 / 3, fleet.scale_up), (2 / 3, fleet.scale_down)]
            result = await run_import(fleet, upstream, texts, events)
            note = spread_note({}, fleet.served())
            rows.append(measured("autoscale", name, upstream, texts, result, note))
            print(rows[-1].cells(), flush=True)
        finally:
            await fleet.close()
            store.kill()
    return rows


async def redis_killed_phase(
    upstream: Upstream, texts_n: int, shared: Sequence[str], stamp: str
) -> list[Row]:
    store = start_redis()
    fleet = Fleet(upstream, [*SIDECAR_ARGS, "--redis-url", store.url, *shared])
    budget = "on" if shared else "off"
    try:
        upstream.restart()
        for _ in range(REPLICAS):
            fleet.add()
        texts = make_texts(texts_n, f"redis-killed-{stamp}")
        killed_at: list[float] = []

        async def kill_redis() -> None:
            killed_at.append(time.perf_counter())
            await asyncio.to_thread(store.kill)

        began = time.perf_counter()
        result = await run_import(fleet, upstream, texts, [(1 / 3, kill_redis)])
        row = measured(
            "redis-killed",
            f"redis-server killed at 1/3, shared budget {budget}",
            upstream,
            texts,
            result,
            f"killed {killed_at[0] - began:.1f} s after the first request",
        )
        print(row.cells(), flush=True)
        return [row]
    finally:
        await fleet.close()
        store.kill()


def process_tree(pid: int) -> list[int]:
    out = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            out.extend(process_tree(int(child)))
    return out


async def workers_phase(texts_n: int, stamp: str) -> list[Row]:
    """The CPU-bound path: no quota, no latency; texts/s through 1 and 2 workers."""
    emu = start_emulator()
    rows = []
    try:
        for n in (1, 2):
            emu.reset()
            side = start_sidecar(
                emu, "--log-level", "warning", "--workers", str(n), "--cache-max-bytes", "0"
            )
            try:
                texts = make_texts(texts_n, f"workers-{n}-{stamp}")
                meter = CpuMeter({f"p{p}": p for p in process_tree(side.proc.pid)}).start()
                wall, answers = await connections_import(
                    side.grpc_address, texts, COHERE, connections=8
                )
                cpu = meter.stop()
                sidecar_cpu = sum(v for k, v in cpu.items() if k != "others")
                tally = verify(texts, answers, COHERE)
                rows.append(
                    Row(
                        "workers",
                        f"--workers {n}, Cohere v3, no quota",
                        len(texts),
                        wall,
                        None,
                        int(emu.stats()["requests"]),
                        0,
                        tally.lost,
                        f"{len(texts) / wall:,.0f} texts/s; sidecar CPU "
                        f"{sidecar_cpu:.1f} s, rest of machine {cpu['others']:.1f} s",
                    )
                )
                print(rows[-1].cells(), flush=True)
            finally:
                side.terminate()
    finally:
        emu.stop()
    return rows


async def connections_import(
    address: str, texts: Sequence[str], family: Family, connections: int
) -> tuple[float, list[Answer]]:
    """`connections` callers, each on a connection of its own (no shared subchannel)."""
    chunks = [(i, list(texts[i : i + 192])) for i in range(0, len(texts), 192)]
    answers: list[Answer] = [None] * len(texts)
    config = config_for(family)

    async def caller() -> None:
        options = [
            ("grpc.use_local_subchannel_pool", 1),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ]
        async with grpc.aio.insecure_channel(address, options=options) as channel:
            stub = pb_grpc.VectorizerStub(channel)
            while chunks:
                start, chunk = chunks.pop(0)
                response = await stub.Vectorize(
                    pb.VectorizeRequest(texts=chunk, config=config), timeout=120
                )
                for k, r in enumerate(response.results):
                    answers[start + k] = (
                        np.asarray(r.vector.values, np.float32)
                        if r.HasField("vector")
                        else f"{r.error.code}: {r.error.message}"
                    )

    t0 = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(connections)))
    return time.perf_counter() - t0, answers


@dataclass
class Options:
    texts: int
    worker_texts: int
    quota_start: str
    shared: list[str] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)
    out: Path = ROOT / "bench" / "SCALE.md"
    command: str = "make bench-scale"


def emulator_knows(flag: str) -> bool:
    out = subprocess.run(
        [sys.executable, "-m", "vectorizer.emulator", "--help"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    return flag in out.stdout


async def run(o: Options) -> list[Row]:
    quota = ["--rps", str(QUOTA_RPS), "--latency-ms", str(LATENCY_MS)]
    if o.quota_start != "full":  # an emulator without the flag starts full
        if not emulator_knows("--quota-start"):
            raise SystemExit(
                "bench.scale: this emulator has no --quota-start (EMULATOR_QUOTA.md); "
                "run with --quota-start full, or after the emulator quota flags are in"
            )
        quota += ["--quota-start", o.quota_start]
    upstream = Upstream(quota)
    stamp = str(int(time.time()))
    rows: list[Row] = []
    try:
        if "replicas" in o.phases:
            rows += await replicas_phase(upstream, o.texts, o.shared, stamp)
        if "autoscale" in o.phases:
            rows += await autoscale_phase(upstream, o.texts, o.shared, stamp)
        if "redis-killed" in o.phases:
            rows += await redis_killed_phase(upstream, o.texts, o.shared, stamp)
    finally:
        upstream.stop()
    if "workers" in o.phases:
        rows += await workers_phase(o.worker_texts, stamp)
    return rows


def render(o: Options, rows: Sequence[Row]) -> str:
    head = [
        "phase",
        "run",
        "texts",
        "wall",
        "wall / (texts / quota)",
        "upstream calls / throttled",
        "lost",
        "note",
    ]
    table = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    table += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    shared = " ".join(o.shared) if o.shared else "not given: those rows are pending"
    return f"""# Scale-out: replicas, workers and Redis against one untold quota

Command: `{o.command}`
Date: {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}; machine: {platform.machine()},
Python {platform.python_version()}, 2 cores shared by the emulator, every
sidecar process, redis-server and the client.

The emulator enforces {QUOTA_RPS:g} calls/s (Titan v2, one call per text; bucket
start: {o.quota_start}) and answers in {LATENCY_MS:g} ms; no sidecar is told the
quota. {CALLERS} callers send requests of {BATCH} texts through a round-robin
client over a DNS name listing the replicas (a headless Service on loopback),
which share a redis-server (cache tier). Shared-budget
flags: {shared}. Lost = items without their exact vector after the client's
retries (up to {CLIENT_RETRY.max_attempts} attempts of the retryable ones).
Target (issue 14): within 1.05x of texts / quota, at most 1% throttled, 0 lost.

{chr(10).join(table)}

The `workers` rows have no quota and no latency (Cohere v3, requests of 192
texts, 96 per upstream call): they measure the sidecar's CPU-bound path;
with 2 cores shared by the emulator and the client, a second worker can use
at most what those leave ("rest of machine" is every other process's CPU
meanwhile, the emulator's and the client's included).
"""


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="1/10 of the sizes (figures noisy)")
    p.add_argument("--texts", type=int, default=6000)
    p.add_argument("--worker-texts", type=int, default=20_000)
    p.add_argument("--quota-start", choices=("empty", "full"), default="empty")
    p.add_argument(
        "--shared-budget-arg",
        action="append",
        default=None,
        dest="shared",
        help="a sidecar flag that turns the Redis rate budget on (repeatable; default: "
        + " ".join(BUDGET_ON)
        + ")",
    )
    p.add_argument(
        "--phase",
        action="append",
        dest="phases",
        choices=("replicas", "autoscale", "redis-killed", "workers"),
    )
    p.add_argument("--out", type=Path)
    a = p.parse_args(argv)
    scale = 10 if a.quick else 1
    o = Options(
        texts=a.texts // scale,
        worker_texts=a.worker_texts // scale,
        quota_start=a.quota_start,
        shared=a.shared if a.shared is not None else list(BUDGET_ON),
        phases=a.phases or ["replicas", "autoscale", "redis-killed", "workers"],
        out=a.out or ROOT / "bench" / ("SCALE.quick.md" if a.quick else "SCALE.md"),
        command="python -m bench.scale " + " ".join(sys.argv[1:] if argv is None else argv),
    )
    rows = asyncio.run(run(o))
    o.out.write_text(render(o, rows))
    print(o.out.read_text())


if __name__ == "__main__":
    main()
