"""Synthetic images for the tests, made with Pillow and numpy (no files shipped).

- `encode(array, fmt)`: an RGB uint8 array as PNG/JPEG/GIF/WebP bytes.
- `solid(color, size, fmt)`: one colour.
- `KINDS` and `make(kind, seed, size)`: a few visually distinct kinds
  (horizontal stripes, vertical stripes, checkerboard, a disc, a diagonal
  gradient), each instance jittered by `seed` (phase, colour, noise), so two
  instances of a kind look alike but are not the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image


def encode(array: np.ndarray, fmt: str = "png", **save: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array.astype(np.uint8), "RGB").save(buf, format=fmt.upper(), **save)
    return buf.getvalue()


def solid(color: tuple[int, int, int], size: tuple[int, int] = (64, 64), fmt: str = "png") -> bytes:
    w, h = size
    return encode(np.full((h, w, 3), color, dtype=np.uint8), fmt)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(size), np.arange(size))


def _h_stripes(rng: np.random.Generator, n: int) -> np.ndarray:
    _, y = _grid(n)
    return ((y + rng.integers(0, 4)) // (n // 8)) % 2


def _v_stripes(rng: np.random.Generator, n: int) -> np.ndarray:
    x, _ = _grid(n)
    return ((x + rng.integers(0, 4)) // (n // 8)) % 2


def _checker(rng: np.random.Generator, n: int) -> np.ndarray:
    x, y = _grid(n)
    step = n // 4
    return ((x // step + y // step) % 2).astype(float)


def _disc(rng: np.random.Generator, n: int) -> np.ndarray:
    x, y = _grid(n)
    cx, cy = n / 2 + rng.normal(0, 2), n / 2 + rng.normal(0, 2)
    return (((x - cx) ** 2 + (y - cy) ** 2) < (n * 0.3) ** 2).astype(float)


def _gradient(rng: np.random.Generator, n: int) -> np.ndarray:
    x, y = _grid(n)
    return (x + y) / (2 * n - 2)


KINDS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "h-stripes": _h_stripes,
    "v-stripes": _v_stripes,
    "checker": _checker,
    "disc": _disc,
    "gradient": _gradient,
}


def make(kind: str, seed: int, size: int = 128, fmt: str = "png") -> bytes:
    rng = np.random.default_rng(seed)
    mask = KINDS[kind](rng, size)[..., None]
    fg = np.clip(np.array([200, 60, 40]) + rng.normal(0, 20, 3), 0, 255)
    bg = np.clip(np.array([30, 80, 200]) + rng.normal(0, 20, 3), 0, 255)
    pixels = mask * fg + (1 - mask) * bg + rng.normal(0, 12, (size, size, 3))
    return encode(np.clip(pixels, 0, 255), fmt)
