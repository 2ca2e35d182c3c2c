"""Objects with images: Weaviate multi2vec-aws rules for VectorizeObjects.

When a config names `textFields` or `imageFields`, an object's vector is not
the vector of one built text: each field value is embedded on its own and
the vectors are combined, as Weaviate's multi2vec-aws computes them
(modules/multi2vec-aws/vectorizer/vectorizer.go and
usecases/vectorizer/combine.go):

1. properties are visited in sorted name order; a string property listed in
   `imageFields` is an image (base64, or a data URL), one listed in
   `textFields` a text; a list of strings in `textFields` gives one text per
   element. All texts come first, then all images.
2. weights are `weights.textFields` then `weights.imageFields`, scaled to sum
   to 1; without weights every vector counts 1.
3. the vector is the weighted sum divided by the number of vectors (the
   mean when unweighted). It is not L2-normalised (Weaviate does not either).

Weights apply by position, as in Weaviate: the i-th vector gets the i-th
weight, so list the fields in sorted name order for the weights to follow
the names. An object with more vectors than weights (a text[] property, or a
field without a weight) is refused with an item error: Weaviate itself
fails on it (index out of range).

Parts: `object_parts(properties, config)` (the items of one object, or its
error), `combine(vectors, config)`, and `assemble(...)`: one result per
object from the results of all objects' items embedded in one engine call
(an object fails with its first failed item).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from vectorizer.config import ResolvedConfig
from vectorizer.inputs import Item
from vectorizer.media import decode_image_string, image_from_bytes
from vectorizer.types import ItemError, ItemResult
from vectorizer.vectors import Vector

BLANK_MULTI = ItemError(
    "BLANK_TEXT",
    "object has no value in any of its textFields or imageFields: nothing to embed",
    False,
)


def object_parts(
    properties: Mapping[str, Any], config: ResolvedConfig
) -> tuple[list[Item], ItemError | None]:
    texts: list[Item] = []
    images: list[Item] = []
    for name in sorted(properties):
        value = properties[name]
        if isinstance(value, str):
            if name in config.image_fields:
                image, error = _image(name, value)
                if error is not None:
                    return [], error
                images.append(image)
            if name in config.text_fields:
                texts.append(value)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            if name in config.text_fields:
                texts.extend(value)
    parts = texts + images
    if not parts:
        return [], BLANK_MULTI
    weights = config.text_weights + config.image_weights
    if weights and len(parts) > len(weights):
        return [], ItemError(
            "WEIGHTS_MISMATCH",
            f"object gives {len(parts)} vectors ({len(texts)} text, {len(images)} image) but "
            f"the config has {len(weights)} weights; weights apply by position, as in Weaviate: "
            "give every text and image field a weight, and no text[] field",
            False,
        )
    return parts, None


def _image(name: str, value: str) -> tuple[Item, ItemError | None]:
    try:
        data, mime = decode_image_string(value)
    except ValueError as exc:
        return "", ItemError("IMAGE_INVALID", f"property {name!r}: {exc}", False)
    image, error = image_from_bytes(data, mime)
    if error is not None or image is None:
        assert error is not None
        return "", ItemError(error.code, f"property {name!r}: {error.message}", error.retryable)
    return image, None


def combine(vectors: Sequence[Sequence[float] | Vector], config: ResolvedConfig) -> Vector:
    stack = np.asarray(vectors, dtype=np.float64)
    weights = np.asarray(config.text_weights + config.image_weights, dtype=np.float64)
    if weights.size:
        weights = (weights / weights.sum())[: len(stack)]
        stack = stack * weights[:, None]
    return (stack.sum(axis=0) / len(stack)).astype(np.float32)


def assemble(
    parts: Sequence[Sequence[Item]],
    refused: Mapping[int, ItemError],
    results: Sequence[ItemResult],
    config: ResolvedConfig,
) -> list[ItemResult]:
    """Per object: its refusal, else its first item error, else its combined vector.

    `results` holds one result per item of `parts`, flattened in order.
    """
    out: list[ItemResult] = []
    position = 0
    for index, items in enumerate(parts):
        own = results[position : position + len(items)]
        position += len(items)
        error = refused.get(index) or next((r.error for r in own if r.error is not None), None)
        if error is not None:
            out.append(ItemResult.fail(error))
        else:
            out.append(
                ItemResult.ok(combine([r.vector for r in own if r.vector is not None], config))
            )
    return out
