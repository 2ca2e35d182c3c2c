"""Issue 13's part of bench/RESULTS.md: scenarios (a) to (g), their targets, pass or miss.

- `scenario_targets(results)`: one `Verdict` per target of issue 13 and scenario,
  with the figure, the margin, and where a target is missed the measured reason
  (how fast the quota was reached, throttles, the emulator's CPU).
- `render_scenarios(results)`: the section: how it was measured, the targets,
  one table per scenario with each second's accepted and throttled calls, and (g).

Targets are never lowered here: a miss stays a miss, with its figure.
"""

from __future__ import annotations

import math

from bench.markdown import Verdict, mark, ratio_verdict, table
from bench.peers import POOL_THREADS, RETRY_ATTEMPTS
from bench.results import ClientRun, Results, ScenarioResult
from bench.scenarios import QUOTA, physical_limit
from bench.sidebyside import POOLS, SIDECAR

LIMIT_RATIO = 1.05
THROTTLED_SHARE = 0.03
CPU_RATIO = 0.5
CALLS_RATIO = 1.02
OVERHEAD_P50_MS = 1.0
EMULATOR_BUSY = 0.9  # cores: above this the emulator, not the client, may bound the run
CLIENT_NAMES = {
    SIDECAR: "sidecar (default flags, quota untold)",
    "boto3-standard": f"boto3 {POOL_THREADS}-thread pool, retry mode `standard`",
    "boto3-adaptive": f"boto3 {POOL_THREADS}-thread pool, retry mode `adaptive`",
}


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def _pools(s: ScenarioResult) -> list[ClientRun]:
    return [r for r in s.runs if r.client in POOLS]


def call_rate(s: ScenarioResult) -> float:
    """Calls per second the quota lets through at the start (the slowest quota, in
    calls: a token quota divided by the scenario's tokens per call)."""
    quota = s.scenario.quota
    if quota is None:
        return math.inf
    tokens_per_call = s.tokens / s.calls if s.calls else 1.0
    rates = []
    for name, rate in quota.per_second().items():
        ours = rate * (1.0 - quota.background)
        rates.append(ours / tokens_per_call if name == "tpm" else ours)
    return min(rates, default=math.inf)


def _ramp(run: ClientRun, rate: float) -> str:
    """When the client first got 90% of the quota's calls through in a sampling period."""
    goal = 0.9 * rate
    elapsed = 0.0
    best = 0.0
    for seconds, accepted, _ in run.timeline:
        elapsed += seconds
        per_second = accepted / seconds if seconds > 0 else 0.0
        if per_second >= goal:
            return f"first reached 90% of the quota ({goal:.0f} calls/s) by {elapsed:.1f} s"
        best = max(best, per_second)
    return f"never reached 90% of the quota ({goal:.0f} calls/s) in any second (best {best:.0f})"


def _throttle_split(run: ClientRun, startup: float = 3.0) -> str:
    """How many throttles came in the first seconds (finding the quota) and how many
    after (holding it)."""
    elapsed = 0.0
    early = late = 0
    for seconds, _, throttled in run.timeline:
        if elapsed < startup:
            early += throttled
        else:
            late += throttled
        elapsed += seconds
    return f"{early} of the throttles came in the first {startup:g} s, {late} after"


def _emulator_note(run: ClientRun) -> str:
    cores = run.emulator_cpu / run.wall if run.wall else 0.0
    if cores >= EMULATOR_BUSY:
        return f"; the emulator used {cores:.2f} cores: it may have bounded this run"
    return ""


def _why_slow(s: ScenarioResult, run: ClientRun) -> str:
    lost = run.wall - (run.limit or 0.0)
    return (
        f"{lost:.1f} s over the limit; it {_ramp(run, call_rate(s))}; "
        f"{run.throttled} calls throttled ({run.throttled_share:.1%}: {_throttle_split(run)}); "
        "see the accepted "
        f"calls per second under ({s.scenario.key})" + _emulator_note(run)
    )


def _lost_verdict(tag: str, run: ClientRun) -> Verdict:
    ok = run.tally.lost == 0
    codes = ", ".join(f"{k}: {v}" for k, v in sorted(run.errors.items())) or "no item errors"
    return Verdict(f"{tag} 0 items lost", str(run.tally), ok, "passes" if ok else codes)


