"""Image bodies per family against the documented shapes, and the limits checked first.

Shapes: AWS model-parameter pages for Titan Multimodal G1, Nova Multimodal
Embeddings, Cohere Embed v3 and v4, TwelveLabs Marengo 2.7 and 3.0 (see
`vectorizer/backends/families/image_bodies.py`).
"""

from __future__ import annotations

import base64
import dataclasses

import pytest

from tests.images import make, solid
from vectorizer.backends.families import FAMILIES
from vectorizer.backends.families.base import FamilySpec
from vectorizer.backends.families.image_bodies import build_image_request, parse_image_response
from vectorizer.backends.families.image_limits import (
    BODY_LIMIT,
    IMAGE_SPECS,
    ImageSpec,
    check_image,
    pack,
)
from vectorizer.backends.families.marengo import MarengoCodec
from vectorizer.backends.families.titan import TITAN_V2
from vectorizer.media import ImageInput, image_from_bytes, image_from_s3
from vectorizer.types import EmbedOptions, Purpose

DOC, QUERY = Purpose.DOCUMENT, Purpose.QUERY
PNG = make("disc", 1)
B64 = base64.b64encode(PNG).decode()
URL = f"data:image/png;base64,{B64}"


def img(data: bytes = PNG, **kw: str) -> ImageInput:
    image, error = image_from_bytes(data, **kw)
    assert error is None and image is not None
    return image


def s3(**kw: str) -> ImageInput:
    image, error = image_from_s3("s3://bucket-1/k/a.jpg", "image/jpeg", **kw)
    assert error is None and image is not None
    return image


def marengo3_codec():
    # 3.0's text codec may not be registered yet; its image body needs the name only.
    spec = dataclasses.replace(MarengoCodec().spec, name="marengo-3.0", default_dimensions=512)
    return MarengoCodec(spec)


def test_titan_multimodal_image_alone_and_with_text() -> None:
    codec = FAMILIES["titan-multimodal-g1"]
    body = build_image_request(codec, [img()], DOC, EmbedOptions(dimensions=384))
    assert body == {"inputImage": B64, "embeddingConfig": {"outputEmbeddingLength": 384}}
    body = build_image_request(codec, [img(text="a red disc")], QUERY, EmbedOptions())
    assert body == {
        "inputImage": B64,
        "inputText": "a red disc",
        "embeddingConfig": {"outputEmbeddingLength": 1024},
    }
    parsed = parse_image_response(
        codec, {"embedding": [0.5, 0.5], "inputTextTokenCount": 3, "message": None}, 1
    )
    assert parsed.vectors.tolist() == [[0.5, 0.5]] and parsed.input_tokens == 3


def test_nova_image_bytes_and_s3_with_purpose_and_detail() -> None:
    codec = FAMILIES["nova-multimodal"]
    body = build_image_request(codec, [img()], DOC, EmbedOptions(dimensions=1024))
    assert body == {
        "schemaVersion": "nova-multimodal-embed-v1",
        "taskType": "SINGLE_EMBEDDING",
        "singleEmbeddingParams": {
            "embeddingPurpose": "GENERIC_INDEX",
            "embeddingDimension": 1024,
            "image": {"format": "png", "source": {"bytes": B64}},
        },
    }
    body = build_image_request(codec, [s3(detail="DOCUMENT_IMAGE")], QUERY, EmbedOptions())
    params = body["singleEmbeddingParams"]
    assert params["embeddingPurpose"] == "GENERIC_RETRIEVAL"
    assert params["image"] == {
        "format": "jpeg",
        "detailLevel": "DOCUMENT_IMAGE",
        "source": {"s3Location": {"uri": "s3://bucket-1/k/a.jpg"}},
    }
    answer = {"embeddings": [{"embeddingType": "IMAGE", "embedding": [1.0, 0.0]}]}
    assert parse_image_response(codec, answer, 1).vectors.tolist() == [[1.0, 0.0]]
    with pytest.raises(ValueError, match="IMAGE"):
        text_answer = {"embeddings": [{"embeddingType": "TEXT", "embedding": [1]}]}
        parse_image_response(codec, text_answer, 1)


def test_cohere_v3_single_image_under_its_input_type() -> None:
    codec = FAMILIES["cohere-v3"]
    body = build_image_request(codec, [img()], QUERY, EmbedOptions())
    assert body == {"input_type": "image", "images": [URL], "embedding_types": ["float"]}


def test_cohere_v4_images_and_mixed_inputs_never_with_texts() -> None:
    codec = FAMILIES["cohere-v4"]
    other = img(make("checker", 2))
    body = build_image_request(codec, [img(), other], DOC, EmbedOptions(dimensions=512))
    assert body == {
        "input_type": "search_document",
        "images": [URL, other.data_url()],
        "embedding_types": ["float"],
        "output_dimension": 512,
    }
    body = build_image_request(codec, [img(text="caption")], QUERY, EmbedOptions())
    assert "texts" not in body and "images" not in body
    assert body["input_type"] == "search_query"
    assert body["inputs"] == [
        {
            "content": [
                {"type": "text", "text": "caption"},
                {"type": "image_url", "image_url": URL},
            ]
        }
    ]
    answer = {"embeddings": {"float": [[1.0], [2.0]]}, "response_type": "embeddings_by_type"}
    assert parse_image_response(codec, answer, 2).vectors.tolist() == [[1.0], [2.0]]


