"""Vector normalisation the sidecar does when the model cannot.

- `needs_client_normalize`: normalisation was asked for and the model has no
  flag for it (every family but Titan Text v2).
- `l2_normalize`: a vector scaled to unit length (a zero vector stays zero),
  as float32; `vectorizer.vectors.l2_normalize_rows` does a batch at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vectorizer.backends.families.base import FamilySpec
from vectorizer.types import EmbedOptions
from vectorizer.vectors import Vector, all_finite, l2_normalize_rows


def needs_client_normalize(spec: FamilySpec, options: EmbedOptions) -> bool:
    return options.normalize is True and not spec.native_normalize


def l2_normalize(vector: Sequence[float] | Vector) -> Vector:
    arr = np.asarray(vector, dtype=np.float64)
    if not all_finite(arr):
        # Non-finite vectors have no direction to keep; the engine refuses them.
        return arr.astype(np.float32)
    return l2_normalize_rows(arr.reshape(1, -1)).reshape(-1)
