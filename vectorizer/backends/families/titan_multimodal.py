"""Amazon Titan Multimodal Embeddings G1, text input only: one text per call.

- `TITAN_MM_G1`: the family facts (256 text tokens; 1024, 384 or 256 dims).
- `TitanMultimodalCodec`: `{"inputText": s, "embeddingConfig":
  {"outputEmbeddingLength": d}}` -> `{"embedding": [..],
  "inputTextTokenCount": n, "message": null}`.
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

TITAN_MM_G1 = FamilySpec(
    name="titan-multimodal-g1",
    model_ids=("amazon.titan-embed-image-v1",),
    dimensions=(256, 384, 1024),
    default_dimensions=1024,
    max_batch_size=1,
    max_chars=None,
    max_tokens=256,
    supports_purpose=False,
    native_normalize=False,
    native_truncate=(),
    default_truncate=Truncate.NONE,
)


class TitanMultimodalCodec(CodecBase):
    def __init__(self, spec: FamilySpec = TITAN_MM_G1):
        super().__init__(spec)

    def build_request(
        self, texts: Sequence[str], purpose: Purpose, options: EmbedOptions
    ) -> dict[str, Any]:
        check_texts(self.spec, texts)
        return {
            "inputText": texts[0],
            "embeddingConfig": {"outputEmbeddingLength": self.dimensions_for(options)},
        }

    def parse_response(self, body: Any, count: int) -> ParsedResponse:
        what = self.spec.name
        expect_one(count, what)
        obj = expect_object(body, what)
        vector = obj.get("embedding")
        if vector is None:
            # The model reports generation problems in "message".
            detail = obj.get("message")
            raise ValueError(
                f"{what}: response has no 'embedding'" + (f": {detail}" if detail else "")
            )
        try:
            vec = one_vector(vector)
        except ValueError as exc:
            raise ValueError(f"{what}: 'embedding': {exc}") from None
        return ParsedResponse(vectors=vec, input_tokens=token_count(obj.get("inputTextTokenCount")))
