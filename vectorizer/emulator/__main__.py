"""`python -m vectorizer.emulator`: the command line, then serve until a signal.

Every flag also reads an environment variable (`VECTORIZER_EMULATOR_` plus
the flag's name in upper case, e.g. `VECTORIZER_EMULATOR_THROTTLE_RATE`).
When the socket is bound it prints exactly one line to stdout,
`emulator listening on http://HOST:PORT` (followed by ` s3=http://HOST:PORT`
when an S3 stand-in runs: point `AWS_ENDPOINT_URL_S3` there), and exits
cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence

from aiohttp import web

from vectorizer.emulator.app import build_app
from vectorizer.emulator.bedrock import FAMILIES
from vectorizer.emulator.faults import Faults
from vectorizer.emulator.sagemaker import load_endpoints
from vectorizer.emulator.state import STATE_KEY, EmulatorConfig

ENV_PREFIX = "VECTORIZER_EMULATOR_"


def _env(name: str, default: str | None) -> str | None:
    return os.environ.get(ENV_PREFIX + name.upper().replace("-", "_"), default)


def _profile(value: str) -> tuple[str, str]:
    key, sep, family = value.partition("=")
    if not sep or not key or not family:
        raise argparse.ArgumentTypeError(f"expected ID=FAMILY, got {value!r}")
    return key, family


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m vectorizer.emulator",
        description="Local emulator of Bedrock Runtime InvokeModel and SageMaker Runtime "
        "InvokeEndpoint, with deterministic lexical vectors and fault injection.",
    )

    def add(name: str, kind: type, default: str | None, help_text: str) -> None:
        p.add_argument(f"--{name}", type=kind, default=_env(name, default), help=help_text)

    add("host", str, "127.0.0.1", "listen address")
    add("port", int, "4566", "listen port; 0 picks a free one")
    add("latency-ms", float, "0", "added latency per AWS request")
    add("latency-jitter-ms", float, "0", "uniform +/- jitter on the latency")
    add("throttle-rate", float, "0", "probability of ThrottlingException")
    add(
        "rpm",
        float,
        "0",
        "requests per minute per service and model or endpoint: a bucket of one minute's "
        "worth, refilled continuously (0 = no quota)",
    )
    add(
        "rps",
        float,
        "0",
        "requests per second per service and model or endpoint: a bucket of one second's "
        "worth, refilled continuously (0 = no quota)",
    )
    add(
        "tpm",
        float,
        "0",
        "input tokens per minute per service and model or endpoint, as the answer counts "
        "them (inputTextTokenCount): a bucket of one minute's worth (0 = no quota)",
    )
    add(
        "quota-start",
        str,
        "full",
        "state of every quota bucket when a target first meets it: full (an idle account) "
        "or empty (throttles from the first call)",
    )
    add(
        "quota-background",
        float,
        "0",
        "share (0..1) of every quota a background client uses: the buckets refill at "
        "(1 - share) x rate",
    )
    add("error-rate", float, "0", "probability of a server error")
    add("error-status", int, "500", "server error status: 500, 503, 408 or 530")
    add("model-not-ready-rate", float, "0", "probability of ModelNotReadyException")
    add("reset-rate", float, "0", "probability of a TCP reset without answer")
    add("truncate-rate", float, "0", "probability of a body cut in half")
    add("malformed-rate", float, "0", "probability of a 200 with invalid JSON")
    add("wrong-count-rate", float, "0", "probability of one vector too few (batched answers)")
    add("wrong-dim-rate", float, "0", "probability of a vector one component short")
    add("seed", int, None, "seed of the fault RNG (reproducible fault sequences)")
    add("sagemaker-endpoints", str, None, "JSON file of extra SageMaker endpoints")
    add(
        "s3-port",
        int,
        None,
        "run moto's S3 server on this loopback port (0: any free one) for asynchronous invoke "
        "and S3 images",
    )
    add("s3-endpoint", str, "", "use this S3-compatible endpoint instead of starting one")
    add("async-delay", float, "2", "seconds an asynchronous invocation stays InProgress")
    p.add_argument(
        "--fail-text",
        action="append",
        default=[],
        help="a text containing this substring fails with a model error (repeatable)",
    )
    p.add_argument(
        "--profile-family",
        action="append",
        type=_profile,
        default=[],
        metavar="ID=FAMILY",
        help="map an application-inference-profile / provisioned / imported model id or ARN "
        f"to a family ({', '.join(FAMILIES)}) or a model id (repeatable)",
    )
    p.add_argument(
        "--log-requests",
        action="store_true",
        default=_env("log-requests", "") not in ("", "0", "false"),
        help="log one line per AWS request to stderr",
    )
    return p


def config_from_args(argv: Sequence[str] | None = None) -> EmulatorConfig:
    args = build_parser().parse_args(argv)
    knobs = {
        "latency_ms": args.latency_ms,
        "latency_jitter_ms": args.latency_jitter_ms,
        "throttle_rate": args.throttle_rate,
        "rpm": args.rpm,
        "rps": args.rps,
        "tpm": args.tpm,
        "quota_start": args.quota_start,
        "quota_background": args.quota_background,
        "error_rate": args.error_rate,
        "error_status": args.error_status,
        "model_not_ready_rate": args.model_not_ready_rate,
        "reset_rate": args.reset_rate,
        "truncate_rate": args.truncate_rate,
        "malformed_rate": args.malformed_rate,
        "wrong_count_rate": args.wrong_count_rate,
        "wrong_dim_rate": args.wrong_dim_rate,
        "fail_texts": args.fail_text,
    }
    try:
        faults = Faults().updated(knobs)
        load_endpoints(args.sagemaker_endpoints)  # fail at start, not on the first request
    except (OSError, ValueError) as exc:
        build_parser().error(str(exc))
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        faults=faults,
        seed=args.seed,
        endpoints_file=args.sagemaker_endpoints,
        profiles=dict(args.profile_family),
        log_requests=args.log_requests,
        s3_port=args.s3_port,
        s3_endpoint=args.s3_endpoint,
        async_delay=args.async_delay,
    )


async def serve(config: EmulatorConfig) -> None:
    app = build_app(config)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, backlog=1024)
    await site.start()
    host, port = runner.addresses[0][:2]
    shown = f"[{host}]" if ":" in host else host
    s3 = app[STATE_KEY].s3
    extra = f" s3={s3.url}" if s3 is not None else ""
    print(f"emulator listening on http://{shown}:{port}{extra}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    config = config_from_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    asyncio.run(serve(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
