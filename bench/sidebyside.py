"""Issue 13's scenarios side by side: the sidecar and two boto3 pools on one emulator.

`run_scenario(stage, scenario)` runs each client in turn, the same way:

1. Prepare it while the emulator has no quota: a fresh sidecar with default
   flags (told nothing about the quota, empty cache) warmed with one call, or
   the peer worker in the bench venv, which warms itself (import, client,
   one call) and says `ready`.
2. Reset the emulator (counters and quota buckets, so a bucket that starts
   empty starts empty for every client) and set the scenario's knobs.
3. Go: `callers` gRPC callers send the sidecar `batch` texts per request;
   a peer starts its clock when it reads `go`. Meanwhile a sampler reads the
   emulator's counters every second (the timeline) and a timer makes the
   scenario's mid-run quota change.
4. Stop: CPU of the client and of the emulator, the emulator's counters,
   every vector checked against the emulator's deterministic vector.

All clients of a scenario embed the same texts, so they face the same limit.
"""

from __future__ import annotations

import asyncio
import json
import math
import select
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.overhead import Breakdown, Overhead, paired_calls
from bench.results import ClientRun, ScenarioResult
from bench.scenarios import Scenario, calls_needed, physical_limit
from bench.sidecar import import_texts, scrape
from bench.signed import credentials, invoke_url, signed_headers
from bench.stats import CpuMeter
from bench.workload import Tally, make_texts, verify
from tests.support import Emulator, sidecar_env, start_sidecar
from vectorizer.emulator.vectors import token_count

ROOT = Path(__file__).resolve().parent.parent
SIDECAR = "sidecar"
POOLS = ("boto3-standard", "boto3-adaptive")
CLIENTS = (SIDECAR, *POOLS)
SIDECAR_ARGS = ("--log-level", "warning")  # defaults otherwise: the quota is untold
PEER_TIMEOUT = 900.0
OVERHEAD_WARMUP_SECONDS = 5.0
OVERHEAD_PAIRS = {1: 150, 64: 640}  # (g): callers -> pairs of calls (1/10 of it with --quick)
LIMITER_GAUGE = "vectorizer_limiter_rate_per_second"
LIMITER_TOKEN_GAUGE = "vectorizer_limiter_token_rate_per_second"
READY_TIMEOUT = 120.0  # a peer's warm-up: interpreter, boto3 import, one call


def peer_env() -> dict[str, str]:
    env = sidecar_env(None)
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no network fetch at import
    env["LITELLM_LOG"] = "ERROR"
    return env


@dataclass
class Stage:
    emulator: Emulator
    peers_python: str | None
    run_id: str
    log: Callable[[str], None]
    clients: tuple[str, ...] = CLIENTS


class Sampler(threading.Thread):
    """Reads the emulator's counters (and, for the sidecar, its limiter's rate gauge)
    every `period` seconds until stopped."""

    def __init__(
        self,
        emulator: Emulator,
        gauge: Callable[[], tuple[float, float] | None] | None = None,
        period: float = 1.0,
    ):
        super().__init__(daemon=True)
        self._emulator = emulator
        self._gauge = gauge
        self._period = period
        self._done = threading.Event()
        # (time, requests, throttled); the counters start at 0 after a reset.
        self._samples: list[tuple[float, int, int]] = [(time.perf_counter(), 0, 0)]
        self.gauge_values: list[tuple[float, float]] = []

    def run(self) -> None:
        while not self._done.wait(self._period):
            self._sample()
            if self._gauge is not None:
                try:
                    value = self._gauge()
                except OSError:
                    value = None
                if value is not None:
                    self.gauge_values.append(value)

    def _sample(self) -> None:
        try:
            stats = self._emulator.stats()
        except OSError:
            return
        now = time.perf_counter()
        self._samples.append((now, int(stats["requests"]), int(stats["throttled"])))

    def stop(self) -> list[tuple[float, int, int]]:
        """Per period: (its seconds, calls accepted, calls throttled). Periods are about
        `period` long, longer when this process is busy; the last one is partial."""
        self._done.set()
        self.join()
        self._sample()
        out = []
        pairs = zip(self._samples, self._samples[1:], strict=False)
        for (t0, req0, thr0), (t1, req1, thr1) in pairs:
            throttled = thr1 - thr0
            out.append((t1 - t0, req1 - req0 - throttled, throttled))
        return out


