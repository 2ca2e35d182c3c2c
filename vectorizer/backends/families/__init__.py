"""Bedrock model family codecs and the registry that picks one per model id.

- `FAMILIES`: every codec by family name (for GetMeta and messages).
- `resolve_family(model, family)`: the codec for a model id, profile id or
  ARN, or for an explicit `family`; `ConfigError` with the fix otherwise.
- `family_for_model(model)`: the same lookup without errors (None).
- `known_model_ids()`: every base id we recognise, in registry order.
- `legacy_notice(spec)`: for a family AWS marks Legacy, what to move to and
  by when ('' for an active family).
- Re-exported helpers the engine uses: `fit_text`, `needs_client_normalize`,
  `l2_normalize`.
"""

from __future__ import annotations

from vectorizer.backends import modelid
from vectorizer.backends.families.base import FamilyCodec, FamilySpec, ParsedResponse
from vectorizer.backends.families.cohere import cohere_v3_codec, cohere_v4_codec
from vectorizer.backends.families.limits import char_limit, fit_text
from vectorizer.backends.families.marengo import Marengo3Codec, MarengoCodec
from vectorizer.backends.families.normalize import l2_normalize, needs_client_normalize
from vectorizer.backends.families.nova import NovaCodec
from vectorizer.backends.families.titan import TITAN_V1, TITAN_V2, TitanTextCodec
from vectorizer.backends.families.titan_multimodal import TitanMultimodalCodec
from vectorizer.errors import ConfigError

_CODECS: list[FamilyCodec] = [
    TitanTextCodec(TITAN_V1),
    TitanTextCodec(TITAN_V2),
    TitanMultimodalCodec(),
    cohere_v3_codec(),
    cohere_v4_codec(),
    NovaCodec(),
    Marengo3Codec(),
    MarengoCodec(),
]

FAMILIES: dict[str, FamilyCodec] = {codec.spec.name: codec for codec in _CODECS}

# Kinds of id that point at an account resource, not at a model.
_NAMES_NO_MODEL = {
    modelid.ARN_APPLICATION_PROFILE: "an application inference profile ARN",
    modelid.ARN_PROVISIONED: "a provisioned model ARN",
    modelid.ARN_CUSTOM: "a custom model ARN",
    modelid.ARN_IMPORTED: "an imported model ARN",
    modelid.ARN_OTHER: "an ARN that names no base model",
}


def known_model_ids() -> list[str]:
    return [mid for codec in _CODECS for mid in codec.spec.model_ids]


def legacy_notice(spec: FamilySpec) -> str:
    if not spec.legacy:
        return ""
    successor = FAMILIES.get(spec.successor)
    ids = f" ({' '.join(successor.spec.model_ids)})" if successor else ""
    return (
        f"{spec.name} is Legacy on Amazon Bedrock, end of life {spec.end_of_life}: move to "
        f"{spec.successor}{ids} and re-embed every object (the two models' vectors are "
        "not compatible)"
    )


def _family_list() -> str:
    return f"[{' '.join(FAMILIES)}]"


def _model_name(model_id: str) -> str:
    # Version suffixes ("v1:2:8k", "v2:0") name variants of the same model.
    return model_id.split(":", 1)[0]


def base_model_id(model: str) -> str:
    """The base model id inside an id, profile id or ARN ('' when none)."""
    return modelid.parse_model_id(model).base_id


def family_for_base_id(base_id: str) -> FamilyCodec | None:
    name = _model_name(base_id)
    if not name:
        return None
    for codec in _CODECS:
        if any(_model_name(mid) == name for mid in codec.spec.model_ids):
            return codec
    return None


def family_for_model(model: str) -> FamilyCodec | None:
    return family_for_base_id(base_model_id(model))


def resolve_family(model: str, family: str = "") -> FamilyCodec:
    """The codec for `model`, or for an explicit `family` name.

    An explicit family serves ids that name no model (application inference
    profiles, provisioned, custom and imported models) and newer models that
    share a known request format; it must agree with a model id we recognise.
    """
    ref = modelid.parse_model_id(model)
    named = family_for_base_id(ref.base_id)
    if family:
        codec = FAMILIES.get(family.strip())
        if codec is None:
            raise ConfigError([f"unknown family {family!r}, known families are: {_family_list()}"])
        if named is not None and named is not codec:
            raise ConfigError(
                [
                    f"family {codec.spec.name} does not match model {model}, which is "
                    f"{named.spec.name}; remove family or set it to {named.spec.name}"
                ]
            )
        return codec
    if named is not None:
        return named
    if not ref.base_id and ref.kind in _NAMES_NO_MODEL:
        raise ConfigError(
            [
                f"model {model} is {_NAMES_NO_MODEL[ref.kind]}, which does not say which "
                f"model it runs: set family to one of: {_family_list()}"
            ]
        )
    raise ConfigError(
        [
            f"wrong model, available models are: [{' '.join(known_model_ids())}] "
            f"(for another Bedrock model with one of these request formats, set family "
            f"to one of: {_family_list()})"
        ]
    )


__all__ = [
    "FAMILIES",
    "FamilyCodec",
    "FamilySpec",
    "ParsedResponse",
    "base_model_id",
    "char_limit",
    "family_for_base_id",
    "family_for_model",
    "fit_text",
    "known_model_ids",
    "l2_normalize",
    "legacy_notice",
    "needs_client_normalize",
    "resolve_family",
]
