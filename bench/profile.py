"""`python -m bench.profile WORKLOAD`: where the sidecar spends its CPU, by py-spy.

Starts the emulator and the sidecar as the bench does, runs one workload
(`import` = the Titan import, `cache` = repeated single-text cache hits,
`query` = single-text queries at 64 callers; `titan-real` and `cohere-real`
= imports, 8 callers, against `bench.realsize`'s answers of real size) while py-spy (from the bench
venv) samples the sidecar, then prints the functions with the largest
inclusive and self share of the samples. The raw collapsed stacks are kept
in bench/profile-WORKLOAD.txt for a closer look.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bench import realsize
from bench.__main__ import EMULATOR_ARGS, SIDECAR_ARGS
from bench.sidecar import import_texts, query_latencies, sync_cache_hits
from bench.workload import COHERE, TITAN, make_texts
from tests.support import sidecar_env, start_emulator, start_sidecar

ROOT = Path(__file__).resolve().parent.parent
PY_SPY = ROOT / "bench" / ".venv-peers" / "bin" / "py-spy"
REAL = {"titan-real": (TITAN, 250), "cohere-real": (COHERE, 192)}


def summarize(raw: str, top: int = 25) -> str:
    """Inclusive and self shares per function from py-spy's collapsed stacks."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";")]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    lines = [f"{total} samples", "", "inclusive:"]
    lines += [f"  {c / total:6.1%}  {f}" for f, c in inclusive.most_common(top)]
    lines += ["", "self:"]
    lines += [f"  {c / total:6.1%}  {f}" for f, c in own.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    # "func (path/to/file.py:123)" -> "file.py:func"; line numbers dropped so
    # that all samples of a function add up.
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", f"{ROOT}/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{name}"


def setup(kind: str, address: str) -> list[str]:
    """Work done before sampling starts (the cache is filled here)."""
    texts = make_texts(200, f"prof-{kind}-{time.time()}")
    if kind == "cache":
        asyncio.run(import_texts(address, TITAN, texts, batch=200, callers=1))
    return texts


def workload(kind: str, address: str, n: int, cached: list[str]) -> None:
    if kind == "import":
        texts = make_texts(n, f"prof-{time.time()}")
        asyncio.run(import_texts(address, TITAN, texts, batch=250, callers=8))
    elif kind in REAL:
        family, batch = REAL[kind]
        texts = make_texts(n, f"prof-{kind}-{time.time()}")
        asyncio.run(import_texts(address, family, texts, batch=batch, callers=8))
    elif kind == "cache":
        sync_cache_hits(address, (cached * (n // len(cached) + 1))[:n])
    else:
        texts = make_texts(n, f"prof-query-{time.time()}")
        asyncio.run(query_latencies(address, TITAN, texts, concurrency=64))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile")
    p.add_argument("workload", choices=("import", "cache", "query", *REAL))
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args(argv)
    real = args.workload in REAL
    emulator = realsize.start() if real else start_emulator(*EMULATOR_ARGS)
    env = sidecar_env(None, AWS_ENDPOINT_URL_BEDROCK_RUNTIME=emulator.url) if real else None
    sidecar = start_sidecar(emulator if not real else None, *SIDECAR_ARGS, env=env)
    raw_path = ROOT / "bench" / f"profile-{args.workload}.txt"
    try:
        cached = setup(args.workload, sidecar.grpc_address)
        spy = subprocess.Popen(
            [
                str(PY_SPY),
                "record",
                "--pid",
                str(sidecar.proc.pid),
                "--format",
                "raw",
                "--rate",
                "250",
                "--output",
                str(raw_path),
                "--nonblocking",
                "--gil",  # only the thread holding the GIL: CPU, not waiting
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(1.0)
        workload(args.workload, sidecar.grpc_address, args.n, cached)
        spy.send_signal(2)  # SIGINT: py-spy writes its output and exits
        spy.wait(timeout=30)
    finally:
        sidecar.terminate()
        emulator.stop()
    print(summarize(raw_path.read_text(), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
