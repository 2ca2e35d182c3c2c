"""`python -m bench [--quick]`: every workload in one sitting, then bench/RESULTS.md.

The sequence (`run_all`): first issue 13's scenarios (a) to (f) on their own
emulator (`bench.scenarios`, run by `bench.sidebyside`: the sidecar and two
boto3 pools, each in turn); then the issue-6 phases: start the emulator
(40 ms latency, 30,000 rpm) and the sidecar; import through the sidecar
(Titan v2, Cohere v3), then the same import through a second sidecar told
the quota; cache hits; query overhead with and without an import running;
the peers (in the bench venv); the HTTP client comparison. Each phase resets
the emulator first (fault knobs, counters, quota window) and records the CPU
the sidecar and the emulator used.

Issue 13's (g), the overhead over a direct signed call at 1 and 64 callers,
runs after (f) on the scenarios' emulator (`bench.overhead`: paired calls).

`--quick` runs everything at 1/20 of the size (a smoke run, figures noisy).
`--scenarios acg` runs only those of issue 13's scenarios; `--no-legacy`
skips the issue-6 phases.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pickle
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from bench.report import render
from bench.results import (
    CacheResult,
    HttpClientResult,
    ImportResult,
    Machine,
    PeerResult,
    QueryCell,
    Results,
    Scale,
)
from bench.scenarios import scenarios
from bench.sidebyside import CLIENTS, Stage, peer_env, run_overhead, run_scenario
from bench.sidecar import import_texts, query_latencies, scrape, sync_cache_hits, sync_floor
from bench.signed import AiohttpPoster, timed_calls, titan_body
from bench.stats import CpuMeter, Latency
from bench.workload import COHERE, TITAN, Family, make_texts, verify
from tests.support import Emulator, Sidecar, start_emulator, start_sidecar

ROOT = Path(__file__).resolve().parent.parent
EMULATOR_ARGS = ("--latency-ms", "40", "--rpm", "30000")
# Issue 13's scenarios set their quota at run time; a reset goes back to none.
SCENARIO_EMULATOR_ARGS = ("--latency-ms", "40")
SCENARIO_KEYS = "abcdefg"
# 128 slots: a Titan import at 500 calls/s x 40 ms keeps ~20 in flight, and
# 64 query callers need their own slots beside it. 500/s is the quota the
# operator is assumed to know; the limiter adapts from there.
# 256 MiB of cache: the run embeds ~60,000 distinct 1024-float vectors, and the
# cache phase must find the Titan import's vectors still there.
SIDECAR_ARGS = (
    "--initial-rate",
    "500",
    "--max-concurrency",
    "128",
    "--cache-max-bytes",
    str(256 * 1024 * 1024),
    "--log-level",
    "warning",
)
QUOTA_TOLD_ARGS = (*SIDECAR_ARGS, "--max-rate", "500")
QUOTA_CALLS_PER_SECOND = 500.0
BATCH = {TITAN.key: 250, COHERE.key: 192}
CALLERS = 8


@dataclass
class Bench:
    scale: Scale
    emulator: Emulator
    sidecar: Sidecar
    peers_python: str | None
    results: Results
    run_id: str = field(default_factory=lambda: f"r{int(time.time())}")

    def texts(self, name: str, n: int) -> tuple[str, list[str]]:
        prefix = f"{self.run_id}-{name}"
        return prefix, make_texts(n, prefix)

    def meter(self, sidecar: Sidecar | None = None, **more: int) -> CpuMeter:
        """CPU of the emulator, `sidecar`, this process and `more`; the rest is "others"."""
        pids = {"emulator": self.emulator.proc.pid, "bench": os.getpid(), **more}
        if sidecar is not None:
            pids["sidecar"] = sidecar.proc.pid
        return CpuMeter(pids).start()


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- sidecar imports ---------------------------------------------------------------


def sidecar_import(b: Bench, sidecar: Sidecar, family: Family, label: str) -> ImportResult:
    b.emulator.reset()
    _, texts = b.texts(f"import-{label}-{family.key}", b.scale.import_n)
    meter = b.meter(sidecar)
    run = asyncio.run(
        import_texts(sidecar.grpc_address, family, texts, batch=BATCH[family.key], callers=CALLERS)
    )
    cpu = meter.stop()
    stats = b.emulator.stats()
    tally = verify(texts, run.answers, family)
    result = ImportResult(
        label=label,
        family=family.key,
        n=len(texts),
        wall=run.wall,
        tally=tally,
        upstream_calls=stats["requests"],
        throttled=stats["throttled"],
        upstream_errors=stats["errors"],
        sidecar_cpu=cpu["sidecar"],
        emulator_cpu=cpu["emulator"],
        others_cpu=cpu["others"],
        batch=BATCH[family.key],
        callers=CALLERS,
        error_codes=run.error_codes,
    )
    log(f"import {label} {family.key}: {run.wall:.2f}s, {tally}, {stats['requests']} calls")
    return result


# -- cache hits --------------------------------------------------------------------


def cache_hits(b: Bench, titan_texts_prefix: str) -> CacheResult:
    texts = make_texts(b.scale.import_n, titan_texts_prefix)[: b.scale.cache_n]
    b.emulator.reset()
    address = b.sidecar.grpc_address
    sync_floor(address, 50)  # warm the channel and the server's call path
    floor = sync_floor(address, len(texts))
    run = sync_cache_hits(address, texts)
    calls = b.emulator.stats()["requests"]
    result = CacheResult(Latency.of(run.latencies), run.errors, calls, Latency.of(floor))
    log(f"cache hits: {result.latency.ms()}, floor {result.floor.ms()}, upstream calls {calls}")
    return result


# -- query overhead ----------------------------------------------------------------


async def _direct(b: Bench, texts: Sequence[str], concurrency: int) -> tuple[Latency, int]:
    poster = AiohttpPoster(b.emulator.url)
    try:
        warm = [titan_body(t) for t in make_texts(concurrency, f"{b.run_id}-warm-direct")]
        await timed_calls(poster, TITAN.model, warm, concurrency=concurrency)
        bodies = [titan_body(t) for t in texts]
        run = await timed_calls(poster, TITAN.model, bodies, concurrency=concurrency)
    finally:
        await poster.close()
    return Latency.of(run.latencies), run.errors


def query_cell(
    b: Bench, sidecar: Sidecar, label: str, concurrency: int, importer: int | None = None
) -> QueryCell:
    loaded = importer is not None
    tag = f"q{concurrency}-{label}-{'imp' if loaded else 'idle'}"
    n = b.scale.query_n_1 if concurrency == 1 else concurrency * b.scale.query_per_caller_64
    _, direct_texts = b.texts(tag + "-direct", n)
    _, sidecar_texts = b.texts(tag + "-sidecar", n)
    _, warm_texts = b.texts(tag + "-warm", concurrency)
    more = {"importer": importer} if importer else {}
    meter = b.meter(sidecar, **more)
    direct, direct_errors = asyncio.run(_direct(b, direct_texts, concurrency))
    direct_cpu = meter.stop()
    # The sidecar's own CPU is read over its half only (warm-up + timed calls).
    meter = b.meter(sidecar, **more)
    address = sidecar.grpc_address
    asyncio.run(query_latencies(address, TITAN, warm_texts, concurrency=concurrency))
    run = asyncio.run(query_latencies(address, TITAN, sidecar_texts, concurrency=concurrency))
    cpu = meter.stop()
    cpu = {
        "sidecar": cpu["sidecar"],
        "emulator": cpu["emulator"] + direct_cpu["emulator"],
        "others": cpu["others"] + direct_cpu["others"],
    }
    cell = QueryCell(
        sidecar_label=label,
        concurrency=concurrency,
        during_import=loaded,
        sidecar=Latency.of(run.latencies),
        direct=direct,
        errors=run.errors + direct_errors,
        emulator_cpu=cpu["emulator"],
        sidecar_cpu=cpu["sidecar"],
        others_cpu=cpu["others"],
    )
    log(f"query {tag}: sidecar {cell.sidecar.ms()} direct {cell.direct.ms()}")
    return cell


def _mean_ms(before: dict[str, float], after: dict[str, float], histogram: str) -> float:
    count = after.get(histogram + "_count", 0.0) - before.get(histogram + "_count", 0.0)
    total = after.get(histogram + "_sum", 0.0) - before.get(histogram + "_sum", 0.0)
    return total / count * 1e3 if count else float("nan")


def query_overhead(b: Bench, sidecar: Sidecar, label: str) -> None:
    """Four cells on `sidecar`: 1 and 64 callers, idle then during an import.

    The emulator's quota is off here: these phases measure latency, and an
    unpaced import sends 30,000 calls (the window of a 30,000-rpm quota) in
    about 30 s, after which the window throttles everything for up to a minute.
    The quota-told sidecar holds its import at 500 calls/s by itself.
    """
    b.emulator.reset()
    b.emulator.faults(rpm=0)
    for concurrency in (1, 64):
        b.results.queries.append(query_cell(b, sidecar, label, concurrency))
    b.emulator.reset()
    b.emulator.faults(rpm=0)
    prefix, _ = b.texts(f"background-import-{label}", 0)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.importer",
            "--address",
            sidecar.grpc_address,
            "--prefix",
            prefix,
            "--n",
            str(b.scale.background_n),
            "--batch",
            str(BATCH[TITAN.key]),
            "--callers",
            str(CALLERS),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        if proc.stdout.readline().strip() != "running":
            raise RuntimeError("background import did not start")
        before = scrape(sidecar.http_url)
        in_flight = before.get("vectorizer_upstream_in_flight_calls", 0.0)
        for concurrency in (1, 64):
            b.results.queries.append(query_cell(b, sidecar, label, concurrency, proc.pid))
        after = scrape(sidecar.http_url)
        proc.send_signal(signal.SIGUSR1)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    background = json.loads(out.strip().splitlines()[-1])
    background["throttled"] = b.emulator.stats()["throttled"]
    background["in_flight"] = in_flight
    background["upstream_mean_ms"] = _mean_ms(
        before, after, "vectorizer_upstream_call_duration_seconds"
    )
    background["limiter_wait_mean_ms"] = _mean_ms(before, after, "vectorizer_limiter_wait_seconds")
    b.results.background_imports[label] = background
    log(f"background import ({label}): {background}")


# -- peers -------------------------------------------------------------------------


def run_peer(b: Bench, peer: str, family: Family, n: int) -> PeerResult:
    assert b.peers_python is not None
    b.emulator.reset()
    prefix, _ = b.texts(f"peer-{peer}-{family.key}", 0)
    meter = b.meter()
    proc = subprocess.run(
        [
            b.peers_python,
            "-m",
            "bench.peers",
            "--peer",
            peer,
            "--family",
            family.key,
            "--url",
            b.emulator.url,
            "--prefix",
            prefix,
            "--n",
            str(n),
        ],
        cwd=ROOT,
        env=peer_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    emulator_cpu = meter.stop()["emulator"]
    if proc.returncode != 0:
        raise RuntimeError(f"peer {peer} {family.key} failed: {proc.stderr[-3000:]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    stats = b.emulator.stats()
    max_texts = 1
    rejected = 0
    if family.batched:
        records = b.emulator.requests()
        sizes = [len((r.get("body") or {}).get("texts") or []) for r in records]
        max_texts = max(sizes, default=0)
        rejected = sum(1 for r in records if r.get("error_code") == "ValidationException")
    result = PeerResult(
        peer=peer,
        family=family.key,
        n=data["n"],
        wall=data["wall"],
        cpu=data["cpu"],
        tally=data["tally"],
        errors=data["errors"],
        upstream_calls=stats["requests"] - 1,  # the worker's one warm-up call
        throttled=stats["throttled"],
        # The emulator idles while the worker starts and verifies: its CPU is the calls'.
        emulator_cpu=emulator_cpu,
        max_texts_per_call=max_texts,
        rejected_calls=rejected,
        sampled=n < b.scale.import_n,
    )
    log(
        f"peer {peer} {family.key}: n={n} {data['wall']:.2f}s "
        f"({n / data['wall']:.1f} texts/s), lost {data['tally']['lost']}, max/call {max_texts}"
    )
    return result


def pool_from_scenario(r: Results, key: str, scale: Scale) -> PeerResult | None:
    """Scenario `key`'s boto3 pool (retry mode standard, no quota) as the issue-6
    tables' "boto3, 16-thread pool": the same pool, measured once."""
    s = r.scenario(key)
    run = s.run("boto3-standard") if s is not None else None
    if s is None or run is None:
        return None
    return PeerResult(
        peer="boto3-pool",
        family=s.scenario.family.key,
        n=run.n,
        wall=run.wall,
        cpu=run.client_cpu,
        tally=run.tally.to_dict(),
        errors=run.errors,
        upstream_calls=run.upstream_calls,
        throttled=run.throttled,
        emulator_cpu=run.emulator_cpu,
        max_texts_per_call=s.scenario.family.max_batch,
        rejected_calls=0,
        sampled=run.n < scale.import_n,
    )


