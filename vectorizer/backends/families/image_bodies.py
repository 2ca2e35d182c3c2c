"""InvokeModel bodies for images, one builder per multimodal family.

- `build_image_request(family, images, purpose, options, spec)`: the body
  for one call's images (`image_limits.pack` made the call).
- `parse_image_response(family, codec, body, count)`: vectors in order;
  every family answers an image in its text shape except Nova, whose entry
  says `"embeddingType": "IMAGE"`.

Shapes (AWS model-parameter pages):
- Titan Multimodal G1: `{"inputImage": b64, "inputText"?: s,
  "embeddingConfig": {"outputEmbeddingLength": d}}`: with text, one vector
  of both.
- Nova: `singleEmbeddingParams.image = {"format", "detailLevel"?, "source":
  {"bytes": b64} | {"s3Location": {"uri", "bucketOwner"?}}}`, with the
  purpose as for text (GENERIC_INDEX documents, GENERIC_RETRIEVAL queries).
- Cohere v3: `{"input_type": "image", "images": [data URI]}` (one image).
- Cohere v4: `{"images": [data URI, ..]}` for images alone, `{"inputs":
  [{"content": [{"type": "text", ..}, {"type": "image_url", "image_url":
  data URI}]}]}` for text with an image; never `texts` and `images` together.
- Marengo 2.7: `{"inputType": "image", "mediaSource": {"base64String": b64}
  | {"s3Location": {"uri", "bucketOwner"}}}`.
- Marengo 3.0: `{"inputType": "image", "image": {"mediaSource": ..}}`, or
  `{"inputType": "text_image", "text_image": {"inputText", "mediaSource"}}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vectorizer.backends.families.base import (
    FamilyCodec,
    ParsedResponse,
    expect_object,
    expect_one,
    input_type_for,
    one_vector,
)
from vectorizer.backends.families.nova import SCHEMA_VERSION
from vectorizer.media import ImageInput
from vectorizer.types import EmbedOptions, Purpose


def _s3_location(image: ImageInput) -> dict[str, str]:
    loc = {"uri": image.s3_uri}
    if image.bucket_owner:
        loc["bucketOwner"] = image.bucket_owner
    return loc


def _media_source(image: ImageInput) -> dict[str, Any]:
    if image.s3_uri:
        return {"s3Location": _s3_location(image)}
    return {"base64String": image.base64()}


def _one(images: Sequence[ImageInput], family: str) -> ImageInput:
    if len(images) != 1:
        raise ValueError(f"{family} takes one image per call, got {len(images)}")
    return images[0]


def _titan(codec: FamilyCodec, images: Sequence[ImageInput], options: EmbedOptions) -> Any:
    image = _one(images, codec.spec.name)
    body: dict[str, Any] = {"inputImage": image.base64()}
    if image.text:
        body["inputText"] = image.text
    body["embeddingConfig"] = {"outputEmbeddingLength": codec.dimensions_for(options)}
    return body


def _nova(
    codec: FamilyCodec, images: Sequence[ImageInput], purpose: Purpose, options: EmbedOptions
) -> Any:
    image = _one(images, codec.spec.name)
    part: dict[str, Any] = {"format": image.format}
    if image.detail:
        part["detailLevel"] = image.detail
    if image.s3_uri:
        part["source"] = {"s3Location": _s3_location(image)}
    else:
        part["source"] = {"bytes": image.base64()}
    return {
        "schemaVersion": SCHEMA_VERSION,
        "taskType": "SINGLE_EMBEDDING",
        "singleEmbeddingParams": {
            "embeddingPurpose": input_type_for(codec.spec, purpose, options),
            "embeddingDimension": codec.dimensions_for(options),
            "image": part,
        },
    }


def _cohere(
    codec: FamilyCodec,
    images: Sequence[ImageInput],
    purpose: Purpose,
    options: EmbedOptions,
    v4: bool,
) -> Any:
    if not v4:
        # v3 embeds an image only under its own input type.
        image = _one(images, codec.spec.name)
        return {"input_type": "image", "images": [image.data_url()], "embedding_types": ["float"]}
    body: dict[str, Any] = {"input_type": input_type_for(codec.spec, purpose, options)}
    if any(i.text for i in images):
        if not all(i.text for i in images):
            raise ValueError("cohere-v4: one call holds images alone or images with text")
        body["inputs"] = [
            {
                "content": [
                    {"type": "text", "text": i.text},
                    {"type": "image_url", "image_url": i.data_url()},
                ]
            }
            for i in images
        ]
    else:
        body["images"] = [i.data_url() for i in images]
    body["embedding_types"] = ["float"]
    body["output_dimension"] = codec.dimensions_for(options)
    return body


def _marengo(codec: FamilyCodec, images: Sequence[ImageInput], v3: bool) -> Any:
    image = _one(images, codec.spec.name)
    source = _media_source(image)
    if not v3:
        return {"inputType": "image", "mediaSource": source}
    if image.text:
        return {
            "inputType": "text_image",
            "text_image": {"inputText": image.text, "mediaSource": source},
        }
    return {"inputType": "image", "image": {"mediaSource": source}}


def build_image_request(
    codec: FamilyCodec, images: Sequence[ImageInput], purpose: Purpose, options: EmbedOptions
) -> dict[str, Any]:
    family = codec.spec.name
    if family == "titan-multimodal-g1":
        return _titan(codec, images, options)
    if family == "nova-multimodal":
        return _nova(codec, images, purpose, options)
    if family in ("cohere-v3", "cohere-v4"):
        return _cohere(codec, images, purpose, options, v4=family == "cohere-v4")
    if family in ("marengo-2.7", "marengo-3.0"):
        return _marengo(codec, images, v3=family == "marengo-3.0")
    raise ValueError(f"{family} has no image request format")


def parse_image_response(codec: FamilyCodec, body: Any, count: int) -> ParsedResponse:
    if codec.spec.name != "nova-multimodal":
        return codec.parse_response(body, count)
    what = codec.spec.name
    expect_one(count, what)
    entries = expect_object(body, what).get("embeddings")
    if not isinstance(entries, list) or len(entries) != 1 or not isinstance(entries[0], dict):
        raise ValueError(f"{what}: expected 'embeddings' to hold one entry")
    entry = entries[0]
    kind = entry.get("embeddingType", "IMAGE")
    if kind != "IMAGE":
        raise ValueError(f"{what}: expected an IMAGE embedding, got {kind!r}")
    try:
        return ParsedResponse(vectors=one_vector(entry.get("embedding")))
    except ValueError as exc:
        raise ValueError(f"{what}: 'embedding': {exc}") from None
