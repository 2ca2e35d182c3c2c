"""Bedrock model identifiers: what a `model` string names, without any I/O.

- `ModelRef`: the parts of one identifier (kind, base model id, geography
  prefix of a cross-region inference profile, ARN partition and region).
- `parse_model_id`: any accepted `modelId` form -> `ModelRef`.

Accepted forms (all usable as InvokeModel's `modelId`):
- base ids, with optional version suffixes: `amazon.titan-embed-text-v1:2:8k`;
- inference profile ids: a lower-case geography before a known provider,
  `us.cohere.embed-v4:0`, `us-gov.`, `apac.`, `global.` ... (new geographies
  keep working: any lower-case prefix qualifies if a known provider follows);
- ARNs in any `aws*` partition for foundation models, inference profiles,
  application inference profiles, provisioned, custom and imported models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

# Providers whose model ids appear on Bedrock. Used only to tell a geography
# prefix ("us.cohere...") from a provider ("cohere.embed..."), so the list may
# hold providers we have no codec for.
KNOWN_PROVIDERS = frozenset(
    {
        "amazon",
        "cohere",
        "twelvelabs",
        "anthropic",
        "meta",
        "mistral",
        "ai21",
        "stability",
        "deepseek",
        "writer",
        "openai",
        "qwen",
        "google",
        "minimax",
        "moonshot",
        "nvidia",
        "luma",
    }
)

BASE = "base"
PROFILE = "profile"
ARN_FOUNDATION = "arn-foundation"
ARN_INFERENCE_PROFILE = "arn-inference-profile"
ARN_APPLICATION_PROFILE = "arn-application-profile"
ARN_PROVISIONED = "arn-provisioned"
ARN_CUSTOM = "arn-custom"
ARN_IMPORTED = "arn-imported"
ARN_OTHER = "arn-other"

# ARN resource type -> kind. Only the first two name a base model; the rest
# point at account resources whose model the id does not reveal.
_ARN_KINDS = {
    "foundation-model": ARN_FOUNDATION,
    "inference-profile": ARN_INFERENCE_PROFILE,
    "application-inference-profile": ARN_APPLICATION_PROFILE,
    "provisioned-model": ARN_PROVISIONED,
    "custom-model": ARN_CUSTOM,
    "imported-model": ARN_IMPORTED,
}

_GEO = re.compile(r"^[a-z][a-z0-9-]*$")
_PARTITION = re.compile(r"^aws(-[a-z]+)*$")


@dataclass(frozen=True)
class ModelRef:
    """One parsed model identifier. `base_id` is '' when the id names no model."""

    raw: str
    kind: str
    base_id: str = ""
    geo_prefix: str = ""
    region: str = ""
    partition: str = ""
    account: str = ""
    resource: str = ""  # the ARN part after "{type}/", as written

    @property
    def names_model(self) -> bool:
        return bool(self.base_id)


def split_profile(model: str) -> tuple[str, str]:
    """(geography, base id) of an inference profile id; ('', model) otherwise."""
    head, sep, rest = model.partition(".")
    if not sep or not _GEO.match(head) or head in KNOWN_PROVIDERS:
        return "", model
    provider = rest.partition(".")[0]
    if provider in KNOWN_PROVIDERS:
        return head, rest
    return "", model


def parse_model_id(model: str) -> ModelRef:
    """What `model` names. Never raises: unknown shapes become `arn-other` or a
    `base` id that no family will recognise."""
    model = model.strip()
    if model.startswith("arn:"):
        return _parse_arn(model)
    geo, base = split_profile(model)
    return ModelRef(raw=model, kind=PROFILE if geo else BASE, base_id=base, geo_prefix=geo)


def _parse_arn(model: str) -> ModelRef:
    # arn:{partition}:{service}:{region}:{account}:{type}/{id}; the id itself
    # may hold ":" (version suffixes), so split only the first five times.
    parts = model.split(":", 5)
    if len(parts) != 6 or not _PARTITION.match(parts[1]):
        return ModelRef(raw=model, kind=ARN_OTHER)
    _, partition, service, region, account, resource = parts
    rtype, _, rid = resource.partition("/")
    kind = _ARN_KINDS.get(rtype, ARN_OTHER) if service == "bedrock" else ARN_OTHER
    ref = ModelRef(
        raw=model,
        kind=kind,
        region=region,
        partition=partition,
        account=account,
        resource=rid,
    )
    if kind == ARN_FOUNDATION and rid:
        return replace(ref, base_id=rid)
    if kind == ARN_INFERENCE_PROFILE and rid:
        geo, base = split_profile(rid)
        return replace(ref, base_id=base, geo_prefix=geo)
    return ref


__all__ = ["KNOWN_PROVIDERS", "ModelRef", "parse_model_id", "split_profile"]
