"""Does the adaptive limiter find a quota nobody told it? (`python -m bench.quota`)

The emulator enforces a per-second quota (`--rps`, a token bucket: above the
rate, throttles start within a second). The sidecar starts with its default
limiter settings and no `--max-rate`, imports distinct Titan v2 texts, and
must settle just under the quota: wall time near texts / rps, every item a
correct vector (retried throttles included), few throttles. Writes
`bench/QUOTA.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import time
from pathlib import Path

from bench.sidecar import import_texts
from bench.workload import TITAN, make_texts, verify
from tests.support import start_emulator, start_sidecar

ROOT = Path(__file__).resolve().parent.parent


def metric(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


def run(texts_n: int, rps: float, latency_ms: float) -> dict[str, float]:
    emu = start_emulator("--latency-ms", str(latency_ms), "--rps", str(rps))
    side = start_sidecar(emu, "--log-level", "warning")
    try:
        texts = make_texts(texts_n, f"quota-{int(time.time())}")
        result = asyncio.run(
            import_texts(side.grpc_address, TITAN, texts, batch=250, callers=8, timeout=600)
        )
        tally = verify(texts, result.answers, TITAN)
        stats = emu.stats()
        _, body = side.http_get("/metrics")
        return {
            "wall": result.wall,
            "bound": texts_n / rps,
            "lost": tally.lost,
            "upstream": stats["requests"],
            "throttled": stats["throttled"],
            "retries": metric(body, "vectorizer_retries_total"),
            "final_rate": metric(body, "vectorizer_limiter_rate_per_second"),
        }
    finally:
        side.terminate()
        emu.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--texts", type=int, default=10_000)
    p.add_argument("--rps", type=float, default=500.0)
    p.add_argument("--latency-ms", type=float, default=40.0)
    p.add_argument("--out", default=str(ROOT / "bench" / "QUOTA.md"))
    a = p.parse_args()
    r = run(a.texts, a.rps, a.latency_ms)
    ratio = r["wall"] / r["bound"]
    share = r["throttled"] / max(1, r["upstream"])
    machine = f"{platform.machine()}, Python {platform.python_version()}"
    Path(a.out).write_text(f"""# The adaptive limiter against a quota it was not told

Command: `python -m bench.quota --texts {a.texts} --rps {a.rps:g} --latency-ms {a.latency_ms:g}`
Date: {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}; machine: {machine},
2 cores shared by emulator, sidecar and client.

The emulator throttles above {a.rps:g} calls/s (token bucket, one second of burst),
answers in {a.latency_ms:g} ms. The sidecar runs its defaults (`--initial-rate 50`,
`--max-concurrency 64`, no `--max-rate`); 8 callers send {a.texts:,} distinct Titan v2
texts in requests of 250.

| figure | value |
|---|---|
| wall time | {r["wall"]:.2f} s |
| quota-bound limit ({a.texts:,} / {a.rps:g} per s) | {r["bound"]:.2f} s |
| wall / limit | {ratio:.2f}x (target <= 1.05x) |
| items lost (missing, wrong or error) | {r["lost"]} |
| upstream calls / throttled | {int(r["upstream"])} / {int(r["throttled"])} ({share:.1%}) |
| retries | {int(r["retries"])} |
| limiter rate at the end | {r["final_rate"]:.0f} calls/s |

The first seconds are the limiter's ramp from 50 calls/s (it doubles each
second until the first throttle); after that it holds just under the quota,
backing off by 30 % on a throttle at most once a second.
""")
    print(Path(a.out).read_text())


if __name__ == "__main__":
    main()
