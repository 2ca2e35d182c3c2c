"""The HTTP client choice: aiohttp against httpx, run in the bench venv.

`python -m bench.httpclients --url U --n 2000 --concurrency 64` sends N
SigV4-signed Titan InvokeModel POSTs to the emulator with each client (same
signing, same JSON parsing, one pooled client each), alternating the
clients over `--rounds` rounds, and prints one JSON line per client: best
and all wall times, and this process's CPU seconds per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import version

from bench.signed import AiohttpPoster, HttpxPoster, Poster, timed_calls, titan_body
from bench.workload import TITAN, make_texts

CLIENTS: dict[str, Callable[[str], Poster]] = {"aiohttp": AiohttpPoster, "httpx": HttpxPoster}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def one_round(name: str, url: str, bodies: list[bytes], concurrency: int) -> dict:
    poster: Poster = CLIENTS[name](url)
    try:
        await timed_calls(poster, TITAN.model, bodies[:concurrency], concurrency=concurrency)
        cpu0 = _cpu()
        run = await timed_calls(poster, TITAN.model, bodies, concurrency=concurrency)
        cpu = _cpu() - cpu0
    finally:
        await poster.close()
    return {"wall": run.wall, "cpu": cpu, "errors": run.errors, "n": len(bodies)}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.httpclients")
    p.add_argument("--url", required=True)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    bodies = [titan_body(t) for t in make_texts(args.n, "httpclient")]
    runs: dict[str, list[dict]] = {name: [] for name in CLIENTS}
    for _ in range(args.rounds):
        for name in CLIENTS:
            runs[name].append(asyncio.run(one_round(name, args.url, bodies, args.concurrency)))
    out = {}
    for name, rounds in runs.items():
        best = min(rounds, key=lambda r: r["wall"])
        out[name] = {
            "version": version(name),
            "best_wall": best["wall"],
            "walls": [r["wall"] for r in rounds],
            "cpu_per_call_ms": best["cpu"] / best["n"] * 1e3,
            "errors": sum(r["errors"] for r in rounds),
        }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
