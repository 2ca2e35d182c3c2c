"""Process settings: every flag with its VECTORIZER_* environment variable.

`Settings` is resolved once at start-up (`parse_settings`); the rest of the
code reads that object. Precedence: flag, then environment, then default.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

MiB = 1024 * 1024
# More processes than this on one host is a configuration mistake (each one
# holds its own pools and cache); more capacity means more replicas.
MAX_WORKERS = 64


@dataclass(frozen=True)
class Settings:
    grpc_address: str = field(
        default="0.0.0.0:50051", metadata={"help": "gRPC listen address (host:port)."}
    )
    http_address: str = field(
        default="0.0.0.0:8080",
        metadata={"help": "HTTP side port: /healthz, /readyz, /metrics, compat endpoints."},
    )
    compat_address: str = field(
        default="",
        metadata={
            "help": "An extra HTTP listener (host:port) serving only the compat APIs and "
            "health, e.g. for a vector DB that cannot send the bearer token (--compat-auth)."
        },
    )
    compat_auth: str = field(
        default="token",
        metadata={
            "help": "token: the compat listener requires the bearer token like every port; "
            "none: it requires none (stock Weaviate modules cannot send one). Needs "
            "--compat-address; gRPC and the HTTP port keep requiring the token."
        },
    )
    collections: str = field(
        default="", metadata={"help": "Collections file (JSON or TOML): name -> moduleConfig."}
    )
    default_collection: str = field(
        default="", metadata={"help": "Collection used by HTTP compat endpoints naming none."}
    )
    # 1,000 x 3,072 float32 = 12.3 MB of vectors, plus proto framing: 64 MiB
    # leaves room for that batch and its texts.
    max_message_bytes: int = field(
        default=64 * MiB, metadata={"help": "Largest gRPC message received or sent, in bytes."}
    )
    max_items: int = field(default=2048, metadata={"help": "Most texts or objects per request."})
    max_text_bytes: int = field(
        default=256 * 1024, metadata={"help": "Largest single text, in UTF-8 bytes."}
    )
    max_request_bytes: int = field(
        default=32 * MiB, metadata={"help": "Most UTF-8 bytes of text per request."}
    )
    grace_period: float = field(
        default=30.0, metadata={"help": "Seconds in-flight calls get to finish on SIGTERM."}
    )
    workers: int = field(
        default=1,
        metadata={
            "help": "Server processes sharing the gRPC and HTTP ports (SO_REUSEPORT), under one "
            "supervisor that restarts a worker that dies and drains all on SIGTERM; /metrics of "
            "any worker shows the whole host. Each worker gets 1/N of --rate-share."
        },
    )
    rate_share: float = field(
        default=1.0,
        metadata={
            "help": "Share (0..1] of each target's rate this process may use when the rate "
            "budget is not shared through Redis: --workers N gives each worker 1/N of it; with "
            "R replicas and no shared budget, set 1/R."
        },
    )
    max_connection_age: float = field(
        default=0.0,
        metadata={
            "help": "Seconds after which a gRPC client connection is asked to reconnect "
            "(GOAWAY, in-flight calls get --grace-period), so round_robin clients re-resolve a "
            "headless Service and reach new replicas; 0: never."
        },
    )
    # Under Weaviate's module timeout (MODULES_CLIENT_TIMEOUT, 50 s): the
    # caller gets the sidecar's own deadline error, not a bare "context
    # deadline exceeded" of its own.
    default_deadline: float = field(
        default=45.0, metadata={"help": "Deadline (s) for calls whose caller set none."}
    )
    upstream_timeout: float = field(
        default=30.0, metadata={"help": "Timeout (s) of one call to AWS."}
    )
    endpoint_allowlist: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "Comma-separated hosts (host or host:port) besides AWS that may receive "
            "signed SageMaker requests, e.g. a private endpoint."
        },
    )
    max_concurrency: int = field(
        default=64, metadata={"help": "Most upstream calls in flight per target."}
    )
    initial_rate: float = field(
        default=50.0, metadata={"help": "Starting upstream calls/s per target (adapts)."}
    )
    max_rate: float = field(
        default=10_000.0, metadata={"help": "Ceiling of the adaptive rate, calls/s per target."}
    )
    max_token_rate: float = field(
        default=0.0,
        metadata={
            "help": "Ceiling of the adaptive input-token rate, tokens/s per target (a known "
            "tokens-per-minute quota / 60); 0: untold, learned from throttles."
        },
    )
    batch_wait_ms: float = field(
        default=5.0,
        metadata={
            "help": "Most ms a partial upstream batch (Cohere, SageMaker) waits for texts of "
            "other requests to fill it; only while other requests for the target are in "
            "progress, never for queries (0: no wait)."
        },
    )
    cache_max_bytes: int = field(
        default=64 * MiB, metadata={"help": "In-memory vector cache bound in bytes (0: off)."}
    )
    redis_url: str = field(
        default="", metadata={"help": "Redis URL of a shared cache tier, e.g. redis://host:6379/0."}
    )
    shared_budget: str = field(
        default="auto",
        metadata={
            "help": "on: every replica and worker naming the same --redis-url shares each "
            "target's rate budget and learned rate through Redis (one quota, one prober; "
            "without Redis each falls back to its share and rejoins); off: each process "
            "learns alone within --rate-share; auto: on when --redis-url is given."
        },
    )
    cache_ttl: int = field(default=86_400, metadata={"help": "Redis cache entry TTL, seconds."})
    log_level: str = field(default="info", metadata={"help": "debug, info, warning or error."})
    log_format: str = field(default="text", metadata={"help": "text or json."})
    log_inputs: bool = field(
        default=False, metadata={"help": "Log input texts (off: texts never reach logs)."}
    )
    check_credentials: bool = field(
        default=False,
        metadata={"help": "Ready only once the default AWS credential chain resolves."},
    )
    tls_cert: str = field(default="", metadata={"help": "PEM certificate for gRPC and HTTP TLS."})
    tls_key: str = field(default="", metadata={"help": "PEM private key for --tls-cert."})
    tls_client_ca: str = field(
        default="", metadata={"help": "PEM CA bundle: require client certificates (mutual TLS)."}
    )
    auth_token_file: str = field(
        default="", metadata={"help": "File holding a bearer token required on every call."}
    )
    # --- media jobs (video and audio through Bedrock's asynchronous invoke) ---
    jobs_dir: str = field(
        default="",
        metadata={
            "help": "Directory of the media-job store (SQLite). Unset and without --redis-url, "
            "jobs live in memory and a restart loses them."
        },
    )
    media_staging_uri: str = field(
        default="",
        metadata={"help": "s3://bucket/prefix/ where media sent as bytes is staged for the model."},
    )
    media_output_uri: str = field(
        default="",
        metadata={"help": "Default s3://bucket/prefix/ where Bedrock writes media-job output."},
    )
    media_bucket_owner: str = field(
        default="",
        metadata={"help": "12-digit account id owning the staging bucket (Marengo needs it)."},
    )
    media_max_upload_bytes: int = field(
        default=48 * MiB, metadata={"help": "Largest media file accepted as bytes, in bytes."}
    )
    media_poll_interval: float = field(
        default=5.0, metadata={"help": "Seconds between GetAsyncInvoke polls of a media job."}
    )


def split_address(address: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port); an empty host is 0.0.0.0."""
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


