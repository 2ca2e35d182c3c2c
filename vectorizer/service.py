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
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc
from google.protobuf import struct_pb2

from vectorizer import __version__, metrics
from vectorizer.app import App
from vectorizer.backends.families import FAMILIES
from vectorizer.backends.families.image_limits import IMAGE_SPECS
from vectorizer.config import (
    PAYLOAD_FORMATS,
    SERVICES,
    ResolvedConfig,
    config_errors,
    parse_config_json,
    resolve,
)
from vectorizer.decoding import Lenient, Undecodable, unwrap
from vectorizer.encoding import EncodedResponse, encode_response
from vectorizer.errors import GRPC_STATUS, ConfigError, Kind, VectorizerError
from vectorizer.inputs import Item, describe, item_bytes, items_from_request
from vectorizer.multi2vec import assemble, object_parts
from vectorizer.observe import CREDENTIAL_KEYS, log_call, request_id, scrubber
from vectorizer.settings import Settings
from vectorizer.text import (
    PropertySettings,
    TextSettings,
    build_text,
    check_vectorizable,
    is_blank,
)
from vectorizer.transport import AwsCredentials
from vectorizer.types import ItemError, ItemResult, Purpose
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc

log = logging.getLogger("vectorizer.service")
R = TypeVar("R")

INVALID_UTF8_TEXT = ItemError("INVALID_UTF8", "text is not valid UTF-8; send UTF-8 text", False)
BLANK_OBJECT = ItemError(
    "BLANK_TEXT",
    "object produced no text to embed: its text properties are empty or only whitespace; "
    "give it text, or set vectorizeClassName to embed the class name",
    False,
)
INVALID_UTF8_OBJECT = ItemError(
    "INVALID_UTF8", "object holds a string that is not valid UTF-8; send UTF-8 text", False
)


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


