"""The small interface every Bedrock model family implements.

- `FamilySpec`: a family's facts (ids, dimensions, limits, purpose support).
- `FamilyCodec`: builds the InvokeModel body for a batch of texts and parses
  the answer. Pure: no I/O, no clock, so each codec is unit-tested alone.
- `ParsedResponse`: vectors in input order plus token usage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from vectorizer.types import EmbedOptions, Purpose, Truncate


@dataclass(frozen=True)
class FamilySpec:
    name: str  # usable as CollectionConfig.family, e.g. "titan-text-v2"
    model_ids: tuple[str, ...]  # base ids, without version suffix variants
    dimensions: tuple[int, ...]  # allowed choices; empty: fixed default only
    default_dimensions: int
    max_batch_size: int  # texts per upstream call
    max_chars: int | None  # per-text character limit the sidecar enforces
    max_tokens: int | None  # per-text token limit (informative)
    supports_purpose: bool
    native_normalize: bool
    native_truncate: tuple[Truncate, ...]  # policies the model applies itself
    default_truncate: Truncate  # what the model does when none is configured

    @property
    def max_input(self) -> str:
        parts = []
        if self.max_tokens:
            parts.append(f"{self.max_tokens} tokens")
        if self.max_chars:
            parts.append(f"{self.max_chars} characters")
        return " or ".join(parts) or "unlimited"


@dataclass
class ParsedResponse:
    vectors: list[list[float]]
    input_tokens: int | None = None


class FamilyCodec(Protocol):
    spec: FamilySpec

    def validate(self, options: EmbedOptions) -> list[str]:
        """Problems with these options for this family (empty: fine)."""
        ...

    def build_request(
        self, texts: Sequence[str], purpose: Purpose, options: EmbedOptions
    ) -> dict[str, Any]:
        """The InvokeModel JSON body for `texts` (len <= max_batch_size)."""
        ...

    def parse_response(self, body: Any, count: int) -> ParsedResponse:
        """Vectors for `count` texts, in order. Raises ValueError on a bad shape."""
        ...

    def dimensions_for(self, options: EmbedOptions) -> int:
        """The vector length these options produce."""
        ...


def check_dimensions(spec: FamilySpec, options: EmbedOptions) -> list[str]:
    if options.dimensions is None or options.dimensions == spec.default_dimensions:
        return []
    if options.dimensions in spec.dimensions:
        return []
    allowed = list(spec.dimensions) or [spec.default_dimensions]
    return [
        f"dimensions {options.dimensions} not supported by {spec.name}, "
        f"allowed values are: {allowed}"
    ]


def float_vector(value: Any) -> list[float]:
    """A list of numbers as floats; ValueError for anything else."""
    if not isinstance(value, list) or not value:
        raise ValueError("expected a non-empty list of numbers")
    out = []
    for x in value:
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise ValueError("expected a list of numbers")
        out.append(float(x))
    return out
