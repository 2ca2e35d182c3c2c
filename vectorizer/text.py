"""Object -> text to embed, by Weaviate text2vec-aws rules (VectorizeObjects).

Parts:
- `PropertySettings`, `TextSettings`: the per-collection inputs (frozen).
- `camel_case_split`: splits a class or property name into words.
- `build_text`: the one text to embed for one object.
- `is_blank`: whether a built text is blank (the caller turns it into an item error).
- `check_vectorizable`: the schema check behind text2vec-aws's "invalid properties" error.

Compatibility target, checked against Weaviate's Go source:

- Text building follows `ObjectVectorizer.TextsWithTitleProperty`
  (usecases/modulecomponents/vectorizer, Weaviate 1.27 and later), which
  text2vec-aws has used since it moved onto the shared module components:
  class name first when `vectorizeClassName` is on; then properties in
  ascending key order (Go `sort.Strings`: byte order of UTF-8, which is code
  point order, i.e. Python's `sorted`); with a non-empty `properties` list
  only the listed ones count and `skip` is not consulted, otherwise
  `skip: true` drops a property; string values and each string of an array,
  in order; a value is lower-cased first, then, with `vectorizePropertyName`,
  prefixed by the split property name; when nothing was collected the split
  class name is used; parts are joined with one space.
- Lower-casing: Weaviate before 1.27 always lower-cased; 1.27+ lower-cases
  only with `LOWERCASE_VECTORIZATION_INPUT=true`. `TextSettings.lowercase`
  picks; it defaults to on (our proto contract). Lower-casing is Go's
  `strings.ToLower` (simple case mapping, no final-sigma rule), not Python's
  `str.lower`, so `İ` becomes `i` and a word-final `Σ` becomes `σ`.
- Name splitting is github.com/fatih/camelcase v1.0.0 (the version Weaviate
  pins): characters fall into lower / upper / digit / other runs, and an
  upper run followed by a lower run hands its last letter over
  (`HTTPServer` -> `HTTP Server`, `bookV2` -> `book V 2`, `GL11Version` ->
  `GL 11 Version`, `book_title` -> `book _ title`). Weaviate then drops parts
  that are exactly one space and joins the rest with one space.
- Values are taken as Weaviate sees them after schema parsing: a string, or
  the strings of a list (other items ignored). Everything else (numbers,
  booleans, null, objects, nested lists) is ignored. Where the schema names a
  type whose values Weaviate parses into non-strings (date, uuid, int, ...),
  the property contributes nothing even though JSON carries it as a string.
  `blob` stays text: Weaviate keeps it as a (base64) string.
- Empty strings are kept as empty parts, exactly as Weaviate does, so they
  can leave a stray space; an object whose only value is "" builds "" (no
  class-name fallback) and `is_blank` reports it.

Deliberate differences from the newest Weaviate (2025 source): there, a
non-empty `properties` list also renders numbers, booleans, dates and objects
and turns the class-name fallback off; we keep the text-only rules our proto
contract documents.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# Data types whose values are strings after Weaviate parses an object.
TEXT_DATA_TYPES = frozenset({"text", "text[]", "string", "string[]"})
_STRING_VALUED_DATA_TYPES = TEXT_DATA_TYPES | {"blob"}

# text2vec-aws's wording (modules/text2vec-aws/vectorizer/class_settings.go).
INVALID_PROPERTIES_MESSAGE = (
    "invalid properties: didn't find a single property which is "
    "of type string or text and is not excluded from indexing. In addition the "
    "class name is excluded from vectorization as well, meaning that it cannot be "
    "used to determine the vector position. To fix this, set 'vectorizeClassName' "
    "to true if the class name is contextionary-valid. Alternatively add at least "
    "contextionary-valid text/string property which is not excluded from "
    "indexing"
)


@dataclass(frozen=True)
class PropertySettings:
    """text2vec-aws per-property module settings plus what the schema says."""

    skip: bool = False
    vectorize_property_name: bool = False
    # Weaviate data type ("text", "text[]", "int", ...); "" means unknown.
    data_type: str = ""
    # False when the schema excludes the property from indexing.
    indexed: bool | None = None


_DEFAULT_PROPERTY = PropertySettings()


@dataclass(frozen=True)
class TextSettings:
    """Everything about a collection that shapes an object's text."""

    class_name: str
    vectorize_class_name: bool = False
    # When non-empty, only these properties are vectorized.
    properties: tuple[str, ...] = ()
    # Stored as a read-only copy; left out of the hash since a mapping
    # proxy is unhashable (equality still compares it).
    property_settings: Mapping[str, PropertySettings] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    lowercase: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "properties", tuple(self.properties))
        # Copy, so later changes to the caller's dict cannot reach us.
        frozen = MappingProxyType(dict(self.property_settings))
        object.__setattr__(self, "property_settings", frozen)

    def settings_for(self, name: str) -> PropertySettings:
        return self.property_settings.get(name, _DEFAULT_PROPERTY)

    def is_source(self, name: str) -> bool:
        """Whether a property's values go into the text (Weaviate's PropertyIndexed)."""
        if self.properties:
            return name in self.properties
        return not self.settings_for(name).skip