def _env_name(name: str) -> str:
    return "VECTORIZER_" + name.upper()


def _convert(kind: type, raw: str) -> Any:
    if kind is bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return kind(raw)


def _kind(default: Any) -> type:
    return type(default)


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return repr(value) if isinstance(value, float) else str(value)


def settings_env(settings: Settings) -> dict[str, str]:
    """Every setting as its VECTORIZER_* variable: what `parse_settings([], env)`
    reads back into an equal Settings (how a supervisor hands its settings on)."""
    return {_env_name(f.name): _render(getattr(settings, f.name)) for f in fields(Settings)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vectorizer-server",
        description="gRPC sidecar that embeds text with Amazon Bedrock and SageMaker. "
        "Every flag can also be set with the environment variable shown.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for f in fields(Settings):
        flag = "--" + f.name.replace("_", "-")
        kind = _kind(f.default)
        help_text = f"{f.metadata['help']} [env {_env_name(f.name)}]"
        if kind is bool:
            parser.add_argument(
                flag,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            parser.add_argument(
                flag,
                dest=f.name,
                default=None,
                metavar=f.name.upper(),
                help=help_text + f" (default: {f.default!r})",
            )
    return parser


def parse_settings(
    argv: Sequence[str] | None = None, env: dict[str, str] | None = None
) -> Settings:
    """Flags over environment over defaults. Raises SystemExit on bad values."""
    env = dict(os.environ) if env is None else env
    parser = build_parser()
    args = parser.parse_args(argv)
    values: dict[str, Any] = {}
    for f in fields(Settings):
        kind = _kind(f.default)
        raw = getattr(args, f.name)
        try:
            if raw is not None:
                values[f.name] = raw if kind is bool else _convert(kind, raw)
            elif _env_name(f.name) in env:
                values[f.name] = _convert(kind, env[_env_name(f.name)])
        except ValueError:
            given = raw if raw is not None else env.get(_env_name(f.name))
            parser.error(f"invalid value for {f.name}: {given!r}")
    settings = Settings(**values)
    problems = validate_settings(settings)
    if problems:
        parser.error("; ".join(problems))
    return settings


def validate_settings(s: Settings) -> list[str]:
    problems = []
    if s.log_format not in ("text", "json"):
        problems.append("--log-format must be text or json")
    if s.log_level.lower() not in ("debug", "info", "warning", "error"):
        problems.append("--log-level must be debug, info, warning or error")
    if bool(s.tls_cert) != bool(s.tls_key):
        problems.append("--tls-cert and --tls-key go together")
    if s.compat_auth not in ("token", "none"):
        problems.append("--compat-auth must be token or none")
    elif s.compat_auth == "none" and not s.compat_address:
        problems.append(
            "--compat-auth none needs --compat-address: the token is waived only on a "
            "listener of its own"
        )
    if s.tls_client_ca and not s.tls_cert:
        problems.append("--tls-client-ca needs --tls-cert and --tls-key")
    for name in (
        "max_items",
        "max_text_bytes",
        "max_request_bytes",
        "max_message_bytes",
        "max_concurrency",
    ):
        if getattr(s, name) <= 0:
            problems.append(f"--{name.replace('_', '-')} must be positive")
    if not 1 <= s.workers <= MAX_WORKERS:
        problems.append(f"--workers must be 1..{MAX_WORKERS}")
    if not 0 < s.rate_share <= 1:
        problems.append("--rate-share must be above 0 and at most 1")
    if s.shared_budget not in ("auto", "on", "off"):
        problems.append("--shared-budget must be auto, on or off")
    elif s.shared_budget == "on" and not s.redis_url:
        problems.append("--shared-budget on needs --redis-url")
    if s.max_connection_age < 0:
        problems.append("--max-connection-age must be 0 (off) or positive")
    if s.media_poll_interval <= 0 or s.media_max_upload_bytes <= 0:
        problems.append("--media-poll-interval and --media-max-upload-bytes must be positive")
    if s.media_bucket_owner and not (
        len(s.media_bucket_owner) == 12 and s.media_bucket_owner.isdigit()
    ):
        problems.append("--media-bucket-owner must be a 12-digit AWS account id")
    for name in ("media_staging_uri", "media_output_uri"):
        value = getattr(s, name)
        if value and not value.startswith("s3://"):
            problems.append(f"--{name.replace('_', '-')} must be an s3://bucket/prefix/ location")
    if s.initial_rate <= 0 or s.max_rate <= 0 or s.max_token_rate < 0:
        problems.append(
            "--initial-rate and --max-rate must be positive, --max-token-rate not negative"
        )
    if s.grace_period < 0 or s.default_deadline <= 0 or s.upstream_timeout <= 0:
        problems.append(
            "--grace-period, --default-deadline and --upstream-timeout must be positive"
        )
    return problems
