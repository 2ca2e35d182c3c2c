"""Bedrock Runtime InvokeModel backend: one family codec per model.

`BedrockBackend.prepare` picks the codec for the configured model (or the
explicit `family`) and validates the options against it; `embed` builds the
family's body, signs and sends it, and parses the family's answer. Images
go through the same call with the family's image body
(`families.image_bodies`), after `check_image` held them to the family's
limits (`families.image_limits`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from vectorizer.backends import modelid
from vectorizer.backends.base import Prepared
from vectorizer.backends.families import (
    FamilyCodec,
    base_model_id,
    needs_client_normalize,
    resolve_family,
)
from vectorizer.backends.families.image_bodies import build_image_request, parse_image_response
from vectorizer.backends.families.image_limits import IMAGE_SPECS, check_image, not_supported, pack
from vectorizer.backends.families.limits import fit_text
from vectorizer.config import ResolvedConfig
from vectorizer.errors import ConfigError, error_text, transport_error
from vectorizer.media import ImageInput
from vectorizer.transport import AwsCredentials, AwsTransport, endpoint_base, error_from_answer
from vectorizer.types import BatchResult, ItemError, Purpose
from vectorizer.vectors import decode_json


class BedrockBackend:
    service = "bedrock"

    def __init__(self, transport: AwsTransport, env: Mapping[str, str] | None = None):
        self._transport = transport
        self._env = env

    def prepare(self, config: ResolvedConfig) -> Prepared:
        codec: FamilyCodec = resolve_family(config.model, config.family)
        problems = _profile_problems(codec, config.model) + codec.validate(config.options)
        if problems:
            raise ConfigError(problems)
        base, _ = endpoint_base("bedrock", config.region, self._env)
        # botocore percent-encodes the model id in the path (':' and '/' too).
        url = f"{base}/model/{quote(config.model, safe='-._~')}/invoke"
        return Prepared(
            config=config,
            service=self.service,
            region=config.region,
            target=config.model,
            max_batch_size=codec.spec.max_batch_size,
            dimensions=codec.dimensions_for(config.options),
            client_normalize=needs_client_normalize(codec.spec, config.options),
            data=(codec, url),
            known_name=base_model_id(config.model),
        )

    def fit_text(self, prepared: Prepared, text: str) -> tuple[str, ItemError | None]:
        codec, _ = prepared.data
        return fit_text(text, codec.spec, prepared.config.options.truncate)

    def check_image(
        self, prepared: Prepared, image: ImageInput
    ) -> tuple[ImageInput, ItemError | None]:
        codec, _ = prepared.data
        spec = IMAGE_SPECS.get(codec.spec.name)
        if spec is None:
            return image, not_supported(codec.spec.name)
        error = check_image(codec.spec.name, spec, image)
        if error is None and image.text:
            # Joint text follows the text length policy of the model.
            fitted, error = fit_text(image.text, codec.spec, prepared.config.options.truncate)
            image = dataclasses.replace(image, text=fitted)
        return image, error

    def image_batches(self, prepared: Prepared, images: list[ImageInput]) -> list[list[ImageInput]]:
        codec, _ = prepared.data
        return pack(IMAGE_SPECS[codec.spec.name], images)

    async def embed(
        self,
        prepared: Prepared,
        texts: Sequence[str] | Sequence[ImageInput],
        purpose: Purpose,
        credentials: AwsCredentials,
        timeout: float,
    ) -> BatchResult:
        codec, url = prepared.data
        options = prepared.config.options
        images = [t for t in texts if isinstance(t, ImageInput)]
        if images:
            request = build_image_request(codec, images, purpose, options)
        else:
            request = codec.build_request(texts, purpose, options)
        body = encode_body(request)
        answer = await self._transport.post(
            service="bedrock",
            region=prepared.region,
            url=url,
            body=body,
            credentials=credentials,
            timeout=timeout,
            target=prepared.target,
        )
        if answer.status != 200:
            raise error_from_answer(answer, prepared.target)
        try:
            decoded = decode_json(answer.body)
            if images:
                parsed = parse_image_response(codec, decoded, len(texts))
            else:
                parsed = codec.parse_response(decoded, len(texts))
        except ValueError as exc:  # includes JSONDecodeError
            raise transport_error("bad_response", error_text(exc), target=prepared.target) from None
        tokens = parsed.input_tokens
        if tokens is None:
            header = answer.headers.get("X-Amzn-Bedrock-Input-Token-Count", "")
            tokens = int(header) if header.isdigit() else None
        return BatchResult(vectors=parsed.vectors, input_tokens=tokens)


def encode_body(body: Any) -> bytes:
    """The request body as JSON (orjson: UTF-8, compact)."""
    try:
        return orjson.dumps(body)
    except TypeError:
        # orjson refuses lone surrogates, which the standard encoder escapes.
        return json.dumps(body).encode()


def _profile_problems(codec: FamilyCodec, model: str) -> list[str]:
    """Models without on-demand throughput (Marengo 2.7) answer a plain id with a
    ValidationException for every call: say so before calling."""
    ref = modelid.parse_model_id(model)
    if not codec.spec.profile_only or ref.kind not in (modelid.BASE, modelid.ARN_FOUNDATION):
        return []
    return [
        f"model {model} can only be invoked through an inference profile: use "
        f"us.{ref.base_id} (or another geography's profile id, or its ARN)"
    ]