def _faster_verdict(s: ScenarioResult, run: ClientRun, tag: str) -> Verdict:
    target = f"{tag} never slower than the faster boto3 pool"
    pools = _pools(s)
    if not pools:
        return Verdict(target, "boto3 pools not run", None, s.failure or "run without peers")
    best = max(pools, key=lambda p: p.delivered_rate)
    parts = [f"sidecar {run.wall:.2f} s"]
    for p in pools:
        lost = f", {p.tally.lost} lost" if p.tally.lost else ""
        parts.append(f"{p.client} {p.wall:.2f} s{lost}")
    # Correct vectors per second: a pool that drops texts is not faster for it.
    passed = run.delivered_rate >= best.delivered_rate
    speed = run.delivered_rate / best.delivered_rate if best.delivered_rate else math.inf
    if passed:
        note = f"passes ({speed:.2f}x the texts/s of {best.client})"
    else:
        note = f"misses: {speed:.2f}x the texts/s of {best.client}. " + _why_slow(s, run)
    return Verdict(target, "; ".join(parts), passed, note)


def _quota_verdicts(s: ScenarioResult) -> list[Verdict]:
    sc = s.scenario
    tag = f"({sc.key})"
    run = s.run(SIDECAR)
    if run is None or run.limit is None or run.ratio is None:
        return [Verdict(f"{tag} {sc.title}", "not measured", None, s.failure or "not run")]
    share = run.throttled_share
    return [
        ratio_verdict(
            f"{tag} within {LIMIT_RATIO}x of the physical limit ({run.limit:.2f} s)",
            run.ratio,
            LIMIT_RATIO,
            False,
            f"{run.wall:.2f} s = {run.ratio:.2f}x",
            _why_slow(s, run),
        ),
        _lost_verdict(tag, run),
        ratio_verdict(
            f"{tag} at most {THROTTLED_SHARE:.0%} of calls throttled",
            share * 100,
            THROTTLED_SHARE * 100,
            False,
            f"{share:.1%} ({run.throttled} of {run.upstream_calls})",
            f"{_throttle_split(run)}; it {_ramp(run, call_rate(s))}",
        ),
        _faster_verdict(s, run, tag),
    ]


def _cpu_verdicts(s: ScenarioResult) -> list[Verdict]:
    sc = s.scenario
    tag = f"({sc.key})"
    run = s.run(SIDECAR)
    if run is None:
        return [Verdict(f"{tag} {sc.title}", "not measured", None, s.failure or "not run")]
    out = [_lost_verdict(tag, run)]
    target = f"{tag} sidecar CPU per text <= {CPU_RATIO}x the boto3 pool's ({sc.family.key})"
    pools = _pools(s)
    if pools:
        best = min(pools, key=lambda p: p.cpu_per_text_ms())
        ours, theirs = run.cpu_per_text_ms(), best.cpu_per_text_ms()
        ratio = ours / theirs
        verdict = ratio_verdict(
            target,
            ratio,
            CPU_RATIO,
            False,
            f"{ratio:.2f}x ({ours:.3f} vs {theirs:.3f} ms per text, {best.client})",
            "where the CPU goes: bench/PROFILE.md and Analysis",
        )
        if not sc.family.batched and "embeddingsByType" not in s.answer_keys:
            verdict.note += (
                f". Not real-size answers: the emulator's Titan v2 answer "
                f"({s.answer_bytes / 1024:.1f} KiB) has no `embeddingsByType` copy of the "
                "vector, which a real one carries"
            )
        out.append(verdict)
    else:
        out.append(Verdict(target, "boto3 pools not run", None, s.failure or "run without peers"))
    if sc.family.batched:
        ideal = math.ceil(sc.n / sc.family.max_batch)
        requests = math.ceil(sc.n / sc.batch)
        unfilled = requests * math.ceil(sc.batch / sc.family.max_batch)
        out.append(
            ratio_verdict(
                f"{tag} upstream calls for {sc.n:,} texts in {sc.batch}-text requests from "
                f"{sc.callers} callers <= {CALLS_RATIO} x {ideal} (= ceil({sc.n:,} / "
                f"{sc.family.max_batch}))",
                run.upstream_calls,
                CALLS_RATIO * ideal,
                False,
                f"{run.upstream_calls} = {run.upstream_calls / ideal:.3f}x {ideal}",
                f"cutting each request on its own gives {unfilled} calls (every request "
                "ends in a partial batch)",
            )
        )
    return out


def _overhead_verdict(r: Results) -> Verdict:
    target = f"(g) sidecar overhead p50 at 1 caller <= {OVERHEAD_P50_MS:g} ms over the direct call"
    cell = r.overhead_at(1)
    if cell is None:
        return Verdict(target, "not measured", None, "(g) did not run")
    cores = cell.sidecar_cpu / cell.wall if cell.wall else float("nan")
    why = f"the sidecar process used {cores:.2f} cores in this cell"
    if cell.breakdown is not None:
        why = cell.breakdown.describe() + "; " + why
    if r.cache is not None:
        why += f"; the gRPC round trip alone (health Check) is {_ms(r.cache.floor.p50)} p50 here"
    value = cell.p50 * 1e3
    passed = value <= OVERHEAD_P50_MS
    return Verdict(
        target,
        f"{_ms(cell.p50)} (sidecar {_ms(cell.sidecar.p50)}, direct {_ms(cell.direct.p50)}; "
        f"median of the per-pair differences {_ms(cell.paired_median)})",
        passed,
        "passes" if passed else f"misses by {value - OVERHEAD_P50_MS:.2f} ms. {why}",
    )