def test_marengo_image_inline_and_s3() -> None:
    codec = FAMILIES["marengo-2.7"]
    assert build_image_request(codec, [img()], DOC, EmbedOptions()) == {
        "inputType": "image",
        "mediaSource": {"base64String": B64},
    }
    body = build_image_request(codec, [s3(bucket_owner="123456789012")], DOC, EmbedOptions())
    assert body == {
        "inputType": "image",
        "mediaSource": {
            "s3Location": {"uri": "s3://bucket-1/k/a.jpg", "bucketOwner": "123456789012"}
        },
    }
    three = marengo3_codec()
    assert build_image_request(three, [img()], DOC, EmbedOptions()) == {
        "inputType": "image",
        "image": {"mediaSource": {"base64String": B64}},
    }
    assert build_image_request(three, [img(text="goal")], DOC, EmbedOptions()) == {
        "inputType": "text_image",
        "text_image": {"inputText": "goal", "mediaSource": {"base64String": B64}},
    }
    assert parse_image_response(three, {"data": {"embedding": [3.0]}}, 1).vectors.tolist() == [
        [3.0]
    ]


def test_text_only_family_has_no_image_body() -> None:
    with pytest.raises(ValueError, match="no image request format"):
        build_image_request(FAMILIES[TITAN_V2.name], [img()], DOC, EmbedOptions())


# ---- limits -----------------------------------------------------------------


def spec(name: str) -> ImageSpec:
    return IMAGE_SPECS[name]


def test_formats_per_family_name_the_fix() -> None:
    webp = img(solid((1, 2, 3), (200, 200), "webp"))
    assert check_image("nova-multimodal", spec("nova-multimodal"), webp) is None
    error = check_image("titan-multimodal-g1", spec("titan-multimodal-g1"), webp)
    assert error is not None and error.code == "IMAGE_FORMAT_UNSUPPORTED"
    assert "WEBP" in error.message and "PNG or JPEG" in error.message
    assert not error.retryable


def test_size_and_pixel_bounds() -> None:
    big = img(make("gradient", 1, 2100))  # 2100 x 2100 > 2048
    error = check_image("titan-multimodal-g1", spec("titan-multimodal-g1"), big)
    assert error is not None and error.code == "IMAGE_DIMENSIONS" and "2048x2048" in error.message
    small = img(solid((1, 1, 1), (100, 300)))
    error = check_image("marengo-2.7", spec("marengo-2.7"), small)
    assert error is not None and "128x128 minimum" in error.message
    # Over Cohere v3's 5 MB: a fake ImageInput of the right size is enough here.
    huge = dataclasses.replace(img(), data=b"\x89PNG" + bytes(5_000_001))
    error = check_image("cohere-v3", spec("cohere-v3"), huge)
    assert error is not None and error.code == "IMAGE_TOO_LARGE" and "5 MB" in error.message
    # Nova has no size of its own: Bedrock's body limit applies, S3 suggested.
    body_huge = dataclasses.replace(img(), data=bytes(BODY_LIMIT))
    error = check_image("nova-multimodal", spec("nova-multimodal"), body_huge)
    assert error is not None and "request body limit" in error.message and "s3://" in error.message


def test_sources_text_and_detail() -> None:
    error = check_image("cohere-v4", spec("cohere-v4"), s3())
    assert error is not None and error.code == "IMAGE_SOURCE_UNSUPPORTED"
    error = check_image("marengo-2.7", spec("marengo-2.7"), s3())
    assert error is not None and "bucket owner" in error.message
    assert check_image("marengo-2.7", spec("marengo-2.7"), s3(bucket_owner="123456789012")) is None
    error = check_image("nova-multimodal", spec("nova-multimodal"), img(text="x"))
    assert error is not None and "separate inputs" in error.message
    error = check_image("titan-multimodal-g1", spec("titan-multimodal-g1"), img(detail="HIGH"))
    assert error is not None and "detail" in error.message


def test_pack_respects_count_kind_and_body_limit() -> None:
    images = [img(make("disc", i)) for i in range(5)]
    joint = [img(make("disc", i), text="t") for i in range(3)]
    calls = pack(dataclasses.replace(spec("cohere-v4"), per_call=2), images + joint)
    assert [len(c) for c in calls] == [2, 2, 1, 2, 1]
    assert all(len({bool(i.text) for i in c}) == 1 for c in calls)
    # Two images whose base64 together passes 25 MB go in separate calls.
    large = [dataclasses.replace(img(make("disc", i)), data=bytes(10_000_000)) for i in range(2)]
    assert [len(c) for c in pack(spec("cohere-v4"), large)] == [1, 1]


def test_every_image_family_is_a_registered_family() -> None:
    names = set(FAMILIES) | {"marengo-3.0"}
    assert set(IMAGE_SPECS) <= names
    assert all(isinstance(FAMILIES[n].spec, FamilySpec) for n in IMAGE_SPECS if n in FAMILIES)