def peers(b: Bench) -> None:
    s = b.scale
    # The Titan 16-thread pool is scenario (f)'s (same 40 ms, no binding quota).
    titan_pool = pool_from_scenario(b.results, "f", s)
    plan = [
        ("boto3-loop", TITAN, s.sample_n),
        *([] if titan_pool is not None else [("boto3-pool", TITAN, s.import_n)]),
        ("litellm", TITAN, s.sample_n),
        ("langchain", TITAN, s.sample_n),
        ("boto3-loop", COHERE, s.import_n),
        ("boto3-pool", COHERE, s.import_n),
        ("litellm", COHERE, s.import_n),
        ("litellm-chunked", COHERE, s.import_n),
        ("langchain", COHERE, s.import_n),
    ]
    for peer, family, n in plan:
        b.results.peers.append(run_peer(b, peer, family, n))
    if titan_pool is not None:
        b.results.peers.insert(1, titan_pool)


def peer_versions(peers_python: str) -> dict[str, str]:
    proc = subprocess.run(
        [peers_python, "-m", "bench.peers", "--versions"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout)


# -- HTTP client choice ------------------------------------------------------------


def http_clients(b: Bench) -> HttpClientResult:
    assert b.peers_python is not None
    b.emulator.reset()
    b.emulator.faults(latency_ms=0)
    meter = b.meter()
    proc = subprocess.run(
        [
            b.peers_python,
            "-m",
            "bench.httpclients",
            "--url",
            b.emulator.url,
            "--n",
            str(b.scale.http_n),
            "--concurrency",
            "64",
        ],
        cwd=ROOT,
        env=peer_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    emulator_cpu = meter.stop()["emulator"]
    b.emulator.reset()
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    log(f"http clients: {data}")
    return HttpClientResult(
        n=b.scale.http_n, concurrency=64, clients=data, emulator_cpu=emulator_cpu
    )


# -- machine -----------------------------------------------------------------------


def source_commit() -> str:
    """The commit the product code comes from, marked when vectorizer/ has local edits."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "vectorizer"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    if not sha:
        return "unknown"
    return sha + (" with uncommitted edits in vectorizer/" if dirty else "")


def machine(command: str, peers_python: str | None, commit: str) -> Machine:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import version

    versions = {name: version(name) for name in ("grpcio", "aiohttp", "botocore", "protobuf")}
    peers = peer_versions(peers_python) if peers_python else {}
    return Machine(
        command=command,
        commit=commit,
        date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        nproc=os.cpu_count() or 0,
        cpu_model=model,
        python=platform.python_version(),
        load_before=os.getloadavg()[0],
        product_versions=versions,
        peer_versions=peers,
    )


# -- sequence ----------------------------------------------------------------------


def attempt(results: Results, name: str, phase: Callable[[], object]) -> None:
    """Run one phase; a failure is recorded in the results (and the run goes on), so an
    unattended `make bench` always writes what it measured and says what it could not."""
    try:
        phase()
    except Exception as exc:  # noqa: BLE001 - recorded with its reason, shown in the results
        results.failures.append(f"{name}: {type(exc).__name__}: {str(exc)[:500]}")
        log(f"{name} failed: {exc!r}")


def run_scenarios(
    results: Results,
    keys: str,
    quick: bool,
    peers_python: str | None,
    run_id: str,
    clients: tuple[str, ...] = CLIENTS,
) -> None:
    """Issue 13's scenarios (a) to (f) among `keys`, then (g), on an emulator of their own."""
    chosen = [s for s in scenarios(quick) if s.key in keys]
    if not chosen and "g" not in keys:
        return
    emulator = start_emulator(*SCENARIO_EMULATOR_ARGS)
    try:
        results.scenario_emulator_command = " ".join(emulator.proc.args)  # type: ignore[arg-type]
        stage = Stage(emulator, peers_python, run_id, log, clients)
        for scenario in chosen:
            log(f"scenario {scenario.key}: {scenario.title}")
            result = run_scenario(stage, scenario)
            results.scenarios.append(result)
            if result.failure:
                results.failures.append(f"scenario {scenario.key}: {result.failure}")
        if "g" in keys:
            log("scenario g: overhead over a direct signed call")

            def overhead() -> None:
                results.overhead = run_overhead(stage, quick)

            attempt(results, "scenario g", overhead)
    finally:
        emulator.stop()


def run_legacy(args: argparse.Namespace, results: Results, run_id: str) -> None:
    """The issue-6 phases: imports at a 30,000-rpm quota, cache, queries, peers, HTTP."""
    peers_python = None if args.no_peers else args.peers_python
    with contextlib.ExitStack() as stack:
        emulator = start_emulator(*EMULATOR_ARGS)
        stack.callback(emulator.stop)
        sidecar = start_sidecar(emulator, *SIDECAR_ARGS)
        stack.callback(sidecar.terminate)
        results.emulator_command = " ".join(emulator.proc.args)  # type: ignore[arg-type]
        results.sidecar_command = " ".join(sidecar.proc.args)  # type: ignore[arg-type]
        b = Bench(results.scale, emulator, sidecar, peers_python, results, run_id)
        told = start_sidecar(emulator, *QUOTA_TOLD_ARGS)
        stack.callback(told.terminate)
        plan = (
            ("adaptive", sidecar, TITAN),
            ("adaptive", sidecar, COHERE),
            ("quota-told", told, TITAN),
        )
        for label, side, family in plan:

            def one(label: str = label, side: Sidecar = side, family: Family = family) -> None:
                results.imports.append(sidecar_import(b, side, family, label))

            attempt(results, f"import {label} {family.key}", one)
        if args.only_import:
            return

        def cache() -> None:
            results.cache = cache_hits(b, f"{b.run_id}-import-adaptive-{TITAN.key}")

        attempt(results, "cache hits", cache)
        attempt(results, "queries (adaptive)", lambda: query_overhead(b, sidecar, "adaptive"))
        attempt(results, "queries (quota-told)", lambda: query_overhead(b, told, "quota-told"))
        if peers_python:
            attempt(results, "peers", lambda: peers(b))

            def http() -> None:
                results.http = http_clients(b)

            attempt(results, "HTTP clients", http)


def run_all(args: argparse.Namespace, save: Callable[[Results], None]) -> Results:
    scale = Scale.quick() if args.quick else Scale.full()
    peers_python = args.peers_python if not args.no_peers else None
    if peers_python and not Path(peers_python).exists():
        raise SystemExit(f"{peers_python} not found: run `bash bench/run.sh` (it creates it)")
    command = args.command or "python -m bench " + " ".join(sys.argv[1:])
    commit = args.commit or source_commit()
    results = Results(scale=scale, machine=machine(command, peers_python, commit))
    started = time.perf_counter()
    run_id = f"r{int(time.time())}"
    attempt(
        results,
        "issue 13's scenarios",
        lambda: run_scenarios(
            results, args.scenarios, args.quick, peers_python, run_id, args.clients
        ),
    )
    results.bench_seconds = time.perf_counter() - started
    save(results)  # a checkpoint: the scenarios' figures are written even if the rest fails
    if not args.no_legacy:
        attempt(results, "issue-6 phases", lambda: run_legacy(args, results, run_id))
    results.bench_seconds = time.perf_counter() - started
    return results


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="1/20 of the sizes: a smoke run")
    p.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"))
    p.add_argument("--peers-python", default=str(ROOT / "bench" / ".venv-peers" / "bin" / "python"))
    p.add_argument("--no-peers", action="store_true", help="skip peers and the HTTP clients")
    p.add_argument("--only-import", action="store_true", help="only the sidecar imports")
    p.add_argument(
        "--scenarios",
        default=SCENARIO_KEYS,
        help=f"which of issue 13's scenarios to run (letters of {SCENARIO_KEYS}; default all)",
    )
    p.add_argument("--no-legacy", action="store_true", help="skip the issue-6 phases")
    p.add_argument(
        "--clients",
        default=",".join(CLIENTS),
        help="comma-separated clients of issue 13's scenarios (default: all; e.g. `sidecar` "
        "to try a limiter change quickly)",
    )
    p.add_argument("--command", default="", help="the command line to record in the results")
    p.add_argument("--commit", default="", help="the source commit to record (default: git)")
    p.add_argument(
        "--rerender",
        action="store_true",
        help="no workloads: write --out again from the last run's figures (after editing "
        "bench/analysis.md)",
    )
    args = p.parse_args(argv)
    args.clients = tuple(c.strip() for c in args.clients.split(",") if c.strip())
    unknown = sorted(set(args.clients) - set(CLIENTS))
    if unknown:
        p.error(f"unknown clients {unknown}; known: {list(CLIENTS)}")
    saved = Path(args.out).with_suffix(".pickle")

    def save(results: Results) -> None:
        saved.write_bytes(pickle.dumps(results))
        Path(args.out).write_text(render(results))

    if args.rerender:
        results = pickle.loads(saved.read_bytes())
    else:
        results = run_all(args, save)
    save(results)
    log(f"wrote {args.out} ({results.bench_seconds:.0f}s of workloads)")
    return 0 if not results.failures else 1


if __name__ == "__main__":
    sys.exit(main())