def scenario_targets(r: Results) -> list[Verdict]:
    out: list[Verdict] = []
    for s in r.scenarios:
        out += _quota_verdicts(s) if s.scenario.kind == QUOTA else _cpu_verdicts(s)
    out.append(_overhead_verdict(r))
    return out


def _limit_text(s: ScenarioResult) -> str:
    sc = s.scenario
    if sc.quota is None or s.limit is None:
        return ""
    need = f"{s.calls:,} calls" + (f" of {s.tokens:,} tokens" if sc.quota.tpm else "")
    text = f"Physical limit: {s.limit:.2f} s ({need} under {sc.quota.describe()}"
    if sc.change is not None:
        unchanged = physical_limit(s.calls, s.tokens, sc.quota)
        text += (
            f"; at {sc.change.at:g} x {unchanged:.2f} s the quota becomes "
            f"{sc.change.quota.describe(rates_only=True)}, and each client's limit is "
            "computed with the moment the change was actually made"
        )
    return text + ")."


def _run_row(run: ClientRun) -> list[str]:
    cores = (lambda cpu: f"{cpu / run.wall:.2f}") if run.wall else (lambda cpu: "")
    return [
        CLIENT_NAMES.get(run.client, run.client),
        f"{run.wall:.2f} s",
        f"{run.limit:.2f} s" if run.limit else "n/a",
        f"{run.ratio:.2f}x" if run.ratio else "n/a",
        f"{run.delivered_rate:,.0f}",
        str(run.tally),
        f"{run.upstream_calls:,}",
        f"{run.throttled:,} ({run.throttled_share:.1%})",
        f"{run.cpu_per_text_ms():.3f} ms",
        f"{cores(run.client_cpu)} / {cores(run.emulator_cpu)} / {cores(run.others_cpu)}",
        "" if run.retries is None else f"{run.retries:.0f}",
    ]


RUN_HEADER = [
    "client",
    "wall time",
    "physical limit",
    "wall / limit",
    "texts/s delivered",
    "items lost",
    "upstream calls",
    "throttled",
    "client CPU per text",
    "CPU in cores: client / emulator / other jobs",
    "sidecar retries",
]


def _timeline(run: ClientRun) -> list[str]:
    cells = [
        f"{a / d:.0f}" + (f"[{t / d:.0f}]" if t else "") if d > 0 else "-"
        for d, a, t in run.timeline
    ]
    lines = [f"{run.client:15} " + " ".join(cells)]
    if run.limiter_rates:
        rates = " ".join(f"{v:.0f}" for v in run.limiter_rates)
        lines.append(f"{'  limiter rate':15} {rates}")
    if any(getattr(run, "limiter_token_rates", ())):
        tokens = " ".join(f"{v / 1000:.1f}k" for v in run.limiter_token_rates)
        lines.append(f"{'  token rate':15} {tokens}")
    return lines


def _scenario_section(s: ScenarioResult) -> list[str]:
    sc = s.scenario
    shape = f"{sc.n:,} {sc.family.key} texts" + (f" of {sc.chars:,} characters" if sc.chars else "")
    out = [
        "",
        f"### ({sc.key}) {sc.title}",
        "",
        f"{shape}; emulator latency {sc.latency_ms:g} ms; the sidecar gets {sc.callers} "
        f"gRPC callers of {sc.batch}-text requests; the pools send "
        + ("96-text calls." if sc.family.batched else "one text per call.")
        + (f" {_limit_text(s)}" if sc.kind == QUOTA else " No quota: CPU per text is the figure."),
        "",
    ]
    if s.answer_bytes:
        per = "a 1-text call" if not sc.family.batched else f"a {sc.family.max_batch}-text call"
        out += [
            f"The emulator's answer to {per}: {s.answer_bytes / 1024:,.1f} KiB, keys "
            f"`{s.answer_keys}`.",
            "",
        ]
    if s.failure:
        out += [f"**Not all clients ran**: {s.failure}", ""]
    out += table(RUN_HEADER, [_run_row(r) for r in s.runs])
    changes = [f"{r.client} at {r.change_at:.2f} s" for r in s.runs if r.change_at is not None]
    if changes:
        out += ["", "Quota changed: " + ", ".join(changes) + "."]
    if sc.kind == QUOTA and s.runs:
        out += [
            "",
            "Calls per second the emulator accepted [and throttled, when any] over each "
            f"sampling period of the run (about 1 s); the quota lets {call_rate(s):.0f} "
            "calls/s through at the start. Under the "
            "sidecar's row, its limiter's gauges read at the end of each second: calls/s "
            "(`vectorizer_limiter_rate_per_second`) and, when it paces tokens, tokens/s "
            "(`vectorizer_limiter_token_rate_per_second`):",
            "",
            "```",
            *[line for r in s.runs for line in _timeline(r)],
            "```",
        ]
    return out


