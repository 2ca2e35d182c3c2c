"""The gRPC servicer: proto <-> domain, limits, credentials, errors.

Thin by design: it unpacks a request, asks the config layer and the engine,
and packs the answer. Every `VectorizerError` is mapped to its gRPC status
once, here (`errors.GRPC_STATUS`); anything unexpected becomes INTERNAL with
a generic message (the traceback goes to the log, never to the caller).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format

from vectorizer import __version__, metrics
from vectorizer.app import App
from vectorizer.backends.families import FAMILIES
from vectorizer.config import (
    PAYLOAD_FORMATS,
    SERVICES,
    ResolvedConfig,
    config_errors,
    parse_config_json,
    resolve,
)
from vectorizer.errors import GRPC_STATUS, ConfigError, Kind, VectorizerError
from vectorizer.settings import Settings
from vectorizer.text import PropertySettings, TextSettings, build_text, check_vectorizable
from vectorizer.transport import AwsCredentials
from vectorizer.types import ItemResult, Purpose
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

log = logging.getLogger("vectorizer.service")
R = TypeVar("R")

CREDENTIAL_KEYS = ("x-aws-access-key", "x-aws-secret-key", "x-aws-session-token")


def to_purpose(value: int) -> Purpose:
    return Purpose.QUERY if value == pb.PURPOSE_QUERY else Purpose.DOCUMENT


def credentials_from_metadata(metadata: Sequence[tuple[str, Any]] | None) -> AwsCredentials | None:
    """Per-request credentials from gRPC metadata (text2vec-aws header names)."""
    values = {k.lower(): v for k, v in (metadata or ()) if k.lower() in CREDENTIAL_KEYS}
    access, secret = values.get("x-aws-access-key"), values.get("x-aws-secret-key")
    if not access and not secret:
        return None
    if not access or not secret:
        raise VectorizerError(
            Kind.UNAUTHENTICATED,
            "x-aws-access-key and x-aws-secret-key must be sent together",
        )
    return AwsCredentials(str(access), str(secret), values.get("x-aws-session-token") or None)


def results_to_proto(results: Sequence[ItemResult]) -> list[pb.Result]:
    out = []
    for r in results:
        if r.vector is not None:
            out.append(pb.Result(vector=pb.Vector(values=r.vector)))
        else:
            assert r.error is not None
            out.append(
                pb.Result(
                    error=pb.ItemError(
                        code=r.error.code, message=r.error.message, retryable=r.error.retryable
                    )
                )
            )
    return out


def text_settings(
    config: ResolvedConfig, class_name: str, schema: Sequence[pb.PropertySchema]
) -> TextSettings:
    props = {
        p.name: PropertySettings(
            skip=p.skip,
            vectorize_property_name=p.vectorize_property_name,
            data_type=p.data_type,
            indexed=p.indexed if p.HasField("indexed") else None,
        )
        for p in schema
    }
    return TextSettings(
        class_name=class_name,
        vectorize_class_name=config.vectorize_class_name,
        properties=tuple(config.properties),
        property_settings=props,
        lowercase=config.lowercase,
    )


class VectorizerService(pb_grpc.VectorizerServicer):
    def __init__(self, app: App):
        self.app = app

    # -- helpers -----------------------------------------------------------

    def _config_message(self, request: Any) -> tuple[pb.CollectionConfig, str]:
        which = request.WhichOneof("target")
        if which == "collection":
            msg = self.app.collections.get(request.collection)
            if msg is None:
                known = ", ".join(sorted(self.app.collections)) or "none loaded"
                raise VectorizerError(
                    Kind.NOT_FOUND,
                    f"unknown collection {request.collection!r}; known collections: {known}",
                )
            return msg, request.collection
        if which == "config":
            return request.config, ""
        raise VectorizerError(
            Kind.INVALID_ARGUMENT, "set either config (inline) or collection (a loaded name)"
        )

    def _check_texts(self, texts: Sequence[str]) -> None:
        limits = self.app.settings
        if not texts:
            raise VectorizerError(Kind.INVALID_ARGUMENT, "no texts: send at least one")
        if len(texts) > limits.max_items:
            raise VectorizerError(
                Kind.INVALID_ARGUMENT,
                f"{len(texts)} items exceed the limit of {limits.max_items} per request; "
                "split the request",
            )
        total = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)
        if total > limits.max_request_bytes:
            raise VectorizerError(
                Kind.INVALID_ARGUMENT,
                f"request holds {total} bytes of text, over the limit of "
                f"{limits.max_request_bytes}; split the request",
            )

    async def _credentials(self, context: grpc.aio.ServicerContext) -> AwsCredentials:
        creds = credentials_from_metadata(context.invocation_metadata())
        return creds if creds is not None else await self.app.credentials.resolve()

    def _deadline(self, context: grpc.aio.ServicerContext) -> float:
        remaining = context.time_remaining()
        if remaining is None or remaining > self.app.settings.default_deadline:
            remaining = self.app.settings.default_deadline
        return time.monotonic() + remaining

    async def _embed(
        self,
        texts: list[str],
        purpose: Purpose,
        cfg_msg: pb.CollectionConfig,
        context: grpc.aio.ServicerContext,
        info: dict[str, Any],
    ) -> pb.VectorizeResponse:
        if self.app.settings.log_inputs:
            # Opt-in only (--log-inputs): input text is user data.
            info["inputs"] = texts
        config = resolve(cfg_msg)
        prepared = self.app.engine.prepare(config)
        info["model"] = self.app.engine.label(prepared)
        credentials = await self._credentials(context)
        outcome = await self.app.engine.embed(
            prepared, texts, purpose, credentials, self._deadline(context)
        )
        return pb.VectorizeResponse(
            results=results_to_proto(outcome.results),
            model=outcome.model,
            dimensions=outcome.dimensions,
            usage=pb.Usage(input_tokens=outcome.input_tokens),
        )

    # -- RPCs --------------------------------------------------------------

    async def Vectorize(
        self, request: pb.VectorizeRequest, context: grpc.aio.ServicerContext
    ) -> pb.VectorizeResponse:
        async def run(info: dict[str, Any]) -> pb.VectorizeResponse:
            cfg, info["collection"] = self._config_message(request)
            texts = list(request.texts)
            info["items"] = len(texts)
            self._check_texts(texts)
            return await self._embed(texts, to_purpose(request.purpose), cfg, context, info)

        return await self._observe("Vectorize", context, run)

    async def VectorizeObjects(
        self, request: pb.VectorizeObjectsRequest, context: grpc.aio.ServicerContext
    ) -> pb.VectorizeResponse:
        async def run(info: dict[str, Any]) -> pb.VectorizeResponse:
            cfg, info["collection"] = self._config_message(request)
            info["items"] = len(request.objects)
            config = resolve(cfg)
            settings = text_settings(config, request.class_name, request.property_schema)
            texts = [
                build_text(json_format.MessageToDict(obj.properties), settings)
                for obj in request.objects
            ]
            self._check_texts(texts)
            return await self._embed(texts, to_purpose(request.purpose), cfg, context, info)

        return await self._observe("VectorizeObjects", context, run)

    async def ValidateConfig(
        self, request: pb.ValidateConfigRequest, context: grpc.aio.ServicerContext
    ) -> pb.ValidateConfigResponse:
        async def run(info: dict[str, Any]) -> pb.ValidateConfigResponse:
            errors = validate_all(
                self.app, request.config, request.class_name, request.property_schema
            )
            return pb.ValidateConfigResponse(valid=not errors, errors=errors)

        return await self._observe("ValidateConfig", context, run)

    async def GetMeta(
        self, request: pb.GetMetaRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetMetaResponse:
        async def run(info: dict[str, Any]) -> pb.GetMetaResponse:
            return meta(self.app)

        return await self._observe("GetMeta", context, run)

    async def _observe(
        self,
        method: str,
        context: grpc.aio.ServicerContext,
        run: Callable[[dict[str, Any]], Awaitable[R]],
    ) -> R:
        """Metrics, a log line with a request id, and the one error mapping."""
        started = time.perf_counter()
        md = dict(context.invocation_metadata() or ())
        info: dict[str, Any] = {"request_id": str(md.get("x-request-id") or uuid.uuid4().hex[:16])}
        code = grpc.StatusCode.OK
        message = ""
        metrics.IN_FLIGHT.inc()
        try:
            return await run(info)
        except VectorizerError as exc:
            code, message = GRPC_STATUS[exc.kind], exc.message
        except Exception:  # noqa: BLE001 - the last line of defence: never UNKNOWN
            log.exception("internal error", extra={"request_id": info["request_id"]})
            code, message = (
                grpc.StatusCode.INTERNAL,
                (f"internal error (request id {info['request_id']}); see the server log"),
            )
        finally:
            elapsed = time.perf_counter() - started
            metrics.IN_FLIGHT.dec()
            metrics.GRPC_REQUESTS.labels(method, code.name).inc()
            metrics.GRPC_LATENCY.labels(method).observe(elapsed)
            if message:
                info["error"] = message
            log.info(
                "%s %s in %.1f ms",
                method,
                code.name,
                elapsed * 1000,
                extra={
                    "method": method,
                    "code": code.name,
                    "duration_ms": round(elapsed * 1000, 2),
                    **info,
                },
            )
        await context.abort(code, message)
        raise AssertionError("unreachable")  # context.abort raises


def validate_all(
    app: App,
    cfg: pb.CollectionConfig,
    class_name: str = "",
    schema: Sequence[pb.PropertySchema] = (),
) -> list[str]:
    return validate_with(app.engine.prepare, cfg, class_name, schema)


def validate_config_locally(data: Any) -> list[str]:
    """`vectorizer validate`: every problem of a moduleConfig dict, offline."""
    from vectorizer.app import build_backends, build_transport

    try:
        cfg = parse_config_json(data)
    except ConfigError as exc:
        return exc.errors
    settings = Settings()
    backends = build_backends(settings, build_transport(settings, os.environ), os.environ)
    return validate_with(lambda c: backends[c.service].prepare(c), cfg)


def validate_with(
    prepare: Callable[[ResolvedConfig], Any],
    cfg: pb.CollectionConfig,
    class_name: str = "",
    schema: Sequence[pb.PropertySchema] = (),
) -> list[str]:
    """Generic, backend and schema checks of a config; no AWS call."""
    errors = config_errors(cfg)
    if not errors:
        try:
            prepare(resolve(cfg))
        except ConfigError as exc:
            errors.extend(exc.errors)
        except VectorizerError as exc:
            errors.append(exc.message)
    if class_name or schema:
        # Schema checks need the text options only; use them even when other
        # keys are wrong so every problem is reported at once.
        base = ResolvedConfig(
            service="bedrock",
            region="",
            vectorize_class_name=cfg.vectorize_class_name,
            properties=tuple(cfg.properties),
            lowercase=cfg.lowercase if cfg.HasField("lowercase") else True,
        )
        errors.extend(check_vectorizable(text_settings(base, class_name, schema)))
    return errors


def meta(app: App) -> pb.GetMetaResponse:
    families = [
        pb.ModelFamily(
            name=c.spec.name,
            model_ids=list(c.spec.model_ids),
            dimensions=list(c.spec.dimensions),
            default_dimensions=c.spec.default_dimensions,
            max_batch_size=c.spec.max_batch_size,
            max_input=c.spec.max_input,
            supports_purpose=c.spec.supports_purpose,
            native_normalize=c.spec.native_normalize,
            truncate_modes=[t.value for t in c.spec.native_truncate],
        )
        for c in FAMILIES.values()
    ]
    return pb.GetMetaResponse(
        version=__version__,
        services=list(SERVICES),
        families=families,
        payload_formats=list(PAYLOAD_FORMATS),
        collections=sorted(app.collections),
    )
