"""TwelveLabs Marengo Embed 2.7, text input only: one text per call.

- `MARENGO_27`: the family facts (77 tokens, 1024 dims; InvokeModel works
  only through an inference profile such as `us.twelvelabs...`).
- `MarengoCodec`: `{"inputType": "text", "inputText": s, "textTruncate":
  "end"|"none"}` -> `{"data": [{"embedding": [..]}]}` or
  `{"embedding": [..]}` (both accepted).

The model truncates only at the end. START is applied by the sidecar
(`limits.fit_text` keeps the end of the text) and sent as "end", so any
residue the character proxy let through is trimmed, not failed.
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
    float_vector,
)
from vectorizer.types import EmbedOptions, Purpose, Truncate

MARENGO_27 = FamilySpec(
    name="marengo-2.7",
    model_ids=("twelvelabs.marengo-embed-2-7-v1:0",),
    dimensions=(),
    default_dimensions=1024,
    max_batch_size=1,
    max_chars=None,
    max_tokens=77,
    supports_purpose=False,
    native_normalize=False,
    native_truncate=(Truncate.END,),
    default_truncate=Truncate.END,
    profile_only=True,
)

_TRUNCATE = {Truncate.NONE: "none", Truncate.END: "end", Truncate.START: "end"}


class MarengoCodec(CodecBase):
    def __init__(self, spec: FamilySpec = MARENGO_27):
        super().__init__(spec)

    def build_request(
        self, texts: Sequence[str], purpose: Purpose, options: EmbedOptions
    ) -> dict[str, Any]:
        check_texts(self.spec, texts)
        return {
            "inputType": "text",
            "inputText": texts[0],
            "textTruncate": _TRUNCATE[effective_truncate(self.spec, options.truncate)],
        }

    def parse_response(self, body: Any, count: int) -> ParsedResponse:
        what = self.spec.name
        expect_one(count, what)
        obj = expect_object(body, what)
        if "data" in obj:
            data = obj["data"]
            # One text gives one segment; a dict is the same answer unwrapped.
            if isinstance(data, dict):
                data = [data]
            if not isinstance(data, list) or len(data) != 1:
                got = len(data) if isinstance(data, list) else type(data).__name__
                raise ValueError(f"{what}: expected 'data' to hold one entry, got {got}")
            obj = expect_object(data[0], f"{what} 'data' entry")
        if "embedding" not in obj:
            raise ValueError(f"{what}: response has no 'embedding'")
        try:
            vec = float_vector(obj["embedding"])
        except ValueError as exc:
            raise ValueError(f"{what}: 'embedding': {exc}") from None
        return ParsedResponse(vectors=[vec])
