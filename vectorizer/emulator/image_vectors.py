"""The emulator's image vectors: deterministic and locality-sensitive, not semantic.

- `image_wire_vector(data, dim, purpose, normalize, text)`: the image decoded,
  flattened onto white, shrunk to a `THUMB` x `THUMB` RGB thumbnail, centred
  (the thumbnail's mean subtracted, so overall brightness weighs less than
  layout and colour), then mapped to `dim` values by a fixed Gaussian random
  projection (seeded, the same in every process). A random projection keeps
  angles between thumbnails approximately, so images that look alike at
  thumbnail scale (the same colours in the same places) get nearby vectors,
  and different layouts get distant ones. It knows nothing of what an image
  shows: two photos of cats in different colours are far apart.
- With `text` (Titan Multimodal's joint input), the mean of the image's and
  the text's unit vectors, as AWS describes the joint vector.
- A purpose other than the index/document one shifts the vector a little,
  as for text (`vectors.purposed_vector`).
- Float32, as `wire.Vector`; `image_vector` gives its values as a list.
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image

from vectorizer.emulator.vectors import BASE_PURPOSES, PURPOSE_WEIGHT, text_vector
from vectorizer.emulator.wire import Vector

THUMB = 16
SEED = 20_240_915
_FEATURES = THUMB * THUMB * 3


@lru_cache(maxsize=8)
def _projection(dim: int) -> np.ndarray:
    rng = np.random.default_rng(SEED + dim)
    return rng.standard_normal((_FEATURES, dim)) / np.sqrt(dim)


def thumbnail_features(data: bytes) -> np.ndarray:
    """The centred thumbnail as a flat float vector (raises OSError if unreadable)."""
    with Image.open(io.BytesIO(data)) as img:
        img.seek(0)  # animated GIF / WebP: the first frame, as the models read it
        rgba = img.convert("RGBA")
    canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    canvas.alpha_composite(rgba)
    thumb = canvas.convert("RGB").resize((THUMB, THUMB), Image.Resampling.BOX)
    pixels = np.asarray(thumb, dtype=np.float64).reshape(-1) / 255.0
    return pixels - pixels.mean()


def image_vector(
    data: bytes, dim: int, purpose: str | None = None, normalize: bool = True, text: str = ""
) -> list[float]:
    """`image_wire_vector`'s values as a list of floats (each exactly a float32)."""
    return image_wire_vector(data, dim, purpose, normalize, text).tolist()


def image_wire_vector(
    data: bytes, dim: int, purpose: str | None = None, normalize: bool = True, text: str = ""
) -> Vector:
    vec = thumbnail_features(data) @ _projection(dim)
    norm = float(np.linalg.norm(vec))
    if norm == 0.0:
        # A flat single-colour image: its colour decides the direction.
        vec = np.resize(np.asarray(_mean_colour(data)), dim) - 0.5
        norm = float(np.linalg.norm(vec)) or 1.0
    vec = vec / norm
    if purpose is not None and purpose not in BASE_PURPOSES:
        shift = text_vector("\x02purpose=" + purpose, dim).values
        vec = vec + PURPOSE_WEIGHT * shift
    if text:
        vec = vec / np.linalg.norm(vec) + text_vector(text, dim, purpose).values
        vec = vec / 2
    if normalize:
        vec = vec / (np.linalg.norm(vec) or 1.0)
    return Vector(vec)


def _mean_colour(data: bytes) -> tuple[float, float, float]:
    with Image.open(io.BytesIO(data)) as img:
        pixel = np.asarray(img.convert("RGB").resize((1, 1), Image.Resampling.BOX), dtype=float)
    r, g, b = (pixel.reshape(3) / 255.0).tolist()
    return r, g, b
