"""Vector normalisation the sidecar does when the model cannot.

- `needs_client_normalize`: normalisation was asked for and the model has no
  flag for it (every family but Titan Text v2).
- `l2_normalize`: a vector scaled to unit length (a zero vector stays zero).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vectorizer.backends.families.base import FamilySpec
from vectorizer.types import EmbedOptions


def needs_client_normalize(spec: FamilySpec, options: EmbedOptions) -> bool:
    return options.normalize is True and not spec.native_normalize


def l2_normalize(vector: Sequence[float]) -> list[float]:
    arr = np.asarray(vector, dtype=np.float64)
    # Scale by the largest magnitude first: squaring tiny (or huge) components
    # underflows (overflows) and would lose the direction.
    peak = float(np.max(np.abs(arr))) if arr.size else 0.0
    if peak == 0.0 or not np.isfinite(peak):
        # Zero vectors have no direction; non-finite ones cannot be scaled.
        return [float(x) for x in arr]
    scaled = arr / peak
    return (scaled / np.linalg.norm(scaled)).tolist()