def struct_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as plain Python values (json_format refuses NaN; callers may send it)."""
    return {key: _value(value) for key, value in struct.fields.items()}


def _value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "list_value":
        return [_value(v) for v in value.list_value.values]
    if kind == "struct_value":
        return struct_dict(value.struct_value)
    if kind == "number_value":
        return value.number_value
    if kind == "bool_value":
        return value.bool_value
    return None


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

    def _check_count(self, count: int) -> None:
        limits = self.app.settings
        if not count:
            raise VectorizerError(Kind.INVALID_ARGUMENT, "no texts or inputs: send at least one")
        if count > limits.max_items:
            raise VectorizerError(
                Kind.INVALID_ARGUMENT,
                f"{count} items exceed the limit of {limits.max_items} per request; "
                "split the request",
            )

    def _check_texts(self, texts: Sequence[Item]) -> None:
        limits = self.app.settings
        self._check_count(len(texts))
        total = sum(item_bytes(t) for t in texts)
        if total > limits.max_request_bytes:
            raise VectorizerError(
                Kind.INVALID_ARGUMENT,
                f"request holds {total} bytes of text and images, over the limit of "
                f"{limits.max_request_bytes}; split the request",
            )

    def _item_errors(
        self, texts: Sequence[Item], not_utf8: frozenset[int], utf8_error: ItemError
    ) -> dict[int, ItemError]:
        """Items refused before any upstream call: not UTF-8, or over --max-text-bytes."""
        limit = self.app.settings.max_text_bytes
        errors = {i: utf8_error for i in not_utf8}
        for i, text in enumerate(texts):
            # A UTF-8 length is at most 4 bytes per character and at least 1.
            if i in errors or not isinstance(text, str) or len(text) * 4 <= limit:
                continue
            size = len(text.encode("utf-8", "surrogatepass"))
            if size > limit:
                errors[i] = ItemError(
                    "TEXT_TOO_LARGE",
                    f"text is {size} bytes of UTF-8, over the limit of {limit} per text "
                    "(--max-text-bytes); shorten or split it",
                    False,
                )
        return errors

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
        texts: Sequence[Item],
        purpose: Purpose,
        cfg_msg: pb.CollectionConfig,
        context: grpc.aio.ServicerContext,
        info: dict[str, Any],
        refused: dict[int, ItemError] | None = None,
        vector_format: int = pb.VECTOR_FORMAT_VALUES,
    ) -> EncodedResponse:
        """Embed `texts`; items in `refused` get their error and skip the engine."""
        refused = refused or {}
        if self.app.settings.log_inputs:
            # Opt-in only (--log-inputs): input text is user data; images are
            # logged by hash and size, never by content.
            info["inputs"] = [describe(t) for t in texts]
        config = resolve(cfg_msg)
        prepared = self.app.engine.prepare(config)
        info["model"] = self.app.engine.label(prepared)
        todo = [i for i in range(len(texts)) if i not in refused]
        if not todo:
            results = [ItemResult.fail(refused[i]) for i in range(len(texts))]
            return encode_response(
                results, model=prepared.target, dimensions=prepared.dimensions or 0
            )
        credentials = await self._credentials(context)
        outcome = await self.app.engine.embed(
            prepared, [texts[i] for i in todo], purpose, credentials, self._deadline(context)
        )
        merged = outcome.results
        if refused:
            merged = [
                ItemResult.fail(refused[i]) if i in refused else ItemResult()
                for i in range(len(texts))
            ]
            for i, result in zip(todo, outcome.results, strict=True):
                merged[i] = result
        return encode_response(
            merged,
            model=outcome.model,
            dimensions=outcome.dimensions,
            input_tokens=outcome.input_tokens,
            vector_format=vector_format,
            clean=scrubber(context.invocation_metadata()),
        )

    # -- RPCs --------------------------------------------------------------

    async def Vectorize(
        self,
        request: pb.VectorizeRequest | Lenient[pb.VectorizeRequest] | Undecodable,
        context: grpc.aio.ServicerContext,
    ) -> EncodedResponse:
        async def run(info: dict[str, Any]) -> EncodedResponse:
            msg: pb.VectorizeRequest
            msg, not_utf8 = unwrap(request)
            cfg, info["collection"] = self._config_message(msg)
            texts, refused_inputs = items_from_request(list(msg.texts), msg.inputs)
            info["items"] = len(texts)
            self._check_texts(texts)
            refused = self._item_errors(texts, not_utf8, INVALID_UTF8_TEXT)
            for i, error in refused_inputs.items():
                refused.setdefault(i, error)
            purpose = to_purpose(msg.purpose)
            return await self._embed(texts, purpose, cfg, context, info, refused, msg.vector_format)

        return await self._observe("Vectorize", context, run)

    async def VectorizeObjects(
        self,
        request: pb.VectorizeObjectsRequest | Lenient[pb.VectorizeObjectsRequest] | Undecodable,
        context: grpc.aio.ServicerContext,
    ) -> EncodedResponse:
        async def run(info: dict[str, Any]) -> EncodedResponse:
            msg: pb.VectorizeObjectsRequest
            msg, not_utf8 = unwrap(request)
            cfg, info["collection"] = self._config_message(msg)
            info["items"] = len(msg.objects)
            # Count first: building texts for an oversized request is wasted work.
            self._check_count(len(msg.objects))
            config = resolve(cfg)
            if config.multi2vec:
                return await self._embed_fields(msg, not_utf8, config, context, info)
            settings = text_settings(config, msg.class_name, msg.property_schema)
            texts = [
                "" if i in not_utf8 else build_text(struct_dict(obj.properties), settings)
                for i, obj in enumerate(msg.objects)
            ]
            self._check_texts(texts)
            refused = self._item_errors(texts, not_utf8, INVALID_UTF8_OBJECT)
            refused.update(
                {i: BLANK_OBJECT for i, t in enumerate(texts) if i not in refused and is_blank(t)}
            )
            purpose = to_purpose(msg.purpose)
            return await self._embed(texts, purpose, cfg, context, info, refused, msg.vector_format)

        return await self._observe("VectorizeObjects", context, run)

    async def _embed_fields(
        self,
        msg: pb.VectorizeObjectsRequest,
        not_utf8: frozenset[int],
        config: ResolvedConfig,
        context: grpc.aio.ServicerContext,
        info: dict[str, Any],
    ) -> EncodedResponse:
        """multi2vec rules: every field embedded alone, combined per object."""
        parts: list[list[Item]] = []
        refused: dict[int, ItemError] = {}
        for i, obj in enumerate(msg.objects):
            items, error = (
                ([], INVALID_UTF8_OBJECT)
                if i in not_utf8
                else object_parts(struct_dict(obj.properties), config)
            )
            parts.append(items)
            if error is not None:
                refused[i] = error
        flat = [item for items in parts for item in items]
        total = sum(item_bytes(t) for t in flat)
        if total > self.app.settings.max_request_bytes:
            raise VectorizerError(
                Kind.INVALID_ARGUMENT,
                f"request holds {total} bytes of text and images, over the limit of "
                f"{self.app.settings.max_request_bytes}; split the request",
            )
        prepared = self.app.engine.prepare(config)
        info["model"] = self.app.engine.label(prepared)
        outcome = None
        if flat:
            credentials = await self._credentials(context)
            outcome = await self.app.engine.embed(
                prepared, flat, to_purpose(msg.purpose), credentials, self._deadline(context)
            )
        results = assemble(parts, refused, outcome.results if outcome else [], config)
        return encode_response(
            results,
            model=prepared.target,
            dimensions=outcome.dimensions if outcome else (prepared.dimensions or 0),
            input_tokens=outcome.input_tokens if outcome else 0,
            vector_format=msg.vector_format,
            clean=scrubber(context.invocation_metadata()),
        )

    async def ValidateConfig(
        self,
        request: pb.ValidateConfigRequest | Undecodable,
        context: grpc.aio.ServicerContext,
    ) -> pb.ValidateConfigResponse:
        async def run(info: dict[str, Any]) -> pb.ValidateConfigResponse:
            msg: pb.ValidateConfigRequest
            msg, _ = unwrap(request)
            errors = validate_all(self.app, msg.config, msg.class_name, msg.property_schema)
            return pb.ValidateConfigResponse(valid=not errors, errors=errors)

        return await self._observe("ValidateConfig", context, run)

    async def GetMeta(
        self, request: pb.GetMetaRequest | Undecodable, context: grpc.aio.ServicerContext
    ) -> pb.GetMetaResponse:
        async def run(info: dict[str, Any]) -> pb.GetMetaResponse:
            unwrap(request)
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
        info: dict[str, Any] = {"request_id": request_id(md.get("x-request-id"))}
        code = grpc.StatusCode.OK
        message = ""
        metrics.IN_FLIGHT.inc()
        try:
            return await run(info)
        except VectorizerError as exc:
            code, message = GRPC_STATUS[exc.kind], scrubber(md.items())(exc.message)
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
            log_call(log, method, code.name, elapsed, {"method": method, "code": code.name}, info)
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
    families = []
    for c in FAMILIES.values():
        family = pb.ModelFamily(
            name=c.spec.name,
            model_ids=list(c.spec.model_ids),
            dimensions=list(c.spec.dimensions),
            default_dimensions=c.spec.default_dimensions,
            max_batch_size=c.spec.max_batch_size,
            max_input=c.spec.max_input,
            supports_purpose=c.spec.supports_purpose,
            native_normalize=c.spec.native_normalize,
            truncate_modes=[t.value for t in c.spec.native_truncate],
            legacy=c.spec.legacy,
            end_of_life=c.spec.end_of_life,
            successor=c.spec.successor,
        )
        image = IMAGE_SPECS.get(c.spec.name)
        if image is not None:
            family.image_formats.extend(image.formats)
            family.max_image_bytes = image.max_bytes or 0
            family.images_per_call = image.per_call
            family.image_s3 = image.s3
            family.joint_text_image = image.joint_text
        families.append(family)
    return pb.GetMetaResponse(
        version=__version__,
        services=list(SERVICES),
        families=families,
        payload_formats=list(PAYLOAD_FORMATS),
        collections=sorted(app.collections),
    )
