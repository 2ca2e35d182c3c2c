"""Amazon Nova Multimodal Embeddings, text input only: one text per call.

- `NOVA_MM`: the family facts (8K tokens; 3072, 1024, 384 or 256 dims).
- `NovaCodec`: `{"schemaVersion": "nova-multimodal-embed-v1", "taskType":
  "SINGLE_EMBEDDING", "singleEmbeddingParams": {"embeddingPurpose": P,
  "embeddingDimension": d, "text": {"truncationMode": T, "value": s}}}` ->
  `{"embeddings": [{"embeddingType": "TEXT", "embedding": [..]}]}`.

Purpose: documents are GENERIC_INDEX, queries GENERIC_RETRIEVAL (right for
an index that may hold more than text; configure TEXT_RETRIEVAL for a
text-only index).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vectorizer.backends.families.base import (
    CodecBase,
    FamilySpec,
    ParsedResponse,
    check_texts,
    effective_truncate,
    expect_object,
    expect_one,
    input_type_for,
    one_vector,
)
from vectorizer.types import EmbedOptions, Purpose, Truncate

SCHEMA_VERSION = "nova-multimodal-embed-v1"

NOVA_MM = FamilySpec(
    name="nova-multimodal",
    model_ids=("amazon.nova-2-multimodal-embeddings-v1:0",),
    dimensions=(256, 384, 1024, 3072),
    default_dimensions=3072,
    max_batch_size=1,
    max_chars=None,
    max_tokens=8_192,
    supports_purpose=True,
    native_normalize=False,
    native_truncate=(Truncate.START, Truncate.END),
    default_truncate=Truncate.END,
    input_types=(
        "GENERIC_INDEX",
        "GENERIC_RETRIEVAL",
        "TEXT_RETRIEVAL",
        "IMAGE_RETRIEVAL",
        "VIDEO_RETRIEVAL",
        "DOCUMENT_RETRIEVAL",
        "AUDIO_RETRIEVAL",
        "CLASSIFICATION",
        "CLUSTERING",
    ),
    document_input_type="GENERIC_INDEX",
    query_input_type="GENERIC_RETRIEVAL",
)


class NovaCodec(CodecBase):
    def __init__(self, spec: FamilySpec = NOVA_MM):
        super().__init__(spec)

    def build_request(
        self, texts: Sequence[str], purpose: Purpose, options: EmbedOptions
    ) -> dict[str, Any]:
        check_texts(self.spec, texts)
        # Truncate member names are the wire values: START, END, NONE.
        mode = effective_truncate(self.spec, options.truncate).value
        return {
            "schemaVersion": SCHEMA_VERSION,
            "taskType": "SINGLE_EMBEDDING",
            "singleEmbeddingParams": {
                "embeddingPurpose": input_type_for(self.spec, purpose, options),
                "embeddingDimension": self.dimensions_for(options),
                "text": {"truncationMode": mode, "value": texts[0]},
            },
        }

    def parse_response(self, body: Any, count: int) -> ParsedResponse:
        what = self.spec.name
        expect_one(count, what)
        obj = expect_object(body, what)
        entries = obj.get("embeddings")
        if not isinstance(entries, list) or len(entries) != 1:
            got = len(entries) if isinstance(entries, list) else type(entries).__name__
            raise ValueError(f"{what}: expected 'embeddings' to hold one entry, got {got}")
        entry = entries[0]
        if not isinstance(entry, dict) or "embedding" not in entry:
            raise ValueError(f"{what}: 'embeddings' entry has no 'embedding'")
        kind = entry.get("embeddingType", "TEXT")
        if kind != "TEXT":
            raise ValueError(f"{what}: expected a TEXT embedding, got {kind!r}")
        try:
            vec = one_vector(entry["embedding"])
        except ValueError as exc:
            raise ValueError(f"{what}: 'embedding': {exc}") from None
        return ParsedResponse(vectors=vec)
