"""Amazon Titan Text Embeddings v1 and v2: one text per call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vectorizer.backends.families.base import (
    FamilySpec,
    ParsedResponse,
    check_dimensions,
    float_vector,
)
from vectorizer.types import EmbedOptions, Purpose, Truncate

TITAN_V1 = FamilySpec(
    name="titan-text-v1",
    model_ids=("amazon.titan-embed-text-v1",),
    dimensions=(),
    default_dimensions=1536,
    max_batch_size=1,
    max_chars=50_000,
    max_tokens=8_192,
    supports_purpose=False,
    native_normalize=False,
    native_truncate=(),
    default_truncate=Truncate.NONE,
)

TITAN_V2 = FamilySpec(
    name="titan-text-v2",
    model_ids=("amazon.titan-embed-text-v2",),
    dimensions=(256, 512, 1024),
    default_dimensions=1024,
    max_batch_size=1,
    max_chars=50_000,
    max_tokens=8_192,
    supports_purpose=False,
    native_normalize=True,
    native_truncate=(),
    default_truncate=Truncate.NONE,
)


class TitanTextCodec:
    def __init__(self, spec: FamilySpec):
        self.spec = spec

    def validate(self, options: EmbedOptions) -> list[str]:
        return check_dimensions(self.spec, options)

    def dimensions_for(self, options: EmbedOptions) -> int:
        return options.dimensions or self.spec.default_dimensions

    def build_request(
        self, texts: Sequence[str], purpose: Purpose, options: EmbedOptions
    ) -> dict[str, Any]:
        (text,) = texts
        body: dict[str, Any] = {"inputText": text}
        if self.spec is TITAN_V2:
            if options.dimensions is not None:
                body["dimensions"] = options.dimensions
            if options.normalize is not None:
                body["normalize"] = options.normalize
        return body

    def parse_response(self, body: Any, count: int) -> ParsedResponse:
        if count != 1 or not isinstance(body, dict):
            raise ValueError("expected one JSON object for one text")
        vector = body.get("embedding")
        if vector is None:
            vector = (body.get("embeddingsByType") or {}).get("float")
        tokens = body.get("inputTextTokenCount")
        return ParsedResponse(
            vectors=[float_vector(vector)],
            input_tokens=tokens if isinstance(tokens, int) else None,
        )
