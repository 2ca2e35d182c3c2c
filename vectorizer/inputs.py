"""Request items: texts and `vectorizer.v1.Input`s -> engine items.

- `items_from_request(texts, inputs)`: one item per text, then one per
  input, in order; an input that cannot be embedded (empty, both or neither
  image source, an image that is not one) gets an item error instead, so the
  other items still go ahead.
- `item_bytes(item)`: what an item weighs against --max-request-bytes.
- `describe(item)`: how an item appears in logs (never image bytes).
"""

from __future__ import annotations

from collections.abc import Sequence

from vectorizer.media import ImageInput, image_from_bytes, image_from_s3
from vectorizer.types import ItemError
from vectorizer.v1 import vectorizer_pb2 as pb

Item = str | ImageInput

EMPTY_INPUT = ItemError(
    "BLANK_TEXT", "input holds neither text nor an image: nothing to embed", False
)


def _bad_source(message: str) -> ItemError:
    return ItemError("IMAGE_INVALID", message, False)


def image_item(image: pb.Image, text: str = "") -> tuple[ImageInput | None, ItemError | None]:
    if image.data and image.s3_uri:
        return None, _bad_source("image has both data and s3_uri: set exactly one")
    if image.s3_uri:
        return image_from_s3(
            image.s3_uri,
            image.mime_type,
            bucket_owner=image.bucket_owner,
            detail=image.detail,
            text=text,
        )
    if not image.data:
        return None, _bad_source("image has neither data nor s3_uri: set exactly one")
    return image_from_bytes(image.data, image.mime_type, detail=image.detail, text=text)


def items_from_request(
    texts: Sequence[str], inputs: Sequence[pb.Input]
) -> tuple[list[Item], dict[int, ItemError]]:
    """Items in result order (texts, then inputs) and the ones refused up front.

    A refused item's place holds an empty text, never sent anywhere.
    """
    items: list[Item] = list(texts)
    refused: dict[int, ItemError] = {}
    for offset, entry in enumerate(inputs):
        index = len(texts) + offset
        if not entry.HasField("image"):
            if not entry.text:
                refused[index] = EMPTY_INPUT
            items.append(entry.text)
            continue
        image, error = image_item(entry.image, entry.text)
        if error is not None or image is None:
            refused[index] = error or EMPTY_INPUT
            items.append("")
        else:
            items.append(image)
    return items, refused


def item_bytes(item: Item) -> int:
    if isinstance(item, ImageInput):
        return item.size + len(item.text.encode("utf-8", "surrogatepass"))
    return len(item.encode("utf-8", "surrogatepass"))


def describe(item: Item) -> str:
    if isinstance(item, ImageInput):
        where = item.s3_uri or f"{item.size} bytes"
        return f"<image {item.format or '?'} {where} sha256:{item.digest[:16]}>" + (
            f" + {item.text!r}" if item.text else ""
        )
    return item
