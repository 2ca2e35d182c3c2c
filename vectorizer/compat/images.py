"""What the compat protocols that carry images share.

- `decode_images(values, param)`: base64 strings or data URLs -> checked
  `ImageInput`s; a value that is not a complete image of an accepted format
  is a 400 naming its index and the problem.
- `embed_items(request, items, purpose, cfg, overrides)`: `common.embed_texts`
  for a mix of texts and images: the same limits (image bytes count against
  --max-request-bytes), one engine call, the first failed item failing the
  request (these APIs have no per-item error), image errors as 400.
- `with_images(texts, cfg, param)`: the OpenAI route's hook: `data:image/`
  URLs become images when the collection's model takes images.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from vectorizer.backends.families import resolve_family
from vectorizer.backends.families.image_limits import IMAGE_SPECS
from vectorizer.compat.common import Embedded, Overrides, embed_texts
from vectorizer.compat.parsing import CompatError
from vectorizer.config import resolve
from vectorizer.errors import ConfigError
from vectorizer.inputs import Item
from vectorizer.media import ImageInput, decode_image_string, image_from_bytes
from vectorizer.types import Purpose
from vectorizer.v1 import vectorizer_pb2 as pb

DATA_IMAGE = "data:image/"


def decode_image(value: object, where: str, param: str) -> ImageInput:
    if not isinstance(value, str):
        raise CompatError(400, f"{where} must be a base64 string or a data URL", param=param)
    try:
        data, mime = decode_image_string(value)
    except ValueError as exc:
        raise CompatError(400, f"{where}: {exc}", param=param, code="invalid_image") from None
    image, error = image_from_bytes(data, mime)
    if error is not None or image is None:
        message = error.message if error else "not an image"
        raise CompatError(400, f"{where}: {message}", param=param, code="invalid_image")
    return image


def decode_images(values: Sequence[object], param: str) -> list[ImageInput]:
    return [decode_image(v, f"{param}[{i}]", param) for i, v in enumerate(values)]


async def embed_items(
    request: web.Request,
    items: Sequence[Item],
    purpose: Purpose,
    cfg: pb.CollectionConfig,
    overrides: Overrides | None = None,
) -> Embedded:
    """Every item's vector, or a request failure naming the first failed item
    (image limits and unsupported media are the caller's input: 400)."""
    return await embed_texts(request, items, purpose, cfg, overrides or Overrides())


def takes_images(cfg: pb.CollectionConfig) -> bool:
    """Whether the collection's model embeds images (a Bedrock multimodal family)."""
    config = resolve(cfg)
    if config.service != "bedrock":
        return False
    try:
        family = resolve_family(config.model, config.family)
    except ConfigError:
        return False
    return family.spec.name in IMAGE_SPECS


def with_images(texts: Sequence[str], cfg: pb.CollectionConfig, param: str) -> list[Item] | None:
    """`texts` with each `data:image/...` URL decoded to an image, when the
    collection's model takes images; None when there is none to decode (or the
    model takes text only, where such a string stays text, as before)."""
    if not any(t.startswith(DATA_IMAGE) for t in texts) or not takes_images(cfg):
        return None
    return [
        decode_image(t, f"{param}[{i}]", param) if t.startswith(DATA_IMAGE) else t
        for i, t in enumerate(texts)
    ]