def limiter_gauge(http_url: str) -> Callable[[], tuple[float, float] | None]:
    """The sidecar's limiter gauges, summed over targets: (calls/s, tokens/s); a
    gauge the sidecar does not export reads 0."""

    def read() -> tuple[float, float] | None:
        metrics = scrape(http_url)
        if LIMITER_GAUGE not in metrics:
            return None
        return metrics[LIMITER_GAUGE], metrics.get(LIMITER_TOKEN_GAUGE, 0.0)

    return read


def set_knobs(emulator: Emulator, knobs: dict[str, Any]) -> None:
    """POST /_emulator/faults; a refusal names the knob (e.g. an emulator without it)."""
    try:
        emulator.faults(**knobs)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise RuntimeError(f"the emulator refused {knobs}: {exc.code} {detail}") from None


def timeline_from_records(
    records: list[dict[str, Any]], start: float, end: float
) -> list[tuple[float, int, int]]:
    """Per second from `start` to `end` (epoch seconds, the emulator's record times):
    (the second's length, calls accepted, calls throttled); the last one is partial."""
    span = max(0.0, end - start)
    bins = max(1, math.ceil(span))
    accepted = [0] * bins
    throttled = [0] * bins
    for record in records:
        i = min(bins - 1, max(0, int(record["time"] - start)))
        if record.get("error_code") == "ThrottlingException":
            throttled[i] += 1
        else:
            accepted[i] += 1
    lengths = [1.0] * (bins - 1) + [span - (bins - 1) if span > bins - 1 else 1.0]
    return list(zip(lengths, accepted, throttled, strict=True))


class Phase:
    """The timed part of one client's run: knobs set, CPU metered, counters sampled."""

    def __init__(
        self,
        stage: Stage,
        scenario: Scenario,
        client_pid: int,
        change_in: float | None,
        gauge: Callable[[], tuple[float, float] | None] | None = None,
    ):
        self._stage = stage
        self._gauge = gauge
        self._scenario = scenario
        self._pid = client_pid
        self._change_in = change_in
        self.change_at: float | None = None
        self._timer: threading.Timer | None = None

    def go(self) -> None:
        emulator = self._stage.emulator
        emulator.reset()
        set_knobs(emulator, self._scenario.knobs())
        self._meter = CpuMeter({"emulator": emulator.proc.pid, "client": self._pid}).start()
        self._sampler = Sampler(emulator, self._gauge)
        self.started = time.perf_counter()
        self._epoch = time.time()
        self._sampler.start()
        change = self._scenario.change
        if change is not None and self._change_in is not None:
            self._timer = threading.Timer(self._change_in, self._change, (change.quota.knobs(),))
            self._timer.start()

    def _change(self, knobs: dict[str, Any]) -> None:
        set_knobs(self._stage.emulator, knobs)
        self.change_at = time.perf_counter() - self.started

    def stop(self) -> tuple[dict[str, float], list[tuple[float, int, int]], dict[str, Any]]:
        if self._timer is not None:
            self._timer.cancel()
        cpu = self._meter.stop()
        end = time.time()
        timeline = self._sampler.stop()
        self.gauge_values = self._sampler.gauge_values
        stats = self._stage.emulator.stats()
        # The emulator stamps each request on arrival: exact seconds, where the
        # sampler's reads drift when this process is busy. It keeps the last 10,000.
        records = self._stage.emulator.requests()
        if len(records) == stats["requests"]:
            timeline = timeline_from_records(records, self._epoch, end)
        return cpu, timeline, stats


def _texts(stage: Stage, scenario: Scenario) -> tuple[str, list[str]]:
    prefix = f"{stage.run_id}-scenario-{scenario.key}"
    return prefix, make_texts(scenario.n, prefix, scenario.chars)


