"""multi2vec-aws object rules: which properties become which inputs, and the
weighted combination exactly as Weaviate's CombineVectorsWithWeights."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from tests.images import make
from vectorizer.config import ConfigError, config_errors, resolve
from vectorizer.media import ImageInput
from vectorizer.multi2vec import combine, object_parts
from vectorizer.v1 import vectorizer_pb2 as pb

PNG = make("checker", 1)
B64 = base64.b64encode(PNG).decode()


def cfg(**kw) -> pb.CollectionConfig:
    return pb.CollectionConfig(region="us-east-1", model="amazon.titan-embed-image-v1", **kw)


def weaviate_combine(vectors: list[list[float]], weights: list[float] | None) -> np.ndarray:
    """Weaviate's float32 arithmetic, written out: normalised weights, weighted
    sum per component, divided by the number of vectors."""
    v = np.asarray(vectors, dtype=np.float32)
    if weights:
        w = np.asarray(weights, dtype=np.float32)
        w = w * (np.float32(1) / w.sum(dtype=np.float32))
        v = v * w[:, None]
    return v.sum(axis=0, dtype=np.float32) / np.float32(len(vectors))


def test_parts_sorted_texts_then_images() -> None:
    config = resolve(cfg(text_fields=["title", "body"], image_fields=["photo"]))
    props = {"title": "A title", "photo": B64, "body": "Body text", "other": "ignored"}
    parts, error = object_parts(props, config)
    assert error is None
    assert parts[:2] == ["Body text", "A title"]  # sorted names: body, title
    assert isinstance(parts[2], ImageInput) and parts[2].data == PNG


def test_text_array_gives_one_text_per_element_and_data_urls_work() -> None:
    config = resolve(cfg(text_fields=["tags"], image_fields=["img"]))
    props = {"tags": ["a", "b"], "img": f"data:image/png;base64,{B64}"}
    parts, error = object_parts(props, config)
    assert error is None and parts[:2] == ["a", "b"] and isinstance(parts[2], ImageInput)


def test_bad_image_property_is_the_objects_error_naming_it() -> None:
    config = resolve(cfg(image_fields=["img"]))
    _, error = object_parts({"img": base64.b64encode(PNG[:300]).decode()}, config)
    assert error is not None and "property 'img'" in error.message
    _, error = object_parts({"img": "%%%"}, config)
    assert error is not None and "base64" in error.message
    _, error = object_parts({"unrelated": "x"}, config)
    assert error is not None and error.code == "BLANK_TEXT"


def test_more_vectors_than_weights_is_refused() -> None:
    config = resolve(
        cfg(
            text_fields=["t"],
            image_fields=["i"],
            weights=pb.FieldWeights(text_fields=[1.0]),
        )
    )
    _, error = object_parts({"t": "x", "i": B64}, config)
    assert error is not None and error.code == "WEIGHTS_MISMATCH"


@pytest.mark.parametrize(("text_w", "image_w"), [((), ()), ((0.7,), (0.3,)), ((2.0, 1.0), (1.0,))])
def test_combine_matches_weaviate(text_w: tuple, image_w: tuple) -> None:
    n_text = max(1, len(text_w))
    fields = [f"t{i}" for i in range(n_text)]
    config = resolve(
        cfg(
            text_fields=fields,
            image_fields=["img"],
            weights=pb.FieldWeights(text_fields=text_w, image_fields=image_w),
        )
    )
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n_text + 1, 8)).tolist()
    got = combine(vectors, config)
    want = weaviate_combine(vectors, list(text_w + image_w) or None)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_weight_checks_in_multi2vec_wording() -> None:
    errors = config_errors(cfg(text_fields=["a", ""], weights=pb.FieldWeights(text_fields=[1.0])))
    assert "textField values cannot be empty" in errors
    assert "weights.textFields does not equal number of textFields" in errors
    with pytest.raises(ConfigError):
        resolve(cfg(image_fields=["i"], weights=pb.FieldWeights(image_fields=[-1.0])))
