"""A stand-in for Bedrock Runtime whose answers have the size of real ones.

Real answers weigh on the caller's JSON parser (the emulator's do too, now:
dense float32 vectors spelled per family, `vectorizer.emulator.wire`):
- Titan Text v2 prints each float32 value as a double with 17 significant
  digits and carries a second copy of the vector in `embeddingsByType.float`;
- Cohere Embed v3 prints the shortest float32 spelling (about 11 characters)
  and echoes the input texts back.

`python -m bench.realsize` serves canned answers of that shape on loopback
(`--latency-ms` per call) and prints `realsize listening on URL`. It checks
no signature and computes no embedding: it exists so that CPU measured on
the caller's side (`bench.cpu`, `bench.profile`) is the caller's own. The
vectors are random, not the emulator's, so answers cannot be verified.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
DIM = 1024
_VARIANTS = 16  # distinct canned vectors, served in turn


def _titan_rows(rng: np.random.Generator) -> list[str]:
    rows = []
    for _ in range(_VARIANTS):
        v = rng.standard_normal(DIM).astype(np.float32)
        v /= np.linalg.norm(v)
        # float32 values printed as doubles: repr(float(np.float32)) has ~19 characters.
        rows.append("[" + ",".join(repr(float(x)) for x in v) + "]")
    return rows


def _cohere_rows(rng: np.random.Generator) -> list[str]:
    rows = []
    for _ in range(_VARIANTS):
        v = rng.standard_normal(DIM).astype(np.float32) * np.float32(0.03)
        # Shortest float32 spelling, as Cohere's answers read ("-0.020767212").
        rows.append("[" + ",".join(str(x) for x in v) + "]")
    return rows


@dataclass
class Canned:
    titan: list[str]
    cohere: list[str]
    turn: int = 0

    def next(self) -> int:
        self.turn += 1
        return self.turn % _VARIANTS

    def titan_answer(self, text: str) -> bytes:
        row = self.titan[self.next()]
        tokens = max(1, len(text.split()))
        return (
            f'{{"embedding":{row},"embeddingsByType":{{"float":{row}}},'
            f'"inputTextTokenCount":{tokens}}}'
        ).encode()

    def cohere_answer(self, texts: list[str], by_type: bool) -> bytes:
        rows = ",".join(self.cohere[self.next()] for _ in texts)
        embeddings = f'{{"float":[{rows}]}}' if by_type else f"[{rows}]"
        kind = "embeddings_by_type" if by_type else "embeddings_floats"
        return (
            f'{{"id":"realsize-{self.turn}","texts":{json.dumps(texts)},'
            f'"embeddings":{embeddings},"response_type":"{kind}"}}'
        ).encode()


def make_app(latency: float, seed: int = 7) -> web.Application:
    rng = np.random.default_rng(seed)
    canned = Canned(_titan_rows(rng), _cohere_rows(rng))

    async def invoke(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        if latency:
            await asyncio.sleep(latency)
        if "texts" in body:
            payload = canned.cohere_answer(body["texts"], "embedding_types" in body)
        else:
            payload = canned.titan_answer(body.get("inputText", ""))
        return web.Response(body=payload, content_type="application/json")

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/model/{model}/invoke", invoke)
    return app


@dataclass
class RealsizeServer:
    proc: subprocess.Popen
    url: str

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def start(latency_ms: float = 40.0) -> RealsizeServer:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.realsize", "--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"bench.realsize did not start: {line!r}")
    return RealsizeServer(proc, line.split("listening on", 1)[1].strip())


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.realsize")
    p.add_argument("--latency-ms", type=float, default=40.0)
    args = p.parse_args()

    async def serve() -> None:
        runner = web.AppRunner(make_app(args.latency_ms / 1000), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        print(f"realsize listening on http://127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
