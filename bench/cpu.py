"""`python -m bench.cpu`: CPU per text, sidecar against a boto3 16-thread pool.

Both embed the same number of distinct texts against `bench.realsize`
(answers of real size, 40 ms latency):
- the sidecar: `--callers` gRPC callers sending `--batch`-text Vectorize
  requests (Titan v2: one text per upstream call; Cohere v3: 96). Its CPU
  is read from /proc over the workload, warm-up excluded;
- boto3: `bench.peers --peer boto3-pool` (16 threads on one client, the
  caller batching Cohere by 96), in the bench venv when it exists; its CPU
  is the process's own over the calls alone.

Prints one line per family with both figures and their ratio. Short by
design (the machine is shared): a few thousand texts per family.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench import realsize
from bench.sidecar import import_texts
from bench.stats import CpuMeter
from bench.workload import COHERE, FAMILIES, TITAN, Family, make_texts
from tests.support import sidecar_env, start_sidecar

ROOT = Path(__file__).resolve().parent.parent
PEERS_PY = ROOT / "bench" / ".venv-peers" / "bin" / "python"
SIDECAR_ARGS = ("--initial-rate", "2000", "--max-concurrency", "128", "--log-level", "warning")
BATCH = {TITAN.key: 250, COHERE.key: 192}


def sidecar_cpu(url: str, family: Family, n: int, callers: int, batch: int) -> tuple[float, int]:
    """(CPU seconds, texts answered with a vector) for `n` texts."""
    env = sidecar_env(None, AWS_ENDPOINT_URL_BEDROCK_RUNTIME=url)
    sidecar = start_sidecar(None, *SIDECAR_ARGS, env=env)
    try:
        prefix = f"cpu-{family.key}-{time.time()}"
        warm = make_texts(min(n, 400), prefix + "-warm")
        asyncio.run(import_texts(sidecar.grpc_address, family, warm, batch=batch, callers=callers))
        texts = make_texts(n, prefix)
        meter = CpuMeter({"sidecar": sidecar.proc.pid}).start()
        run = asyncio.run(
            import_texts(sidecar.grpc_address, family, texts, batch=batch, callers=callers)
        )
        used = meter.stop()["sidecar"]
    finally:
        sidecar.terminate()
    ok = sum(1 for a in run.answers if a is not None and not isinstance(a, str))
    return used, ok


def boto3_cpu(url: str, family: Family, n: int) -> float:
    python = str(PEERS_PY) if PEERS_PY.exists() else sys.executable
    out = subprocess.run(
        [
            python,
            "-m",
            "bench.peers",
            "--peer",
            "boto3-pool",
            "--family",
            family.key,
            "--url",
            url,
            "--prefix",
            f"cpu-boto3-{time.time()}",
            "--n",
            str(n),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        env=sidecar_env(None),
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["cpu"])


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.cpu")
    p.add_argument("--family", choices=sorted(FAMILIES), action="append")
    p.add_argument("--n", type=int, default=3000)
    p.add_argument("--callers", type=int, default=8)
    p.add_argument("--latency-ms", type=float, default=40.0)
    p.add_argument("--no-boto3", action="store_true")
    args = p.parse_args(argv)
    families = [FAMILIES[k] for k in (args.family or [TITAN.key, COHERE.key])]
    server = realsize.start(args.latency_ms)
    try:
        for family in families:
            n = args.n if not family.batched else args.n * 4
            side, ok = sidecar_cpu(server.url, family, n, args.callers, BATCH[family.key])
            line = f"{family.key}: sidecar {side / n * 1e3:.3f} ms/text ({ok}/{n} vectors)"
            if not args.no_boto3:
                boto = boto3_cpu(server.url, family, n)
                line += f", boto3-pool {boto / n * 1e3:.3f} ms/text, ratio {side / boto:.2f}x"
            print(line, flush=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
