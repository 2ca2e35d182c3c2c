"""vectorizer.text: Weaviate text2vec-aws text building, golden cases and properties."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorizer.text import (
    INVALID_PROPERTIES_MESSAGE,
    PropertySettings,
    TextSettings,
    build_text,
    camel_case_split,
    check_vectorizable,
    go_lower,
    is_blank,
)


def ts(class_name: str = "Article", **kwargs) -> TextSettings:
    return TextSettings(class_name=class_name, **kwargs)


# --- camel_case_split: fatih/camelcase v1.0.0 examples plus our edge cases ---


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("", []),
        ("lowercase", ["lowercase"]),
        ("Class", ["Class"]),
        ("MyClass", ["My", "Class"]),
        ("MyC", ["My", "C"]),
        ("HTML", ["HTML"]),
        ("PDFLoader", ["PDF", "Loader"]),
        ("AString", ["A", "String"]),
        ("SimpleXMLParser", ["Simple", "XML", "Parser"]),
        ("vimRPCPlugin", ["vim", "RPC", "Plugin"]),
        ("GL11Version", ["GL", "11", "Version"]),
        ("99Bottles", ["99", "Bottles"]),
        ("May5", ["May", "5"]),
        ("BFG9000", ["BFG", "9000"]),
        ("BöseÜberraschung", ["Böse", "Überraschung"]),
        ("Two  spaces", ["Two", "  ", "spaces"]),
        ("HTTPServer", ["HTTP", "Server"]),
        ("bookV2", ["book", "V", "2"]),
        ("book_title", ["book", "_", "title"]),
        ("192nd", ["192", "nd"]),  # v1.0.0 has no digit+lower merge
        ("bad\udc80Name", ["bad\udc80Name"]),  # invalid UTF-8 is not split
    ],
)
def test_camel_case_split(name: str, words: list[str]) -> None:
    assert camel_case_split(name) == words


def test_go_lower_uses_simple_case_mapping() -> None:
    assert go_lower("İSTANBUL") == "istanbul"  # Python: "i̇stanbul"
    assert go_lower("ΟΔΟΣ") == "οδοσ"  # Python: final sigma "οδος"
    assert go_lower("Straße ÄÖÜ") == "straße äöü"


# --- build_text golden cases, one per rule ---


def test_class_name_off_uses_only_properties() -> None:
    assert build_text({"title": "Dune"}, ts("BookReview")) == "dune"


def test_class_name_on_comes_first_camel_split() -> None:
    settings = ts("BookReview", vectorize_class_name=True)
    assert build_text({"title": "Dune"}, settings) == "book review dune"


def test_class_name_acronym_and_digits() -> None:
    settings = ts("HTTPServerV2", vectorize_class_name=True)
    assert build_text({}, settings) == "http server v 2"


def test_properties_in_sorted_key_order() -> None:
    props = {"zeta": "Z", "alpha": "A", "Beta": "B", "beta": "b2", "_x": "U"}
    # Byte order: uppercase before "_" before lowercase.
    assert build_text(props, ts()) == "b u a b2 z"


def test_properties_filter_keeps_only_listed_and_ignores_skip() -> None:
    settings = ts(
        properties=("body",),
        property_settings={"body": PropertySettings(skip=True)},
    )
    assert build_text({"title": "T", "body": "B"}, settings) == "b"


def test_skip_leaves_property_out() -> None:
    settings = ts(property_settings={"secret": PropertySettings(skip=True)})
    assert build_text({"secret": "S", "title": "T"}, settings) == "t"


def test_vectorize_property_name_prefixes_split_name() -> None:
    settings = ts(property_settings={"bookTitle": PropertySettings(vectorize_property_name=True)})
    assert build_text({"bookTitle": "Dune"}, settings) == "book title dune"


def test_vectorize_property_name_prefixes_each_array_item() -> None:
    settings = ts(property_settings={"tagList": PropertySettings(vectorize_property_name=True)})
    assert build_text({"tagList": ["A", "B"]}, settings) == "tag list a tag list b"


def test_text_arrays_item_by_item_in_order() -> None:
    props = {"tags": ["Sci-Fi", "Classic"], "title": "Dune"}
    assert build_text(props, ts()) == "sci-fi classic dune"


def test_non_text_values_ignored() -> None:
    props = {
        "a": 1,
        "b": 2.5,
        "c": True,
        "d": None,
        "e": {"nested": "no"},
        "f": [1, 2],
        "g": [["no"]],
        "h": ["yes", 3, None, {"x": "no"}],
    }
    assert build_text(props, ts()) == "yes"


def test_known_non_text_schema_type_ignored_even_if_string() -> None:
    settings = ts(
        property_settings={
            "published": PropertySettings(data_type="date"),
            "ref": PropertySettings(data_type="uuid"),
            "image": PropertySettings(data_type="blob"),
        }
    )
    props = {"published": "2020-01-01T00:00:00Z", "ref": "abc", "image": "QUJD", "t": "x"}
    assert build_text(props, settings) == "qujd x"


def test_lowercase_off_keeps_case_everywhere() -> None:
    settings = ts(
        "BookReview",
        vectorize_class_name=True,
        lowercase=False,
        property_settings={"bookTitle": PropertySettings(vectorize_property_name=True)},
    )
    assert build_text({"bookTitle": "Dune"}, settings) == "Book Review book Title Dune"


def test_fallback_to_class_name_when_no_property_text() -> None:
    assert build_text({"n": 3}, ts("BookReview")) == "book review"
    assert build_text({}, ts("BookReview", lowercase=False)) == "Book Review"
    assert build_text({"tags": []}, ts("BookReview")) == "book review"


def test_fallback_also_when_every_text_property_is_skipped() -> None:
    settings = ts("BookReview", property_settings={"t": PropertySettings(skip=True)})
    assert build_text({"t": "x"}, settings) == "book review"


def test_empty_string_is_a_part_like_weaviate() -> None:
    # Weaviate appends "" as a part: no fallback, and a stray space.
    assert build_text({"a": ""}, ts("BookReview")) == ""
    assert build_text({"a": "", "b": "x"}, ts()) == " x"
    assert is_blank(build_text({"a": ""}, ts()))


def test_unicode_values_and_names() -> None:
    settings = ts(
        "ÜberKlasse",
        vectorize_class_name=True,
        property_settings={"straßeName": PropertySettings(vectorize_property_name=True)},
    )
    props = {"straßeName": "İSTİKLAL Caddesi", "emoji": "🙂 OK"}
    assert build_text(props, settings) == "über klasse 🙂 ok straße name istiklal caddesi"


def test_protobuf_struct_input() -> None:
    from google.protobuf import struct_pb2

    struct = struct_pb2.Struct()
    struct.update({"title": "Dune", "tags": ["A", 1, "B"], "year": 1965})
    assert build_text(struct, ts()) == "a b dune"


def test_is_blank() -> None:
    assert is_blank("")
    assert is_blank(" \t\n\u3000")
    assert not is_blank(" a ")


def test_settings_are_frozen_and_copied() -> None:
    source = {"t": PropertySettings(skip=True)}
    settings = ts(properties=["t"], property_settings=source)
    source["t"] = PropertySettings()
    assert settings.settings_for("t").skip
    assert settings.properties == ("t",)
    assert settings == ts(properties=("t",), property_settings={"t": PropertySettings(skip=True)})
    assert hash(settings) == hash(ts(properties=("t",)))
    with pytest.raises(TypeError):
        settings.property_settings["x"] = PropertySettings()  # type: ignore[index]


# --- check_vectorizable ---


def test_check_message_is_text2vec_aws_wording() -> None:
    assert INVALID_PROPERTIES_MESSAGE.startswith(
        "invalid properties: didn't find a single property which is of type string or text "
        "and is not excluded from indexing. In addition the class name is excluded"
    )
    assert INVALID_PROPERTIES_MESSAGE.endswith(
        "Alternatively add at least contextionary-valid text/string property which is not "
        "excluded from indexing"
    )


@pytest.mark.parametrize("data_type", ["text", "text[]", "string", "string[]", ""])
def test_check_passes_with_one_text_property(data_type: str) -> None:
    settings = ts(property_settings={"p": PropertySettings(data_type=data_type)})
    assert check_vectorizable(settings) == []


@pytest.mark.parametrize(
    "prop",
    [
        PropertySettings(data_type="int"),
        PropertySettings(data_type="blob"),
        PropertySettings(data_type="text", skip=True),
        PropertySettings(data_type="text", indexed=False),
    ],
)
def test_check_fails_without_usable_text_property(prop: PropertySettings) -> None:
    settings = ts(property_settings={"p": prop, "n": PropertySettings(data_type="number")})
    assert check_vectorizable(settings) == [INVALID_PROPERTIES_MESSAGE]


def test_check_empty_schema_fails_unless_class_name_vectorized() -> None:
    assert check_vectorizable(ts()) == [INVALID_PROPERTIES_MESSAGE]
    assert check_vectorizable(ts(vectorize_class_name=True)) == []


def test_check_class_name_rescues_unusable_properties() -> None:
    settings = ts(
        vectorize_class_name=True,
        property_settings={"p": PropertySettings(data_type="text", skip=True)},
    )
    assert check_vectorizable(settings) == []


def test_check_respects_properties_filter() -> None:
    schema = {"title": PropertySettings(data_type="text"), "n": PropertySettings(data_type="int")}
    assert check_vectorizable(ts(properties=("title",), property_settings=schema)) == []
    assert check_vectorizable(ts(properties=("n",), property_settings=schema)) == [
        INVALID_PROPERTIES_MESSAGE
    ]
    # A listed property overrides skip, as in Weaviate's PropertyIndexed.
    skipped = {"title": PropertySettings(data_type="text", skip=True)}
    assert check_vectorizable(ts(properties=("title",), property_settings=skipped)) == []


# --- property tests ---

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=6)

# Names Weaviate accepts: class /[A-Z][_0-9A-Za-z]*/, property /[_A-Za-z][_0-9A-Za-z]*/.
_NAME_TAIL = "_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
class_names = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    st.text(alphabet=_NAME_TAIL, max_size=12),
)
property_names = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from("_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    st.text(alphabet=_NAME_TAIL, max_size=12),
)
# A "clean" value: non-empty words joined by single spaces.
words = st.text(st.characters(blacklist_characters=" ", blacklist_categories=("Cs",)), min_size=1)
clean_values = st.lists(words, min_size=1, max_size=4).map(" ".join)
clean_objects = st.dictionaries(
    property_names,
    clean_values | st.lists(clean_values, max_size=3) | st.integers() | st.none(),
    max_size=6,
)


@st.composite
def text_settings(draw, names=property_names) -> TextSettings:
    prop_names = draw(st.lists(names, max_size=4))
    return TextSettings(
        class_name=draw(class_names),
        vectorize_class_name=draw(st.booleans()),
        properties=tuple(draw(st.lists(st.sampled_from(prop_names), max_size=2)))
        if prop_names
        else (),
        property_settings={
            name: PropertySettings(
                skip=draw(st.booleans()),
                vectorize_property_name=draw(st.booleans()),
                data_type=draw(st.sampled_from(["", "text", "text[]", "int", "date", "blob"])),
                indexed=draw(st.sampled_from([None, True, False])),
            )
            for name in prop_names
        },
        lowercase=draw(st.booleans()),
    )


@settings(max_examples=300, deadline=None)
@given(json_objects, text_settings(names=st.text(max_size=12)), st.text(max_size=12))
def test_never_raises_on_json_like_input(props, settings_, class_name) -> None:
    for text_settings_ in (settings_, TextSettings(class_name=class_name)):
        assert isinstance(build_text(props, text_settings_), str)
        assert isinstance(check_vectorizable(text_settings_), list)


@settings(max_examples=300, deadline=None)
@given(clean_objects, text_settings())
def test_clean_input_gives_no_stray_spaces(props, settings_) -> None:
    text = build_text(props, settings_)
    assert text == text.strip(" ")
    assert "  " not in text
    assert text  # the class-name fallback keeps it non-empty


@settings(max_examples=300, deadline=None)
@given(json_objects, text_settings())
def test_lowercase_result_is_lowercase(props, settings_) -> None:
    lowered = TextSettings(
        class_name=settings_.class_name,
        vectorize_class_name=settings_.vectorize_class_name,
        properties=settings_.properties,
        property_settings=settings_.property_settings,
        lowercase=True,
    )
    text = build_text(props, lowered)
    assert go_lower(text) == text
    assert text.lower() == text


@settings(max_examples=200, deadline=None)
@given(json_objects, text_settings(), st.randoms(use_true_random=False))
def test_insertion_order_does_not_matter(props, settings_, rnd: random.Random) -> None:
    items = list(props.items())
    rnd.shuffle(items)
    assert build_text(dict(items), settings_) == build_text(props, settings_)
