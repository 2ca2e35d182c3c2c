"""Bedrock model family codecs and the registry that picks one per model id.

`resolve_family(model_id, family_override)` returns the codec for a model;
`FAMILIES` lists every codec (for GetMeta and validation messages).
"""

from __future__ import annotations

from vectorizer.backends.families.base import FamilyCodec, FamilySpec
from vectorizer.backends.families.titan import TITAN_V1, TITAN_V2, TitanTextCodec

FAMILIES: dict[str, FamilyCodec] = {
    TITAN_V1.name: TitanTextCodec(TITAN_V1),
    TITAN_V2.name: TitanTextCodec(TITAN_V2),
}


def base_model_id(model: str) -> str:
    """The base model id inside an id, profile id or ARN ('' when none)."""
    name = model.rsplit("/", 1)[-1] if model.startswith("arn:") else model
    if model.startswith("arn:") and ":application-inference-profile/" in model:
        return ""
    # Strip a geography prefix of an inference profile ("us.", "global." ...).
    parts = name.split(".")
    if len(parts) > 2 and parts[0].islower() and parts[0].replace("-", "").isalpha():
        name = ".".join(parts[1:])
    return name


def family_for_model(model: str) -> FamilyCodec | None:
    base = base_model_id(model)
    for codec in FAMILIES.values():
        for mid in codec.spec.model_ids:
            if base == mid or base.startswith(mid + ":"):
                return codec
    return None


def resolve_family(model: str, family: str = "") -> FamilyCodec | None:
    """The codec for `model`, or for an explicit `family` name."""
    if family:
        return FAMILIES.get(family)
    return family_for_model(model)


__all__ = ["FAMILIES", "FamilyCodec", "FamilySpec", "resolve_family", "family_for_model"]
