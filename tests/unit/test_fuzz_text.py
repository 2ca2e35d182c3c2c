"""Fuzz `build_text` with hostile objects: surrogates, NUL, deep nesting, odd schemas.

It must always return a string, and every string value of a property that
counts must reach the text.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vectorizer.text import PropertySettings, TextSettings, build_text

# Every code point, lone surrogates and NUL included: a caller's Struct can hold them.
any_text = st.text(alphabet=st.characters(codec=None, min_codepoint=0), max_size=40)
leaves = st.one_of(
    st.none(), st.booleans(), st.floats(allow_nan=True), st.integers(), any_text, st.binary()
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=3)
    ),
    max_leaves=15,
)
prop_settings = st.builds(
    PropertySettings,
    skip=st.booleans(),
    vectorize_property_name=st.booleans(),
    data_type=st.sampled_from(["", "text", "text[]", "string", "blob", "int", "uuid", "date", "?"]),
    indexed=st.one_of(st.none(), st.booleans()),
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(
    props=st.dictionaries(any_text, values, max_size=6),
    class_name=any_text,
    vectorize_class_name=st.booleans(),
    listed=st.lists(any_text, max_size=3),
    per_prop=st.dictionaries(any_text, prop_settings, max_size=4),
    lowercase=st.booleans(),
)
def test_build_text_always_returns_a_string(
    props: dict,
    class_name: str,
    vectorize_class_name: bool,
    listed: list[str],
    per_prop: dict,
    lowercase: bool,
) -> None:
    settings_ = TextSettings(
        class_name=class_name,
        vectorize_class_name=vectorize_class_name,
        properties=tuple(listed),
        property_settings=per_prop,
        lowercase=lowercase,
    )
    assert isinstance(build_text(props, settings_), str)


@FUZZ
@given(props=st.dictionaries(any_text, st.one_of(any_text, st.lists(any_text, max_size=3))))
def test_every_plain_text_value_reaches_the_text(props: dict) -> None:
    text = build_text(props, TextSettings(class_name="Thing", lowercase=False))
    for value in props.values():
        for item in [value] if isinstance(value, str) else value:
            assert item in text
