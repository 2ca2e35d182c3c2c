"""The checks of a bulk job's target, made before any work.

- `check_target(address, metadata, collection, config, images=...)`: the
  named collection exists on the server, or the inline config is valid
  (locally, then by the server); for a folder of images, an inline target
  must be a multimodal model. Raises `TargetError` saying what is wrong, or
  that the server cannot be reached.
- `text_only_target(config)`: why an inline target (`--model`, `--config`)
  cannot embed images, or "" when it can. A named collection's model is not
  in GetMeta: the server refuses images for a text-only model per item with
  `MEDIA_NOT_SUPPORTED` before any AWS call, which `bulk` turns into an
  error for the whole job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import grpc

from vectorizer.client import VectorizerClient
from vectorizer.config import parse_config_json
from vectorizer.errors import ConfigError

MEDIA_NOT_SUPPORTED = "MEDIA_NOT_SUPPORTED"


class TargetError(Exception):
    """The job's target cannot be used (message says why)."""


def check_target(
    address: str,
    metadata: Sequence[tuple[str, str]],
    collection: str,
    config: Mapping[str, Any] | None,
    *,
    images: bool = False,
) -> None:
    """Unknown collection, bad config or no server: say so before any work."""
    try:
        with VectorizerClient(address, timeout=10.0, metadata=metadata) as client:
            if config is not None:
                try:
                    parse_config_json(dict(config))
                except ConfigError as exc:
                    raise TargetError(f"bad config: {exc.message}") from None
                errors = client.validate(config)
                if errors:
                    raise TargetError("bad config: " + "; ".join(errors))
                why = text_only_target(config) if images else ""
                if why:
                    raise TargetError(f"{why}; {multimodal_advice()}")
            else:
                meta = client.meta()
                if collection not in meta.collections:
                    known = ", ".join(meta.collections) or "none loaded"
                    raise TargetError(
                        f"the server has no collection {collection!r} (known: {known})"
                    )
    except grpc.RpcError as exc:
        code = exc.code()  # type: ignore[attr-defined]
        if code is grpc.StatusCode.UNAVAILABLE or code is grpc.StatusCode.DEADLINE_EXCEEDED:
            raise TargetError(f"cannot reach the vectorizer server at {address}") from None
        raise TargetError(f"the server refused the check: {code.name}: {exc.details()}") from None  # type: ignore[attr-defined]


def text_only_target(config: Mapping[str, Any]) -> str:
    """Why the inline target cannot embed images ('' when it can, or when
    the config is bad: the config check says why then)."""
    from vectorizer.backends.families import resolve_family
    from vectorizer.backends.families.image_limits import IMAGE_SPECS
    from vectorizer.errors import ConfigError

    if (config.get("service") or "bedrock") != "bedrock":
        return "SageMaker endpoints embed text only"
    try:
        codec = resolve_family(str(config.get("model") or ""), str(config.get("family") or ""))
    except ConfigError:
        return ""
    if codec.spec.name in IMAGE_SPECS:
        return ""
    return f"{config.get('model')} ({codec.spec.name}) embeds text only"


def multimodal_advice() -> str:
    from vectorizer.backends.families.image_limits import IMAGE_SPECS

    return (
        "a folder of images needs a multimodal model (families: "
        f"{', '.join(IMAGE_SPECS)}), e.g. --model amazon.titan-embed-image-v1"
    )
