"""Amazon Titan Text Embeddings v1 and v2: one text per call.

- `TITAN_V1`, `TITAN_V2`: the family facts.
- `TitanTextCodec`: `{"inputText": s}` (v2 adds `dimensions`, `normalize`)
  -> `{"embedding": [..], "inputTextTokenCount": n}`; v2 always adds
  `"embeddingsByType": {"float": [..]}`, the same vector again. `embedding`
  is read (AWS: "always type float"); `embeddingsByType.float` only when it
  is missing (a binary-only answer has no float vector at all).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vectorizer.backends.families.base import (
    CodecBase,
    FamilySpec,
    ParsedResponse,
    check_texts,
    expect_object,
    expect_one,
    one_vector,
    token_count,
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
    model_ids=("amazon.titan-embed-text-v2:0",),
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


class TitanTextCodec(CodecBase):
    def __init__(self, spec: FamilySpec):
        super().__init__(spec)
        # Only v2 takes options in the body; v1 rejects unknown fields.
        self._v2 = spec.name == TITAN_V2.name

    def build_request(
        self, texts: Sequence[str], purpose: Purpose, options: EmbedOptions
    ) -> dict[str, Any]:
        check_texts(self.spec, texts)
        body: dict[str, Any] = {"inputText": texts[0]}
        if self._v2:
            # Stated even at the default so the body says which vector it asks for.
            body["dimensions"] = self.dimensions_for(options)
            if options.normalize is not None:
                body["normalize"] = options.normalize
        return body

    def parse_response(self, body: Any, count: int) -> ParsedResponse:
        what = self.spec.name
        expect_one(count, what)
        obj = expect_object(body, what)
        vector = obj.get("embedding")
        if vector is None:
            by_type = obj.get("embeddingsByType")
            vector = by_type.get("float") if isinstance(by_type, dict) else None
        if vector is None:
            raise ValueError(f"{what}: response has no 'embedding'")
        try:
            vec = one_vector(vector)
        except ValueError as exc:
            raise ValueError(f"{what}: 'embedding': {exc}") from None
        return ParsedResponse(vectors=vec, input_tokens=token_count(obj.get("inputTextTokenCount")))
