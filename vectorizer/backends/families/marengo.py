"""TwelveLabs Marengo Embed 2.7 and 3.0, text input only: one text per call.

- `MARENGO_27`: 77 tokens, 1024 dims; InvokeModel works only through an
  inference profile such as `us.twelvelabs...`. Legacy on Bedrock (end of
  life 2026-11-30 on AWS's model card): kept working, flagged in GetMeta.
- `MARENGO_30`: 500 tokens, 512 dims; base id or inference profile.
- `MarengoCodec` (2.7): `{"inputType": "text", "inputText": s,
  "textTruncate": "end"|"none"}`.
- `Marengo3Codec` (3.0): `{"inputType": "text", "text": {"inputText": s}}`,
  no truncation setting (AWS's model-parameters-marengo-3 page).

Both answer `{"data": {"embedding": [..]}}` for one text (the 3.0 page's
shape; a list of such objects is used when a call yields several vectors),
also seen as `{"data": [{"embedding": [..]}]}` or `{"embedding": [..]}`: all
three are accepted.

2.7 truncates only at the end. START is applied by the sidecar
(`limits.fit_text` keeps the end of the text) and sent as "end", so any
residue the character proxy let through is trimmed, not failed. 3.0 has no
truncation option, so START and END are applied by the sidecar alone.
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
    one_vector,
)
from vectorizer.types import EmbedOptions, Purpose, Truncate

MARENGO_30 = FamilySpec(
    name="marengo-3.0",
    model_ids=("twelvelabs.marengo-embed-3-0-v1:0",),
    dimensions=(),
    default_dimensions=512,
    max_batch_size=1,
    max_chars=None,
    max_tokens=500,
    supports_purpose=False,
    native_normalize=False,
    native_truncate=(),
    default_truncate=Truncate.NONE,
)

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
    end_of_life="2026-11-30",
    successor=MARENGO_30.name,
)

_TRUNCATE = {Truncate.NONE: "none", Truncate.END: "end", Truncate.START: "end"}


class _MarengoParsing(CodecBase):
    def parse_response(self, body: Any, count: int) -> ParsedResponse:
        what = self.spec.name
        expect_one(count, what)
        obj = expect_object(body, what)
        if "data" in obj:
            data = obj["data"]
            # One text gives one object; a list of one is the same answer.
            if isinstance(data, dict):
                data = [data]
            if not isinstance(data, list) or len(data) != 1:
                got = len(data) if isinstance(data, list) else type(data).__name__
                raise ValueError(f"{what}: expected 'data' to hold one entry, got {got}")
            obj = expect_object(data[0], f"{what} 'data' entry")
        if "embedding" not in obj:
            raise ValueError(f"{what}: response has no 'embedding'")
        try:
            vec = one_vector(obj["embedding"])
        except ValueError as exc:
            raise ValueError(f"{what}: 'embedding': {exc}") from None
        return ParsedResponse(vectors=vec)


class MarengoCodec(_MarengoParsing):
    """Marengo Embed 2.7: the flat request with `textTruncate`."""

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


class Marengo3Codec(_MarengoParsing):
    """Marengo Embed 3.0: the input nested under its type, nothing else."""

    def __init__(self, spec: FamilySpec = MARENGO_30):
        super().__init__(spec)

    def build_request(
        self, texts: Sequence[str], purpose: Purpose, options: EmbedOptions
    ) -> dict[str, Any]:
        check_texts(self.spec, texts)
        return {"inputType": "text", "text": {"inputText": texts[0]}}
