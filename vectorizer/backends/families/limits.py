"""Per-text length policy: fit one text to a family's limit before it is sent.

- `char_limit(spec, policy)`: the longest text (in characters) the sidecar
  lets through for a family under a truncate policy.
- `fit_text(text, spec, truncate)`: the text to send, cut if the policy says
  so, or an item error when the policy is NONE and the text is too long.

How the character limit is chosen:

1. Where AWS documents and enforces a character cap (Titan Text 50,000,
   Cohere v3 2,048 per text), that cap is the limit under every policy: the
   API rejects longer text even when the model could truncate tokens itself.
2. Otherwise only a token limit is known, and characters are a proxy for
   tokens. `CHARS_PER_TOKEN` = 4 is the usual average for English under the
   BPE / SentencePiece tokenizers these models use. No character bound is
   exact (code and CJK text run denser than 1 token per 4 characters), so:
   - where the model truncates natively for the policy (Cohere START/END,
     Nova START/END, Marengo END), the text passes unchanged and the model
     cuts at its exact token boundary; only text past
     `PASS_THROUGH_CHARS_PER_TOKEN` characters per token is cut first, since
     no tokenizer packs that much into one token, so the model would drop it
     anyway and it only bloats the request;
   - otherwise the sidecar cuts to `max_tokens * CHARS_PER_TOKEN`, and codecs
     still ask the model for its own truncation where one exists (Marengo
     START is sent as "end"), so a residue over the token limit is trimmed
     rather than failed;
   - under NONE, text over the proxy is an item error (so one long text
     cannot fail a whole Cohere batch); text under it that still exceeds the
     model's token limit gets the model's own validation error.
"""

from __future__ import annotations

import sys

from vectorizer.backends.families.base import FamilySpec, effective_truncate
from vectorizer.types import ItemError, Truncate

CHARS_PER_TOKEN = 4
PASS_THROUGH_CHARS_PER_TOKEN = 16

TEXT_TOO_LONG = "TEXT_TOO_LONG"


def char_limit(spec: FamilySpec, policy: Truncate) -> int:
    if spec.max_chars is not None:
        return spec.max_chars
    if spec.max_tokens is None:
        return sys.maxsize
    if policy is not Truncate.NONE and policy in spec.native_truncate:
        return spec.max_tokens * PASS_THROUGH_CHARS_PER_TOKEN
    return spec.max_tokens * CHARS_PER_TOKEN


def fit_text(
    text: str, spec: FamilySpec, truncate: Truncate | None
) -> tuple[str, ItemError | None]:
    """The text to send for `spec`. With an error, the text is returned unchanged.

    START keeps the end of the text, END keeps the start; cuts fall on code
    point boundaries, so a non-empty text never becomes empty.
    """
    policy = effective_truncate(spec, truncate)
    limit = char_limit(spec, policy)
    if len(text) <= limit:
        return text, None
    if policy is Truncate.NONE:
        return text, ItemError(
            code=TEXT_TOO_LONG,
            message=(
                f"text is {len(text)} characters, over the {limit}-character limit of "
                f"{spec.name} ({_limit_reason(spec)}); set truncate to START or END to "
                "have it cut, or send shorter text"
            ),
            retryable=False,
        )
    if policy is Truncate.END:
        return text[:limit], None
    return text[len(text) - limit :], None


def _limit_reason(spec: FamilySpec) -> str:
    if spec.max_chars is not None:
        return f"the model accepts at most {spec.max_chars} characters"
    return (
        f"the model accepts {spec.max_tokens} tokens, counted here as "
        f"{CHARS_PER_TOKEN} characters per token"
    )
