"""The GetMeta answer: version, services, model families and their limits, collections."""

from __future__ import annotations

from vectorizer import __version__
from vectorizer.app import App
from vectorizer.backends.families import FAMILIES
from vectorizer.backends.families.base import FamilySpec
from vectorizer.backends.families.image_limits import IMAGE_SPECS
from vectorizer.config import PAYLOAD_FORMATS, SERVICES
from vectorizer.v1 import vectorizer_pb2 as pb


def meta(app: App) -> pb.GetMetaResponse:
    return pb.GetMetaResponse(
        version=__version__,
        services=list(SERVICES),
        families=[_family(codec.spec) for codec in FAMILIES.values()],
        payload_formats=list(PAYLOAD_FORMATS),
        collections=sorted(app.collections),
        rate_budget=app.rate_budget,
    )


def _family(spec: FamilySpec) -> pb.ModelFamily:
    family = pb.ModelFamily(
        name=spec.name,
        model_ids=list(spec.model_ids),
        dimensions=list(spec.dimensions),
        default_dimensions=spec.default_dimensions,
        max_batch_size=spec.max_batch_size,
        max_input=spec.max_input,
        supports_purpose=spec.supports_purpose,
        native_normalize=spec.native_normalize,
        truncate_modes=[t.value for t in spec.native_truncate],
        legacy=spec.legacy,
        end_of_life=spec.end_of_life,
        successor=spec.successor,
    )
    image = IMAGE_SPECS.get(spec.name)
    if image is not None:
        family.image_formats.extend(image.formats)
        family.max_image_bytes = image.max_bytes or 0
        family.images_per_call = image.per_call
        family.image_s3 = image.s3
        family.joint_text_image = image.joint_text
    return family
