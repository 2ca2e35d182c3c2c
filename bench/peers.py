"""Peer workloads, run inside the bench-only venv (`bench/.venv-peers`).

`python -m bench.peers --peer P --family F --url U --prefix X --n N` embeds
`make_texts(N, X, chars)` through peer P pointed at the emulator at U, checks
every answer and prints one JSON line: wall time, this process's CPU seconds
for the calls alone, the tally, and the errors seen.

With `--handshake` the worker warms up (module import, client set-up, one
call), prints `ready`, and starts the clock only when it reads `go` on stdin:
the orchestrator sets the emulator's quota in between, so the warm-up call
neither meets the quota nor uses any of it. It prints `done` when the calls
are over, before it checks the answers.

Peers, each used the way its documentation shows:
- `boto3-loop`: `invoke_model` in a plain loop; one text per call for
  Titan, 96 texts per call for Cohere (the caller does the batching).
- `boto3-pool`: the same calls from a 16-thread pool on one client
  (botocore's default pool of 10 connections).
- `boto3-standard` / `boto3-adaptive`: the 16-thread pool with botocore's
  `standard` or `adaptive` retry mode (`adaptive` adds botocore's client-side
  rate limiter, which slows down after throttles), `max_attempts` 10
  (`RETRY_ATTEMPTS`) so that a throttled text is retried until it arrives
  rather than dropped after botocore's default 3 attempts: the pool's wall
  time is then the time to deliver every text, as the sidecar's is.
- `litellm`: one `litellm.aembedding(model="bedrock/...", input=texts)` with
  `aws_bedrock_runtime_endpoint` set to the emulator.
- `litellm-chunked`: Cohere only: the caller cuts the input into 96-text
  chunks and awaits one `aembedding` per chunk (the workaround a LiteLLM
  user needs for Cohere on Bedrock).
- `langchain`: `langchain_aws.BedrockEmbeddings(endpoint_url=...)
  .embed_documents(texts)`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.workload import FAMILIES, Answer, Family, make_texts, verify

REGION = "us-east-1"
COHERE_CHUNK = 96
POOL_THREADS = 16
RETRY_ATTEMPTS = 10


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _units(texts: Sequence[str], family: Family) -> list[tuple[int, list[str]]]:
    size = COHERE_CHUNK if family.batched else 1
    return [(i, list(texts[i : i + size])) for i in range(0, len(texts), size)]


def _boto3_client(url: str, retry_mode: str | None = None) -> Any:
    import boto3
    from botocore.config import Config

    config = None
    if retry_mode is not None:
        config = Config(retries={"mode": retry_mode, "max_attempts": RETRY_ATTEMPTS})
    return boto3.client("bedrock-runtime", region_name=REGION, endpoint_url=url, config=config)


def _boto3_call(client: Any, family: Family, chunk: list[str]) -> list[Answer]:
    if family.batched:
        body = {"texts": chunk, "input_type": "search_document"}
    else:
        body = {"inputText": chunk[0]}
    try:
        resp = client.invoke_model(modelId=family.model, body=json.dumps(body))
        data = json.loads(resp["body"].read())
    except Exception as exc:  # noqa: BLE001 - a failed call loses its texts; counted
        return [_error(exc)] * len(chunk)
    return list(data["embeddings"]) if family.batched else [data["embedding"]]


def boto3_loop(url: str, family: Family, texts: Sequence[str]) -> list[Answer]:
    client = _boto3_client(url)
    answers: list[Answer] = []
    for _, chunk in _units(texts, family):
        answers.extend(_boto3_call(client, family, chunk))
    return answers


def _pool(client: Any, family: Family, texts: Sequence[str]) -> list[Answer]:
    answers: list[Answer] = [None] * len(texts)

    def run(unit: tuple[int, list[str]]) -> None:
        start, chunk = unit
        answers[start : start + len(chunk)] = _boto3_call(client, family, chunk)

    with ThreadPoolExecutor(max_workers=POOL_THREADS) as pool:
        list(pool.map(run, _units(texts, family)))
    return answers


def boto3_pool(url: str, family: Family, texts: Sequence[str]) -> list[Answer]:
    return _pool(_boto3_client(url), family, texts)


# One client per retry mode and emulator, made on the warm-up call and kept, as an
# application keeps its client: adaptive mode's rate limiter lives in the client.
_CLIENTS: dict[tuple[str, str], Any] = {}


def _retrying_pool(mode: str) -> Callable[[str, Family, Sequence[str]], list[Answer]]:
    def embed(url: str, family: Family, texts: Sequence[str]) -> list[Answer]:
        client = _CLIENTS.get((mode, url))
        if client is None:
            client = _CLIENTS[(mode, url)] = _boto3_client(url, mode)
        return _pool(client, family, texts)

    return embed


async def _litellm_embed(url: str, family: Family, texts: list[str]) -> list[Answer]:
    import litellm

    try:
        resp = await litellm.aembedding(
            model=f"bedrock/{family.model}",
            input=texts,
            aws_bedrock_runtime_endpoint=url,
            aws_region_name=REGION,
            aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
            num_retries=0,
        )
    except Exception as exc:  # noqa: BLE001 - counted as lost
        return [_error(exc)] * len(texts)
    answers: list[Answer] = [None] * len(texts)
    for item in resp.data:
        answers[item["index"]] = item["embedding"]
    return answers


def litellm_once(url: str, family: Family, texts: Sequence[str]) -> list[Answer]:
    return asyncio.run(_litellm_embed(url, family, list(texts)))


def litellm_chunked(url: str, family: Family, texts: Sequence[str]) -> list[Answer]:
    async def run() -> list[Answer]:
        answers: list[Answer] = []
        for _, chunk in _units(texts, family):
            answers.extend(await _litellm_embed(url, family, chunk))
        return answers

    return asyncio.run(run())


def langchain(url: str, family: Family, texts: Sequence[str]) -> list[Answer]:
    from langchain_aws import BedrockEmbeddings

    embedder = BedrockEmbeddings(model_id=family.model, region_name=REGION, endpoint_url=url)
    try:
        return list(embedder.embed_documents(list(texts)))
    except Exception as exc:  # noqa: BLE001 - one failure ends the whole call
        return [_error(exc)] * len(texts)


PEERS: dict[str, Callable[[str, Family, Sequence[str]], list[Answer]]] = {
    "boto3-loop": boto3_loop,
    "boto3-pool": boto3_pool,
    "boto3-standard": _retrying_pool("standard"),
    "boto3-adaptive": _retrying_pool("adaptive"),
    "litellm": litellm_once,
    "litellm-chunked": litellm_chunked,
    "langchain": langchain,
}


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("boto3", "botocore", "litellm", "langchain-aws", "httpx", "aiohttp"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.peers")
    p.add_argument("--peer", choices=sorted(PEERS))
    p.add_argument("--family", choices=sorted(FAMILIES))
    p.add_argument("--url")
    p.add_argument("--prefix")
    p.add_argument("--n", type=int)
    p.add_argument("--chars", type=int, default=None, help="texts of exactly this length")
    p.add_argument("--handshake", action="store_true", help="print ready, wait for go")
    p.add_argument("--versions", action="store_true", help="print package versions and exit")
    args = p.parse_args(argv)
    if args.versions:
        print(json.dumps(_versions()))
        return 0
    family = FAMILIES[args.family]
    texts = make_texts(args.n, args.prefix, args.chars)
    embed = PEERS[args.peer]
    # Import and warm the peer outside the clock (module import, client set-up).
    embed(args.url, family, make_texts(1, args.prefix + "-warm"))
    if args.handshake:
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return 1
    cpu0, t0 = _cpu(), time.perf_counter()
    answers = embed(args.url, family, texts)
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    if args.handshake:
        print("done", flush=True)  # the orchestrator stops its meters; checking follows
    tally = verify(texts, answers, family)
    errors: dict[str, int] = {}
    for answer in answers:
        if isinstance(answer, str):
            key = answer[:160]
            errors[key] = errors.get(key, 0) + 1
    print(
        json.dumps(
            {
                "peer": args.peer,
                "family": family.key,
                "n": len(texts),
                "wall": wall,
                "cpu": cpu,
                "tally": tally.to_dict(),
                "errors": errors,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