def camel_case_split(name: str) -> list[str]:
    """Split a name into words as fatih/camelcase v1.0.0 `Split` does.

    Returns the raw pieces (case kept, "other" runs such as spaces or
    underscores kept as their own pieces); "" gives [].
    """
    if not _is_valid_utf8(name):
        return [name]  # Go leaves invalid UTF-8 unsplit
    runs: list[list[str]] = []
    last_class = -1
    for ch in name:
        cls = _char_class(ch)
        if cls == last_class:
            runs[-1].append(ch)
        else:
            runs.append([ch])
        last_class = cls
    # "PDFL" + "oader" -> "PDF" + "Loader": the last capital starts the word.
    for i in range(len(runs) - 1):
        if _char_class(runs[i][0]) == _UPPER and _char_class(runs[i + 1][0]) == _LOWER:
            runs[i + 1].insert(0, runs[i].pop())
    return ["".join(run) for run in runs if run]


def build_text(properties: Mapping[str, Any], settings: TextSettings) -> str:
    """The text text2vec-aws would embed for an object with these properties."""
    lowercase = settings.lowercase
    parts: list[str] = []
    if settings.vectorize_class_name:
        parts.append(_name_words(settings.class_name, lowercase))
    for name in sorted(properties):
        if not settings.is_source(name):
            continue
        prop = settings.settings_for(name)
        if prop.data_type and prop.data_type not in _STRING_VALUED_DATA_TYPES:
            continue  # Weaviate holds these as typed values, never as strings
        values = _string_values(properties[name])
        if not values:
            continue
        prefix = _name_words(name, lowercase) + " " if prop.vectorize_property_name else ""
        for value in values:
            parts.append(prefix + (go_lower(value) if lowercase else value))
    if not parts:
        parts.append(_name_words(settings.class_name, lowercase))
    return " ".join(parts)


def is_blank(text: str) -> bool:
    """True when there is nothing to embed: empty or only whitespace."""
    return not text.strip()


def check_vectorizable(settings: TextSettings) -> list[str]:
    """Errors when no object of this schema could yield property text.

    Passes when the class name is vectorized, or when at least one property
    in `property_settings` has a text type ("" counts as text), is a source
    property (see `TextSettings.is_source`) and is not excluded from indexing
    (`indexed is False`). An empty schema fails, as in Weaviate; call this
    only when the caller supplied a schema.
    """
    if settings.vectorize_class_name:
        return []
    for name, prop in settings.property_settings.items():
        if prop.data_type and prop.data_type not in TEXT_DATA_TYPES:
            continue
        if prop.indexed is False:
            continue
        if settings.is_source(name):
            return []
    return [INVALID_PROPERTIES_MESSAGE]


def go_lower(text: str) -> str:
    """Go's `strings.ToLower`: per-character simple lower-case mapping.

    Python's `str.lower` differs in exactly two places: U+0130 maps to two
    characters, and a word-final capital sigma becomes final sigma.
    """
    if text.isascii():
        return text.lower()
    return text.translate(_GO_LOWER_FIXUPS).lower()


_GO_LOWER_FIXUPS = {0x0130: "i", 0x03A3: "\u03c3"}

_LOWER, _UPPER, _DIGIT, _OTHER = range(4)
_CLASS_BY_CATEGORY = {"Ll": _LOWER, "Lu": _UPPER, "Nd": _DIGIT}


def _char_class(ch: str) -> int:
    # Go's unicode.IsLower / IsUpper / IsDigit are exactly Ll / Lu / Nd.
    return _CLASS_BY_CATEGORY.get(unicodedata.category(ch), _OTHER)


def _is_valid_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _name_words(name: str, lowercase: bool) -> str:
    """Weaviate's separateCamelCase: split words joined by one space."""
    out: list[str] = []
    for i, part in enumerate(camel_case_split(name)):
        if part == " ":
            continue
        # Go writes the separator by index, so a skipped leading " " still
        # leaves one before the next word; keep that quirk.
        if i > 0:
            out.append(" ")
        out.append(go_lower(part) if lowercase else part)
    return "".join(out)


def _string_values(value: Any) -> Sequence[str]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        # Also covers protobuf ListValue, which registers as a Sequence.
        return [item for item in value if isinstance(item, str)]
    return ()
