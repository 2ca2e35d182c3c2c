"""What the compat protocols that carry images share.

- `decode_images(values, param)`: base64 strings or data URLs -> checked
  `ImageInput`s; a value that is not a complete image of an accepted format
  is a 400 naming its index and the problem.
- `embed_items(request, items, purpose, cfg, overrides)`: `embed_texts` for
  a mix of texts and images: the same limits (image bytes count against
  --max-request-bytes), one engine call, the first failed item failing the
  request (these APIs have no per-item error), image errors as 400.
- `with_images(texts, cfg, param)`: the OpenAI route's hook: `data:image/`
  URLs become images when the collection's model takes images.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from aiohttp import web

from vectorizer.backends.families import resolve_family
from vectorizer.backends.families.image_limits import IMAGE_SPECS
from vectorizer.compat.common import (
    CompatError,
    Embedded,
    Overrides,
    app_of,
    call_info,
    item_failure,
    request_credentials,
    utf8_sizes,
    with_overrides,
)
from vectorizer.config import resolve
from vectorizer.errors import ConfigError
from vectorizer.inputs import Item, describe, item_bytes
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


def _check(items: Sequence[Item], max_items: int, max_bytes: int, max_text: int) -> None:
    if not items:
        raise CompatError(400, "no input: send at least one text or image", param="input")
    if len(items) > max_items:
        raise CompatError(
            400, f"{len(items)} inputs exceed the limit of {max_items}; split the request"
        )
    texts = [i for i in items if isinstance(i, str)]
    for index, size in enumerate(utf8_sizes(texts)):
        if size > max_text:
            raise CompatError(
                400,
                f"text {index} is {size} bytes of UTF-8, over the limit of {max_text} per text "
                "(--max-text-bytes); shorten or split it",
                code="text_too_large",
            )
    total = sum(item_bytes(i) for i in items)
    if total > max_bytes:
        raise CompatError(
            400,
            f"request holds {total} bytes of text and images, over the limit of {max_bytes}; "
            "split the request",
        )


async def embed_items(
    request: web.Request,
    items: Sequence[Item],
    purpose: Purpose,
    cfg: pb.CollectionConfig,
    overrides: Overrides | None = None,
) -> Embedded:
    app = app_of(request)
    info = call_info(request)
    info["items"] = len(items)
    limits = app.settings
    _check(items, limits.max_items, limits.max_request_bytes, limits.max_text_bytes)
    if limits.log_inputs:
        # Opt-in only (--log-inputs); images by hash and size, never content.
        info["inputs"] = [describe(i) for i in items]
    config = resolve(with_overrides(cfg, overrides or Overrides()))
    prepared = app.engine.prepare(config)
    info["model"] = app.engine.label(prepared)
    credentials = await request_credentials(request, app)
    deadline = time.monotonic() + limits.default_deadline
    outcome = await app.engine.embed(prepared, list(items), purpose, credentials, deadline)
    failed = [(i, r.error) for i, r in enumerate(outcome.results) if r.error is not None]
    if failed:
        index, error = failed[0]
        failure = item_failure(index, error, len(failed))
        if failure.status == 500 and not error.retryable:
            # Image limits and unsupported media: the caller's input, not ours.
            failure.status = 400
        raise failure
    vectors = [r.vector for r in outcome.results if r.vector is not None]
    return Embedded(vectors, outcome.model, outcome.dimensions, outcome.input_tokens)


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