def _overhead_rows(r: Results) -> list[list[str]]:
    rows = []
    for o in r.overhead:
        rows.append(
            [
                str(o.concurrency),
                f"{_ms(o.sidecar.p50)} / {_ms(o.sidecar.p99)}",
                f"{_ms(o.direct.p50)} / {_ms(o.direct.p99)}",
                f"{_ms(o.p50)} / {_ms(o.p99)}",
                _ms(o.paired_median),
                str(o.sidecar.n),
                str(o.errors),
                f"{o.sidecar_cpu / o.wall:.2f} / {o.emulator_cpu / o.wall:.2f}" if o.wall else "",
            ]
        )
    return rows


def _emulator_line(r: Results) -> list[str]:
    """The emulator's busiest run: it must not be what bounds a scenario."""
    cores = [
        (run.emulator_cpu / run.wall, f"({s.scenario.key}) {run.client}")
        for s in r.scenarios
        for run in s.runs
        if run.wall
    ]
    cores += [
        (o.emulator_cpu / o.wall, f"(g) {o.concurrency} callers") for o in r.overhead if o.wall
    ]
    if not cores:
        return []
    top, where = max(cores)
    verdict = (
        f"below {EMULATOR_BUSY:g} of the one core its single event loop can use"
        if top < EMULATOR_BUSY
        else "**near the one core its event loop can use: that run may be bound by the emulator**"
    )
    return [f"Emulator CPU: at most {top:.2f} cores in any run ({where}), {verdict}."]


def render_scenarios(r: Results) -> list[str]:
    if not r.scenarios and not r.overhead:
        return []
    out = [
        "## Issue 13: untold quotas, tokens, CPU per text, overhead",
        "",
        "Each scenario runs three clients one after the other on one emulator "
        f"(`{r.scenario_emulator_command}`), on the same texts: the sidecar, started fresh "
        "for each scenario with its default flags (told nothing about the quota; "
        f"`python -m vectorizer.server --log-level warning`), then boto3 {POOL_THREADS}-thread "
        "pools (one client, bench venv) with botocore's `standard` and `adaptive` retry "
        f"modes, `max_attempts` {RETRY_ATTEMPTS} (so that a throttled text is retried until "
        "it arrives, and a pool's wall time is the time to deliver every text). Each client "
        "is warmed with one call while the emulator has no quota; then the emulator is reset "
        "(counters and quota buckets) and given the scenario's knobs, and the clock starts. "
        "The physical limit is the least time the quota allows: a bucket that starts empty "
        "admits `rate x (1 - background share) x t`; for (c) piecewise. Every vector is "
        "checked against the emulator's deterministic vector (lost = missing + wrong + "
        "errors); throttled = the emulator's ThrottlingException answers over all its "
        "answers. Client CPU: the sidecar process (/proc), or the pool process over its "
        "calls (getrusage).",
        "",
        "### Targets (issue 13)",
        "",
    ]
    verdicts = scenario_targets(r)
    out += table(
        ["target", "measured", "result", "by how much / why"],
        [[v.target, v.measured, mark(v.passed), v.note] for v in verdicts],
    )
    out += ["", *_emulator_line(r)]
    for s in r.scenarios:
        out += _scenario_section(s)
    rows = _overhead_rows(r)
    if rows:
        out += [
            "",
            "### (g) overhead over a direct signed call",
            "",
            "Each caller makes pairs of calls back to back, alternating which goes first: a "
            "SigV4-signed aiohttp POST to the emulator (JSON answer parsed) and a single-text "
            "PURPOSE_QUERY Vectorize call to a fresh sidecar with default flags (after "
            "5 s of warm-up at 64 callers, so that its limiter, told nothing, can open up "
            "to the demand: pacing left after that counts as overhead); distinct texts, no "
            "quota, 40 ms latency. Both paths see the same load at the same moments; "
            "overhead = sidecar percentile minus direct percentile. Where the time went, "
            "from the sidecar's own histograms over each cell (means, so they need not add "
            "up to the p50):",
            "",
        ]
        out += [
            f"- {o.concurrency} caller(s), {o.breakdown.describe()}"
            for o in r.overhead
            if o.breakdown is not None
        ]
        out += [""]
        out += table(
            [
                "callers",
                "sidecar p50 / p99",
                "direct p50 / p99",
                "overhead p50 / p99",
                "median of per-pair differences",
                "pairs",
                "errors",
                "CPU in cores: sidecar / emulator",
            ],
            rows,
        )
    return out
