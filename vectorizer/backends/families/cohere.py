"""Cohere Embed v3 (english, multilingual) and v4 on Bedrock: up to 96 texts per call.

- `COHERE_V3`, `COHERE_V4`: the family facts.
- `CohereCodec`: `{"texts": [..], "input_type": .., "truncate": ..,
  "embedding_types": ["float"]}` (v4 adds `output_dimension`) ->
  `{"embeddings": {"float": [[..], ..]}, "response_type": "embeddings_by_type"}`
  or, without embedding types, `{"embeddings": [[..], ..]}`; both are parsed.

Purpose: documents are `search_document`, queries `search_query`. Truncation
is the model's own: v3 spells it NONE/START/END, v4 NONE/LEFT/RIGHT.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vectorizer.backends.families.base import (
    CodecBase,
    FamilySpec,
    ParsedResponse,
    check_texts,
    effective_truncate,
    expect_object,
    float_vectors,
    input_type_for,
    token_count,
)
from vectorizer.types import EmbedOptions, Purpose, Truncate

_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")

COHERE_V3 = FamilySpec(
    name="cohere-v3",
    model_ids=("cohere.embed-english-v3", "cohere.embed-multilingual-v3"),
    dimensions=(),
    default_dimensions=1024,
    max_batch_size=96,
    max_chars=2_048,  # Bedrock rejects longer texts ("expected maxLength: 2048")
    max_tokens=512,
    supports_purpose=True,
    native_normalize=False,
    native_truncate=(Truncate.START, Truncate.END),
    default_truncate=Truncate.NONE,
    input_types=_INPUT_TYPES,
    document_input_type="search_document",
    query_input_type="search_query",
)

COHERE_V4 = FamilySpec(
    name="cohere-v4",
    model_ids=("cohere.embed-v4:0",),
    dimensions=(256, 512, 1024, 1536),
    default_dimensions=1536,
    max_batch_size=96,
    max_chars=None,
    max_tokens=128_000,
    supports_purpose=True,
    native_normalize=False,
    native_truncate=(Truncate.START, Truncate.END),
    default_truncate=Truncate.NONE,
    input_types=_INPUT_TYPES,
    document_input_type="search_document",
    query_input_type="search_query",
)

_V3_TRUNCATE = {Truncate.NONE: "NONE", Truncate.START: "START", Truncate.END: "END"}
# v4 names the side that is dropped: START (drop the start) is LEFT.
_V4_TRUNCATE = {Truncate.NONE: "NONE", Truncate.START: "LEFT", Truncate.END: "RIGHT"}


class CohereCodec(CodecBase):
    def __init__(self, spec: FamilySpec, truncate_values: Mapping[Truncate, str], *, v4: bool):
        super().__init__(spec)
        self._truncate = truncate_values
        self._v4 = v4

    def build_request(
        self, texts: Sequence[str], purpose: Purpose, options: EmbedOptions
    ) -> dict[str, Any]:
        check_texts(self.spec, texts)
        body: dict[str, Any] = {
            "texts": list(texts),
            "input_type": input_type_for(self.spec, purpose, options),
            "truncate": self._truncate[effective_truncate(self.spec, options.truncate)],
            # Asked for explicitly so both versions answer in the same by-type shape.
            "embedding_types": ["float"],
        }
        if self._v4:
            body["output_dimension"] = self.dimensions_for(options)
        return body

    def parse_response(self, body: Any, count: int) -> ParsedResponse:
        what = self.spec.name
        obj = expect_object(body, what)
        embeddings = obj.get("embeddings")
        if isinstance(embeddings, dict):
            if "float" not in embeddings:
                kinds = sorted(embeddings)
                raise ValueError(f"{what}: 'embeddings' has no 'float' entry (found {kinds})")
            embeddings = embeddings["float"]
        elif embeddings is None:
            raise ValueError(f"{what}: response has no 'embeddings'")
        vectors = float_vectors(embeddings, count, f"{what} 'embeddings'")
        return ParsedResponse(vectors=vectors, input_tokens=_billed_tokens(obj))


def _billed_tokens(obj: dict[str, Any]) -> int | None:
    meta = obj.get("meta")
    units = meta.get("billed_units") if isinstance(meta, dict) else None
    return token_count(units.get("input_tokens")) if isinstance(units, dict) else None


def cohere_v3_codec() -> CohereCodec:
    return CohereCodec(COHERE_V3, _V3_TRUNCATE, v4=False)


def cohere_v4_codec() -> CohereCodec:
    return CohereCodec(COHERE_V4, _V4_TRUNCATE, v4=True)
