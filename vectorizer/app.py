"""The application object: everything a request needs, built once.

`build_app(settings)` wires settings -> transport -> backends -> engine, loads
the collections file and holds the readiness flag that health checks and
draining share.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from vectorizer.backends.base import Backend
from vectorizer.backends.bedrock import BedrockBackend
from vectorizer.backends.bedrock_async import BedrockAsync
from vectorizer.backends.families import known_model_ids, legacy_notice, resolve_family
from vectorizer.backends.sagemaker import SageMakerBackend
from vectorizer.cache import VectorCache
from vectorizer.config import ResolvedConfig, load_collections, resolve
from vectorizer.engine import Engine
from vectorizer.errors import ConfigError
from vectorizer.jobs.intake import MediaSettings
from vectorizer.jobs.manager import MediaJobs
from vectorizer.jobs.store import open_store
from vectorizer.ratelimit import LimiterRegistry, LimiterSettings
from vectorizer.ratelimit.redis_budget import SharedBudgets
from vectorizer.ratelimit.redis_link import RedisLink
from vectorizer.retry import RetryPolicy
from vectorizer.s3 import S3Client
from vectorizer.settings import Settings
from vectorizer.transport import AwsTransport, CredentialSource
from vectorizer.v1 import vectorizer_pb2 as pb

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    collections: dict[str, pb.CollectionConfig]
    engine: Engine
    credentials: CredentialSource
    transport: AwsTransport
    cache: VectorCache | None
    ready: bool = False
    draining: bool = False
    notes: list[str] = field(default_factory=list)
    media: MediaJobs | None = None
    budgets: SharedBudgets | None = None

    @property
    def rate_budget(self) -> str:
        """GetMeta's rate_budget: local, shared (through Redis) or fallback."""
        return self.budgets.state if self.budgets is not None else "local"

    async def close(self) -> None:
        if self.media is not None:
            await self.media.close()
        if self.budgets is not None:
            await self.budgets.close()
        await self.transport.close()
        if self.cache is not None:
            await self.cache.close()


def build_transport(settings: Settings, env: Mapping[str, str]) -> AwsTransport:
    """One pooled transport for every backend (no connection opened yet)."""
    return AwsTransport(
        trusted_hosts=settings.endpoint_allowlist,
        timeout=settings.upstream_timeout,
        pool_size=max(64, settings.max_concurrency * 4),
        env=env,
    )


def build_backends(
    settings: Settings, transport: AwsTransport, env: Mapping[str, str]
) -> dict[str, Backend]:
    return {
        "bedrock": BedrockBackend(transport, env),
        "sagemaker": SageMakerBackend(transport, settings.endpoint_allowlist, env),
    }


def warn_if_legacy(name: str, config: ResolvedConfig) -> None:
    """Log a warning when a loaded collection uses a model AWS marks Legacy."""
    if config.service != "bedrock":
        return
    try:
        codec = resolve_family(config.model, config.family)
    except ConfigError:
        return  # reported on the collection's first request, as before
    notice = legacy_notice(codec.spec)
    if notice:
        log.warning("collection %r uses %s: %s", name, config.model, notice)


def build_app(settings: Settings, env: Mapping[str, str] | None = None) -> App:
    env = os.environ if env is None else env
    collections = load_collections(settings.collections) if settings.collections else {}
    transport = build_transport(settings, env)
    backends = build_backends(settings, transport, env)
    # Metric labels: models and endpoints the operator configured, plus every
    # known base model id; anything else is counted as "other".
    labels = set(known_model_ids())
    for name, msg in collections.items():
        resolved = resolve(msg)
        labels.add(resolved.target_name)
        warn_if_legacy(name, resolved)
    cache = (
        VectorCache(
            settings.cache_max_bytes,
            redis_url=settings.redis_url or None,
            ttl_seconds=settings.cache_ttl,
        )
        if settings.cache_max_bytes > 0 or settings.redis_url
        else None
    )
    # Without a shared budget this process may use only its share of what a
    # target allows (--workers N: 1/N each): the rates the operator gave are
    # scaled down, so the host's total stays what was given. A shared budget
    # paces the whole fleet's rate, and falls back to the share without Redis.
    whole = LimiterSettings(
        max_concurrency=settings.max_concurrency,
        initial_rate=settings.initial_rate,
        min_rate=min(1.0, settings.max_rate),
        max_rate=settings.max_rate,
        max_token_rate=settings.max_token_rate,
    )
    budgets = (
        SharedBudgets(RedisLink(settings.redis_url), whole, fallback_share=settings.rate_share)
        if shared_budget(settings)
        else None
    )
    share = settings.rate_share
    limiters = LimiterRegistry(
        LimiterSettings(
            max_concurrency=settings.max_concurrency,
            initial_rate=settings.initial_rate * share,
            min_rate=min(1.0, settings.max_rate * share),
            max_rate=settings.max_rate * share,
            max_token_rate=settings.max_token_rate * share,
        ),
        budget_factory=budgets,
    )
    engine = Engine(
        backends,
        limiters=limiters,
        cache=cache,
        retry=RetryPolicy(),
        label_values=frozenset(labels),
        batch_wait=max(0.0, settings.batch_wait_ms) / 1000,
    )
    credentials = CredentialSource(env)
    return App(
        settings=settings,
        collections=collections,
        engine=engine,
        credentials=credentials,
        transport=transport,
        cache=cache,
        media=build_media_jobs(settings, transport, credentials, env),
        budgets=budgets,
    )


def shared_budget(settings: Settings) -> bool:
    """Whether rate budgets are shared through Redis (--shared-budget)."""
    if settings.shared_budget == "auto":
        return bool(settings.redis_url)
    return settings.shared_budget == "on"


def build_media_jobs(
    settings: Settings,
    transport: AwsTransport,
    credentials: CredentialSource,
    env: Mapping[str, str],
) -> MediaJobs:
    s3 = S3Client(transport, env)
    return MediaJobs(
        open_store(settings.jobs_dir, settings.redis_url),
        BedrockAsync(transport, s3, env),
        s3,
        credentials,
        MediaSettings(
            staging_uri=settings.media_staging_uri,
            output_uri=settings.media_output_uri,
            bucket_owner=settings.media_bucket_owner,
            max_upload_bytes=settings.media_max_upload_bytes,
            poll_interval=settings.media_poll_interval,
        ),
    )
