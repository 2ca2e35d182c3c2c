"""The gRPC servicer of `vectorizer.v1.Vectorizer`: proto <-> domain, limits, errors.

Thin by design: it unpacks a request, asks the config layer and the engine,
and packs the answer. The error mapping, metrics and log line are
`rpc.observe`'s; config checks are `validate`'s, the GetMeta answer `meta`'s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import grpc

from vectorizer.app import App
from vectorizer.config import ResolvedConfig, resolve
from vectorizer.decoding import Lenient, Undecodable, unwrap
from vectorizer.encoding import EncodedResponse, encode_response
from vectorizer.errors import Kind, VectorizerError
from vectorizer.inputs import Item, describe, item_bytes, items_from_request
from vectorizer.meta import meta
from vectorizer.multi2vec import assemble, object_parts
from vectorizer.observe import scrubber
from vectorizer.proto_objects import struct_dict, text_settings
from vectorizer.rpc import (
    caller_credentials,
    credentials_from_metadata,
    observe,
    target_config,
    to_purpose,
)
from vectorizer.text import build_text, is_blank
from vectorizer.transport import AwsCredentials
from vectorizer.types import ItemError, ItemResult, Purpose
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc
from vectorizer.validate import validate_all, validate_config_locally, validate_with

# Kept importable from here (the CLI and older callers import them from this module).
__all__ = [
    "VectorizerService",
    "credentials_from_metadata",
    "meta",
    "scrubber",
    "struct_dict",
    "text_settings",
    "to_purpose",
    "validate_all",
    "validate_config_locally",
    "validate_with",
]

log = logging.getLogger("vectorizer.service")

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


class VectorizerService(pb_grpc.VectorizerServicer):
    def __init__(self, app: App):
        self.app = app

    # -- helpers -----------------------------------------------------------

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
        self._check_count(len(texts))
        self._check_bytes(texts)

    def _check_bytes(self, items: Sequence[Item]) -> None:
        limit = self.app.settings.max_request_bytes
        total = sum(item_bytes(t) for t in items)
        if total > limit:
            raise VectorizerError(
                Kind.INVALID_ARGUMENT,
                f"request holds {total} bytes of text and images, over the limit of "
                f"{limit}; split the request",
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
        creds, _ = await caller_credentials(self.app, context)
        return creds

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
            cfg, info["collection"] = target_config(self.app.collections, msg)
            texts, refused_inputs = items_from_request(list(msg.texts), msg.inputs)
            info["items"] = len(texts)
            self._check_texts(texts)
            refused = self._item_errors(texts, not_utf8, INVALID_UTF8_TEXT)
            for i, error in refused_inputs.items():
                refused.setdefault(i, error)
            purpose = to_purpose(msg.purpose)
            return await self._embed(texts, purpose, cfg, context, info, refused, msg.vector_format)

        return await observe(log, "Vectorize", context, run)

    async def VectorizeObjects(
        self,
        request: pb.VectorizeObjectsRequest | Lenient[pb.VectorizeObjectsRequest] | Undecodable,
        context: grpc.aio.ServicerContext,
    ) -> EncodedResponse:
        async def run(info: dict[str, Any]) -> EncodedResponse:
            msg: pb.VectorizeObjectsRequest
            msg, not_utf8 = unwrap(request)
            cfg, info["collection"] = target_config(self.app.collections, msg)
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

        return await observe(log, "VectorizeObjects", context, run)

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
        self._check_bytes(flat)
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

        return await observe(log, "ValidateConfig", context, run)

    async def GetMeta(
        self, request: pb.GetMetaRequest | Undecodable, context: grpc.aio.ServicerContext
    ) -> pb.GetMetaResponse:
        async def run(info: dict[str, Any]) -> pb.GetMetaResponse:
            unwrap(request)
            return meta(self.app)

        return await observe(log, "GetMeta", context, run)
