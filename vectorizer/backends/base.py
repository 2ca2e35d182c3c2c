"""The Backend protocol: what the engine needs from bedrock and sagemaker.

- `Prepared`: a config resolved against a backend once per request: the
  upstream target's identity, batch size, output dimension and the
  backend's own data (codec, dialect, URL).
- `Backend`: `prepare` (validate, may raise ConfigError), `fit_text`
  (length policy per item), `check_image` and `image_batches` (the model's
  image limits and call packing) and `embed` (one upstream call for one
  batch of texts, or of images).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from vectorizer.config import ResolvedConfig
from vectorizer.media import ImageInput
from vectorizer.transport import AwsCredentials
from vectorizer.types import BatchResult, ItemError, Purpose


@dataclass(frozen=True)
class Prepared:
    config: ResolvedConfig
    service: str
    region: str
    target: str  # model id or endpoint name, as configured (metric label)
    max_batch_size: int
    dimensions: int | None  # expected vector length, None when unknown up front
    client_normalize: bool  # the sidecar L2-normalises (model cannot)
    data: Any = None  # backend-specific (codec, dialect, URL...)
    # What else picks the model behind `target` (a SageMaker endpoint's target
    # model, variant or inference component): part of the cache key.
    variant: str = ""
    # A known name for `target` when the configured one is not (the base model
    # id inside an inference-profile id or ARN): the metric label to fall back on.
    known_name: str = ""

    @property
    def cache_target(self) -> str:
        """`target` as the cache keys it: one entry per model, not per endpoint."""
        return f"{self.target}\n{self.variant}" if self.variant else self.target


class Backend(Protocol):
    service: str

    def prepare(self, config: ResolvedConfig) -> Prepared:
        """Validate `config` for this backend; raises ConfigError."""
        ...

    def fit_text(self, prepared: Prepared, text: str) -> tuple[str, ItemError | None]:
        """Apply the length policy to one text."""
        ...

    def check_image(
        self, prepared: Prepared, image: ImageInput
    ) -> tuple[ImageInput, ItemError | None]:
        """The model's image limits (and length policy for joint text) for one image."""
        ...

    def image_batches(self, prepared: Prepared, images: list[ImageInput]) -> list[list[ImageInput]]:
        """Upstream calls for checked images."""
        ...

    async def embed(
        self,
        prepared: Prepared,
        texts: Sequence[str] | Sequence[ImageInput],
        purpose: Purpose,
        credentials: AwsCredentials,
        timeout: float,
    ) -> BatchResult:
        """One upstream call for `texts` (len <= max_batch_size), or for images
        (one of `image_batches`' calls).

        Raises UpstreamError (classified) on failure; never returns a
        result whose vector count differs from len(texts).
        """
        ...
