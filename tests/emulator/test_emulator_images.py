"""Image requests to the emulator through real boto3: AWS's image fields checked
strictly, vectors that depend on the image's bytes and put look-alikes near."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

from tests.emulator.conftest import as_float32
from tests.emulator.test_emulator_bedrock import cosine, error_of, invoke
from tests.images import KINDS, make, solid
from vectorizer.emulator.image_vectors import image_vector
from vectorizer.emulator.vectors import purposed_vector

PNG = make("disc", 1)
B64 = base64.b64encode(PNG).decode()
URL = f"data:image/png;base64,{B64}"
TITAN = "amazon.titan-embed-image-v1"
NOVA = "amazon.nova-2-multimodal-embeddings-v1:0"
MARENGO = "us.twelvelabs.marengo-embed-2-7-v1:0"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def nova_body(image: dict[str, Any], purpose: str = "GENERIC_INDEX") -> dict[str, Any]:
    return {
        "schemaVersion": "nova-multimodal-embed-v1",
        "taskType": "SINGLE_EMBEDDING",
        "singleEmbeddingParams": {
            "embeddingPurpose": purpose,
            "embeddingDimension": 256,
            "image": image,
        },
    }


def test_titan_image_vector_is_the_images_and_joint_is_the_mean(bedrock: Any) -> None:
    body, _ = invoke(bedrock, TITAN, {"inputImage": B64})
    assert body["embedding"] == image_vector(PNG, 1024)
    assert body["message"] is None and body["inputTextTokenCount"] == 0
    joint, _ = invoke(bedrock, TITAN, {"inputImage": B64, "inputText": "red disc"})
    want = np.add(image_vector(PNG, 1024), purposed_vector("red disc", 1024, None))
    np.testing.assert_allclose(joint["embedding"], want / np.linalg.norm(want), atol=1e-7)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"inputImage": "not base64 !"}, "invalid base64"),
        ({"inputImage": b64(b"GIF89a...")}, "not a valid image"),
        ({"inputImage": b64(solid((1, 2, 3), fmt="webp"))}, "unsupported image format webp"),
        ({"inputImage": b64(PNG[:200])}, "not a valid image"),
        ({"inputImage": b64(make("gradient", 1, 2100))}, "2048x2048"),
        ({"inputImage": B64, "extra": 1}, "extraneous key [extra]"),
    ],
)
def test_titan_refuses_bad_images(bedrock: Any, body: dict[str, Any], message: str) -> None:
    code, status, text = error_of(lambda: invoke(bedrock, TITAN, body))
    assert (code, status) == ("ValidationException", 400)
    assert message in text


def test_nova_image_bytes_s3_and_purpose(bedrock: Any) -> None:
    image = {"format": "png", "source": {"bytes": B64}}
    body, _ = invoke(bedrock, NOVA, nova_body(image))
    entry = body["embeddings"][0]
    assert entry["embeddingType"] == "IMAGE"
    assert entry["embedding"] == image_vector(PNG, 256, "GENERIC_INDEX")
    query, _ = invoke(bedrock, NOVA, nova_body(image, "GENERIC_RETRIEVAL"))
    assert 0.9 < cosine(query["embeddings"][0]["embedding"], entry["embedding"]) < 0.999
    s3 = {"format": "jpeg", "source": {"s3Location": {"uri": "s3://bkt/a.jpg"}}}
    assert len(invoke(bedrock, NOVA, nova_body(s3))[0]["embeddings"][0]["embedding"]) == 256


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ({"format": "jpeg", "source": {"bytes": B64}}, "does not match"),
        ({"format": "bmp", "source": {"bytes": B64}}, "not a valid enum value"),
        ({"format": "png", "source": {}}, "exactly one of [bytes, s3Location]"),
        (
            {"format": "png", "source": {"bytes": B64, "s3Location": {"uri": "s3://b/k"}}},
            "exactly one",
        ),
        ({"format": "png", "detailLevel": "HIGH", "source": {"bytes": B64}}, "enum"),
        ({"format": "png", "source": {"s3Location": {"uri": "https://x"}}}, "s3://"),
    ],
)
def test_nova_refuses_bad_image_fields(bedrock: Any, image: dict[str, Any], message: str) -> None:
    code, _, text = error_of(lambda: invoke(bedrock, NOVA, nova_body(image)))
    assert code == "ValidationException" and message in text


def test_cohere_images(bedrock: Any) -> None:
    other = make("checker", 5)
    body, _ = invoke(
        bedrock,
        "cohere.embed-v4:0",
        {"input_type": "search_document", "images": [URL, f"data:image/png;base64,{b64(other)}"]},
    )
    assert as_float32(body["embeddings"]["float"]) == [
        image_vector(PNG, 1536, "search_document"),
        image_vector(other, 1536, "search_document"),
    ]
    mixed = {"content": [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": URL}]}
    body, _ = invoke(
        bedrock, "cohere.embed-v4:0", {"input_type": "search_query", "inputs": [mixed]}
    )
    assert len(body["embeddings"]["float"]) == 1
    code, _, text = error_of(
        lambda: invoke(
            bedrock,
            "cohere.embed-v4:0",
            {"input_type": "search_query", "texts": ["a"], "images": [URL]},
        )
    )
    assert "exactly one of texts, images or inputs" in text
    v3 = "cohere.embed-english-v3"
    assert invoke(bedrock, v3, {"input_type": "image", "images": [URL]})[0]["embeddings"]["float"]
    _, _, text = error_of(
        lambda: invoke(bedrock, v3, {"input_type": "image", "images": [URL, URL]})
    )
    assert "maximum item count: 1" in text
    _, _, text = error_of(lambda: invoke(bedrock, v3, {"input_type": "image", "images": [B64]}))
    assert "data URI" in text


def test_marengo_image_inline_and_s3_owner(bedrock: Any) -> None:
    body, _ = invoke(bedrock, MARENGO, {"inputType": "image", "mediaSource": {"base64String": B64}})
    assert body["data"][0]["embedding"] == image_vector(PNG, 1024)
    small = {"inputType": "image", "mediaSource": {"base64String": b64(solid((1, 1, 1), (64, 64)))}}
    assert "128x128" in error_of(lambda: invoke(bedrock, MARENGO, small))[2]
    no_owner = {"inputType": "image", "mediaSource": {"s3Location": {"uri": "s3://b/k.png"}}}
    assert "bucketOwner" in error_of(lambda: invoke(bedrock, MARENGO, no_owner))[2]


def test_image_vectors_put_look_alikes_near(bedrock: Any) -> None:
    """Locality at thumbnail scale (not meaning): each kind's second instance is
    nearer to its own first instance than to any other kind's."""
    vectors = {
        (kind, seed): invoke(bedrock, TITAN, {"inputImage": b64(make(kind, seed))})[0]["embedding"]
        for kind in KINDS
        for seed in (1, 2)
    }
    for kind in KINDS:
        own = cosine(vectors[(kind, 2)], vectors[(kind, 1)])
        others = [cosine(vectors[(kind, 2)], vectors[(k, 1)]) for k in KINDS if k != kind]
        assert own > max(others) + 0.05, (kind, own, others)
