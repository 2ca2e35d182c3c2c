"""Per-text length policy: cut or refuse over-long text per family and policy."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorizer.backends.families import FAMILIES
from vectorizer.backends.families.base import effective_truncate
from vectorizer.backends.families.limits import (
    CHARS_PER_TOKEN,
    PASS_THROUGH_CHARS_PER_TOKEN,
    char_limit,
    fit_text,
)
from vectorizer.types import Truncate

SPECS = [c.spec for c in FAMILIES.values()]
POLICIES = [None, Truncate.NONE, Truncate.START, Truncate.END]


def spec(name):
    return FAMILIES[name].spec


@pytest.mark.parametrize(
    "family,policy,limit",
    [
        ("titan-text-v1", Truncate.NONE, 50_000),
        ("titan-text-v2", Truncate.END, 50_000),
        ("titan-multimodal-g1", Truncate.END, 256 * CHARS_PER_TOKEN),
        ("cohere-v3", Truncate.START, 2_048),  # a hard API cap, even when native
        ("cohere-v3", Truncate.NONE, 2_048),
        ("cohere-v4", Truncate.NONE, 128_000 * CHARS_PER_TOKEN),
        ("cohere-v4", Truncate.END, 128_000 * PASS_THROUGH_CHARS_PER_TOKEN),
        ("nova-multimodal", Truncate.START, 8_192 * PASS_THROUGH_CHARS_PER_TOKEN),
        ("nova-multimodal", Truncate.NONE, 8_192 * CHARS_PER_TOKEN),
        ("marengo-2.7", Truncate.NONE, 77 * CHARS_PER_TOKEN),
        ("marengo-2.7", Truncate.START, 77 * CHARS_PER_TOKEN),  # sidecar cuts
        ("marengo-2.7", Truncate.END, 77 * PASS_THROUGH_CHARS_PER_TOKEN),  # model cuts
    ],
)
def test_char_limits(family, policy, limit):
    assert char_limit(spec(family), policy) == limit


def test_default_policies():
    assert effective_truncate(spec("marengo-2.7"), None) is Truncate.END
    assert effective_truncate(spec("nova-multimodal"), None) is Truncate.END
    assert effective_truncate(spec("titan-text-v2"), None) is Truncate.NONE
    assert effective_truncate(spec("cohere-v3"), None) is Truncate.NONE
    assert effective_truncate(spec("cohere-v3"), Truncate.END) is Truncate.END


def test_none_over_limit_is_a_clear_item_error():
    text = "x" * 50_001
    out, error = fit_text(text, spec("titan-text-v2"), None)
    assert out == text
    assert error is not None and error.code == "TEXT_TOO_LONG" and not error.retryable
    assert "50001" in error.message and "50000" in error.message
    assert "titan-text-v2" in error.message
    assert "set truncate to START or END" in error.message


def test_end_keeps_start_and_start_keeps_end():
    text = "a" * 2_000 + "b" * 100
    kept, _ = fit_text(text, spec("cohere-v3"), Truncate.END)
    assert kept == text[:2_048]
    kept, _ = fit_text(text, spec("cohere-v3"), Truncate.START)
    assert kept == text[-2_048:] and kept.endswith("b" * 100)


def test_native_policy_passes_text_unchanged():
    text = "word " * 200  # 1000 characters: over Marengo's proxy, under the pass-through cap
    assert fit_text(text, spec("marengo-2.7"), Truncate.END) == (text, None)
    kept, error = fit_text(text, spec("marengo-2.7"), Truncate.START)
    assert error is None and kept == text[-77 * CHARS_PER_TOKEN :]
    _, error = fit_text(text, spec("marengo-2.7"), Truncate.NONE)
    assert error is not None and "77 tokens" in error.message


def test_cuts_on_code_points():
    text = "é😀" * 3_000
    kept, _ = fit_text(text, spec("cohere-v3"), Truncate.END)
    assert len(kept) == 2_048 and kept == text[:2_048]
    kept.encode("utf-8")  # no split surrogates


small_texts = st.text(max_size=400)


@settings(max_examples=300)
@given(st.sampled_from(SPECS), st.sampled_from(POLICIES), small_texts, st.integers(0, 3))
def test_fit_text_properties(family_spec, truncate, text, repeat_pow):
    # Repeat to reach past the larger limits without huge generated strings.
    text = text * (10**repeat_pow)
    policy = effective_truncate(family_spec, truncate)
    limit = char_limit(family_spec, policy)
    out, error = fit_text(text, family_spec, truncate)
    if policy is Truncate.NONE:
        assert (error is not None) == (len(text) > limit)
        assert out == text
        return
    assert error is None
    assert len(out) <= limit
    if text:
        assert out
    if len(text) <= limit:
        assert out == text
    elif policy is Truncate.END:
        assert text.startswith(out)
    else:
        assert text.endswith(out)