def sample_answer(emulator: Emulator, scenario: Scenario, texts: list[str]) -> tuple[int, str]:
    """One signed call as the clients make them: the answer's size in bytes and its
    top-level keys (is it the real size, e.g. Titan v2's `embeddingsByType` copy?)."""
    family = scenario.family
    if family.batched:
        chunk = texts[: family.max_batch]
        body: dict[str, Any] = {"texts": chunk, "input_type": "search_document"}
    else:
        body = {"inputText": texts[0]}
    raw = json.dumps(body).encode()
    url = invoke_url(emulator.url, family.model)
    request = urllib.request.Request(
        url, data=raw, method="POST", headers=signed_headers(url, raw, credentials())
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        answer = resp.read()
    keys = ", ".join(sorted(json.loads(answer)))
    return len(answer), keys


def run_scenario(stage: Stage, scenario: Scenario) -> ScenarioResult:
    prefix, texts = _texts(stage, scenario)
    calls = calls_needed(scenario.family, len(texts))
    tokens = sum(token_count(t) for t in texts)
    change_in = scenario.change_seconds(calls, tokens)
    result = ScenarioResult(scenario, calls, tokens, _limit(scenario, calls, tokens, change_in))
    stage.emulator.reset()
    sample = make_texts(scenario.family.max_batch, f"{prefix}-sample", scenario.chars)
    result.answer_bytes, result.answer_keys = sample_answer(stage.emulator, scenario, sample)
    result.sidecar_command = " ".join(("python -m vectorizer.server", *SIDECAR_ARGS))
    for client in stage.clients:
        if client != SIDECAR and stage.peers_python is None:
            continue
        try:
            if client == SIDECAR:
                run = _run_sidecar(stage, scenario, prefix, texts, calls, tokens, change_in)
            else:
                run = _run_peer(stage, scenario, client, prefix, calls, tokens, change_in)
        except Exception as exc:  # noqa: BLE001 - the other clients and scenarios still run
            result.failure += f"{client}: {type(exc).__name__}: {str(exc)[:500]}. "
            stage.log(f"scenario {scenario.key} {client} failed: {exc}")
            continue
        result.runs.append(run)
        limit = f", limit {run.limit:.2f}s ({run.ratio:.2f}x)" if run.limit else ""
        stage.log(
            f"scenario {scenario.key} {client}: {run.wall:.2f}s{limit}, {run.tally}, "
            f"{run.upstream_calls} calls, {run.throttled_share:.1%} throttled, "
            f"CPU {run.cpu_per_text_ms():.3f} ms/text, emulator {run.emulator_cpu / run.wall:.2f} "
            "cores"
        )
    stage.emulator.reset()
    return result


def run_overhead(stage: Stage, quick: bool) -> list[Overhead]:
    """(g): a fresh sidecar with default flags, no quota, 40 ms: paired calls at 1 and
    64 callers, after a warm-up at 64 callers (channel, connections, limiter rate)."""
    stage.emulator.reset()
    sidecar = start_sidecar(stage.emulator, *SIDECAR_ARGS)
    out = []
    try:
        prefix = f"{stage.run_id}-overhead"
        url = stage.emulator.url
        # Warm-up at 64 callers until the limiter has had time to open up to the demand
        # (no quota here: a limiter that still paces then is overhead, and counts).
        warm_until = time.monotonic() + (1.0 if quick else OVERHEAD_WARMUP_SECONDS)
        rounds = 0
        while time.monotonic() < warm_until:
            rounds += 1
            warm = f"{prefix}-warm{rounds}"
            asyncio.run(paired_calls(sidecar.grpc_address, url, warm, 64 * 4, 64))
        for concurrency, pairs in OVERHEAD_PAIRS.items():
            pairs = pairs // 10 if quick else pairs
            pids = {"emulator": stage.emulator.proc.pid, "sidecar": sidecar.proc.pid}
            before = scrape(sidecar.http_url)
            meter = CpuMeter(pids).start()
            run = asyncio.run(
                paired_calls(
                    sidecar.grpc_address, url, f"{prefix}-{concurrency}", pairs, concurrency
                )
            )
            cpu = meter.stop()
            breakdown = Breakdown.of(run, before, scrape(sidecar.http_url))
            cell = Overhead.of(run, cpu["sidecar"], cpu["emulator"], breakdown)
            out.append(cell)
            stage.log(
                f"overhead at {concurrency}: p50 {cell.p50 * 1e3:.2f} ms, p99 "
                f"{cell.p99 * 1e3:.2f} ms, paired median {cell.paired_median * 1e3:.2f} ms "
                f"({len(run.differences)} pairs, {run.errors} errors); {breakdown.describe()}"
            )
    finally:
        sidecar.terminate()
        stage.emulator.reset()
    return out


def _limit(scenario: Scenario, calls: int, tokens: int, change_at: float | None) -> float | None:
    if scenario.quota is None:
        return None
    changed = scenario.change.quota if scenario.change is not None else None
    return physical_limit(calls, tokens, scenario.quota, change_at, changed)


def _client_run(
    client: str,
    scenario: Scenario,
    phase: Phase,
    measured: tuple[dict[str, float], list[tuple[float, int, int]], dict[str, Any]],
    calls: int,
    tokens: int,
    **fields: Any,
) -> ClientRun:
    cpu, timeline, stats = measured
    return ClientRun(
        client=client,
        upstream_calls=int(stats["requests"]),
        throttled=int(stats["throttled"]),
        upstream_errors=int(stats["errors"]),
        emulator_cpu=cpu["emulator"],
        others_cpu=cpu["others"],
        limit=_limit(scenario, calls, tokens, phase.change_at),
        change_at=phase.change_at,
        timeline=timeline,
        **fields,
    )


def _run_sidecar(
    stage: Stage,
    scenario: Scenario,
    prefix: str,
    texts: list[str],
    calls: int,
    tokens: int,
    change_in: float | None,
) -> ClientRun:
    sidecar = start_sidecar(stage.emulator, *SIDECAR_ARGS)
    try:
        warm = make_texts(1, f"{prefix}-warm-sidecar")
        asyncio.run(import_texts(sidecar.grpc_address, scenario.family, warm, batch=1, callers=1))
        gauge = limiter_gauge(sidecar.http_url)
        phase = Phase(stage, scenario, sidecar.proc.pid, change_in, gauge)
        phase.go()
        stopped: list[tuple[dict[str, float], list[tuple[float, int, int]], dict[str, Any]]] = []
        run = asyncio.run(
            import_texts(
                sidecar.grpc_address,
                scenario.family,
                texts,
                batch=scenario.batch,
                callers=scenario.callers,
                timeout=600,
                # Meters stop with the last answer, not after this process decodes them all.
                finished=lambda: stopped.append(phase.stop()),
            )
        )
        measured = stopped[0]
        # A labelled counter has no sample before its first increment: absent = 0.
        retries = scrape(sidecar.http_url).get("vectorizer_retries_total", 0.0)
    finally:
        sidecar.terminate()
    return _client_run(
        SIDECAR,
        scenario,
        phase,
        measured,
        calls,
        tokens,
        n=len(texts),
        wall=run.wall,
        tally=verify(texts, run.answers, scenario.family),
        client_cpu=measured[0]["client"],
        errors=run.error_codes,
        retries=retries,
        limiter_rates=[calls for calls, _ in phase.gauge_values],
        limiter_token_rates=[tokens for _, tokens in phase.gauge_values],
    )


def _run_peer(
    stage: Stage,
    scenario: Scenario,
    peer: str,
    prefix: str,
    calls: int,
    tokens: int,
    change_in: float | None,
) -> ClientRun:
    assert stage.peers_python is not None
    command = [
        stage.peers_python,
        "-m",
        "bench.peers",
        "--peer",
        peer,
        "--family",
        scenario.family.key,
        "--url",
        stage.emulator.url,
        "--prefix",
        prefix,
        "--n",
        str(scenario.n),
        "--handshake",
    ]
    if scenario.chars is not None:
        command += ["--chars", str(scenario.chars)]
    with tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=peer_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert proc.stdin is not None and proc.stdout is not None
        try:
            ready, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT)
            if not ready or proc.stdout.readline().strip() != "ready":
                proc.kill()
                proc.wait(timeout=30)
                stderr.seek(0)
                raise RuntimeError(f"peer {peer} did not start: {stderr.read()[-2000:]}")
            phase = Phase(stage, scenario, proc.pid, change_in)
            phase.go()
            proc.stdin.write("go\n")
            proc.stdin.flush()
            finished, _, _ = select.select([proc.stdout], [], [], PEER_TIMEOUT)
            line = proc.stdout.readline().strip() if finished else "(timed out)"
            measured = phase.stop()
            if line != "done":
                proc.kill()
                stderr.seek(0)
                raise RuntimeError(f"peer {peer} said {line!r}: {stderr.read()[-2000:]}")
            out, _ = proc.communicate(timeout=PEER_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            stderr.seek(0)
            raise RuntimeError(f"peer {peer} exited {proc.returncode}: {stderr.read()[-2000:]}")
    data = json.loads(out.strip().splitlines()[-1])
    return _client_run(
        peer,
        scenario,
        phase,
        measured,
        calls,
        tokens,
        n=int(data["n"]),
        wall=float(data["wall"]),
        tally=Tally.from_dict(data["tally"]),
        client_cpu=float(data["cpu"]),
        errors=dict(data["errors"]),
    )
