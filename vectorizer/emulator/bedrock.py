"""Bedrock Runtime InvokeModel, as the emulator answers it.

Parts:

- `Family`: one embedding model family: its key, the model ids that name
  it, and `plan`, which validates a request body the way that model does and
  returns an `EmbedPlan` whose `render` builds the model's response shape.
- `FAMILIES`: the table, keyed by family key (`titan-text-v1`,
  `titan-text-v2`, `titan-multimodal`, `cohere-v3`, `cohere-v4`, `nova`,
  `marengo-2.7`, `marengo-3.0`).
- `resolve_model(model_id, profiles)`: a path's modelId (base id, versioned
  id, geo-prefixed inference profile, or ARN) -> `Family`, or
  ResourceNotFoundException. ARNs that name no model (application inference
  profiles, provisioned, imported and custom models) resolve only through
  `profiles`, the operator's `ID=FAMILY` mappings.
- `plan_invoke(family, body)`: validation + plan for one request (requests
  carrying an image are planned by `images.plan_image`).

Vector scale, a choice of the emulator: Titan Text v1 answers raw
(un-normalised) vectors, Titan Text v2 honours `normalize`, every other
family answers unit vectors. Values are dense float32, spelled as each
service writes them (`wire.TITAN_SPELLING` and the others): doubles of 17
significant digits for Titan, the shortest float32 text for Cohere. Tokens are whitespace words
(`vectors.token_count`); model truncation cuts words or characters as the
family would. Cohere and Nova vectors depend on the purpose
(`vectors.purposed_vector`): document/index purposes give the plain vector.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from vectorizer.emulator import images
from vectorizer.emulator import schema as s
from vectorizer.emulator.vectors import token_count
from vectorizer.emulator.wire import (
    COHERE_SPELLING,
    MARENGO_SPELLING,
    NOVA_SPELLING,
    TITAN_SPELLING,
    AwsError,
    EmbedPlan,
    Vector,
    Vectors,
    cut_words,
    new_request_id,
)

NOVA_PURPOSES = (
    "GENERIC_INDEX",
    "GENERIC_RETRIEVAL",
    "TEXT_RETRIEVAL",
    "IMAGE_RETRIEVAL",
    "VIDEO_RETRIEVAL",
    "DOCUMENT_RETRIEVAL",
    "AUDIO_RETRIEVAL",
    "CLASSIFICATION",
    "CLUSTERING",
)
COHERE_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")
COHERE_EMBEDDING_TYPES = ("float", "int8", "uint8", "binary", "ubinary")
COHERE_MAX_TEXTS = 96
COHERE_V3_MAX_CHARS = 2048
COHERE_V3_MAX_TOKENS = 512
COHERE_V4_MAX_TOKENS = 128_000
TITAN_MAX_TOKENS = 8192
TITAN_V2_MAX_CHARS = 50_000
TITAN_MM_MAX_TOKENS = 256
NOVA_MAX_TOKENS = 8192
MARENGO_MAX_TOKENS = 77
MARENGO3_MAX_TOKENS = 500
PROVIDERS = ("amazon", "cohere", "twelvelabs")

_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:bedrock:[a-z0-9-]*:\d*:([a-z-]+)/(.+)$")
_GEO = re.compile(rf"^[a-z][a-z0-9-]*\.(?=(?:{'|'.join(PROVIDERS)})\.)")


@dataclass(frozen=True)
class Family:
    key: str
    model_ids: tuple[str, ...]
    plan: Callable[[dict[str, Any]], EmbedPlan]
    profile_only: bool = False


def _too_many_tokens(limit: int, count: int) -> AwsError:
    return AwsError(
        400,
        "ValidationException",
        f"400 Bad Request: Too many input tokens. Max input tokens: {limit}, "
        f"request input token count: {count}",
    )


def _check_tokens(text: str, limit: int) -> int:
    count = token_count(text)
    if count > limit:
        raise _too_many_tokens(limit, count)
    return count


# --- Titan ------------------------------------------------------------------


def _titan_v1(body: dict[str, Any]) -> EmbedPlan:
    s.check_keys(body, "#", ("inputText",), ("inputText",))
    text = s.get_str(body, "inputText", "#") or ""
    tokens = _check_tokens(text, TITAN_MAX_TOKENS)

    def render(vectors: Vectors) -> dict[str, Any]:
        return {"embedding": _titan_floats(vectors[0]), "inputTextTokenCount": tokens}

    return EmbedPlan([text], 1536, render, normalize=False, tokens=tokens)


def _titan_floats(vector: Vector) -> orjson.Fragment:
    """Titan answers float32 values spelled as doubles (17 significant digits,
    about 20 characters each): a real answer's size, for the caller's parser."""
    return vector.fragment(TITAN_SPELLING)


def _binary(vector: Vector) -> list[int]:
    return (vector.values > 0).astype(np.uint8).tolist()  # type: ignore[no-any-return]


def _titan_v2(body: dict[str, Any]) -> EmbedPlan:
    allowed = ("inputText", "dimensions", "normalize", "embeddingTypes")
    s.check_keys(body, "#", allowed, ("inputText",))
    text = s.get_str(body, "inputText", "#", max_len=TITAN_V2_MAX_CHARS) or ""
    dim = s.get_enum(body, "dimensions", "#", (256, 512, 1024), 1024)
    normalize = s.get_bool(body, "normalize", "#", True)
    types = s.get_enum_list(body, "embeddingTypes", "#", ("float", "binary"))
    tokens = _check_tokens(text, TITAN_MAX_TOKENS)

    # AWS's Titan v2 page: `embeddingsByType` always appears, holding the
    # types asked for (`float` when none are); `embedding` is the float vector
    # and is left out when only `binary` is asked for.
    wanted = types or ["float"]

    def render(vectors: Vectors) -> dict[str, Any]:
        out: dict[str, Any] = {}
        by_type: dict[str, Any] = {}
        if "float" in wanted:
            out["embedding"] = by_type["float"] = _titan_floats(vectors[0])
        if "binary" in wanted:
            by_type["binary"] = _binary(vectors[0])
        out["inputTextTokenCount"] = tokens
        out["embeddingsByType"] = by_type
        return out

    return EmbedPlan([text], dim, render, normalize=normalize, tokens=tokens)


def _titan_multimodal(body: dict[str, Any]) -> EmbedPlan:
    s.check_keys(body, "#", ("inputText", "inputImage", "embeddingConfig"))
    text = s.get_str(body, "inputText", "#")
    image = s.get_str(body, "inputImage", "#")
    if text is None and image is None:
        raise s.malformed("#: required key [inputText] or [inputImage] not found")
    config = s.get_object(body, "embeddingConfig", "#") or {}
    s.check_keys(config, "#/embeddingConfig", ("outputEmbeddingLength",))
    dim = s.get_enum(config, "outputEmbeddingLength", "#/embeddingConfig", (256, 384, 1024), 1024)
    tokens = _check_tokens(text, TITAN_MM_MAX_TOKENS) if text is not None else 0
    # An image is embedded by its base64 text: deterministic, lexical, enough for a stand-in.
    content = text if text is not None else image or ""

    def render(vectors: Vectors) -> dict[str, Any]:
        return {
            "embedding": _titan_floats(vectors[0]),
            "inputTextTokenCount": tokens,
            "message": None,
        }

    return EmbedPlan([content], dim, render, tokens=tokens)


# --- Cohere -----------------------------------------------------------------


def _quantize(vectors: Vectors, kind: str) -> list[list[int]]:
    if not vectors:
        return []
    if kind in ("int8", "uint8"):
        shift = 0 if kind == "int8" else 128
        rows = [np.clip(np.round(v.values.astype(np.float64) * 127), -128, 127) for v in vectors]
        return [(row.astype(np.int64) + shift).tolist() for row in rows]
    # Bits packed eight to a byte, first value in the high bit, the last byte zero-padded.
    packed = [np.packbits(v.values > 0).astype(np.int64) for v in vectors]
    return [(row - 128 if kind == "binary" else row).tolist() for row in packed]


def _cohere_render(
    texts: list[str], types: list[str] | None
) -> Callable[[Vectors], dict[str, Any]]:
    request_id = new_request_id()

    def render(vectors: Vectors) -> dict[str, Any]:
        floats = [v.fragment(COHERE_SPELLING) for v in vectors]
        if types is None:
            embeddings: Any = floats
            kind = "embeddings_floats"
        else:
            embeddings = {t: floats if t == "float" else _quantize(vectors, t) for t in types}
            kind = "embeddings_by_type"
        return {"id": request_id, "embeddings": embeddings, "texts": texts, "response_type": kind}

    return render


def _cohere_common(body: dict[str, Any], allowed: tuple[str, ...]) -> tuple[list[str], str]:
    s.check_keys(body, "#", allowed, ("texts", "input_type"))
    texts = s.get_str_list(body, "texts", "#", max_items=COHERE_MAX_TEXTS)
    input_type = s.get_enum(body, "input_type", "#", COHERE_INPUT_TYPES, None)
    return texts, input_type


def _cohere_v3(body: dict[str, Any]) -> EmbedPlan:
    allowed = ("texts", "input_type", "truncate", "embedding_types")
    texts, input_type = _cohere_common(body, allowed)
    truncate = s.get_enum(body, "truncate", "#", ("NONE", "START", "END"), "NONE")
    types = s.get_enum_list(body, "embedding_types", "#", COHERE_EMBEDDING_TYPES)
    fitted = []
    for i, text in enumerate(texts):
        if len(text) > COHERE_V3_MAX_CHARS:
            # The body schema caps characters whatever `truncate` says (callers
            # report this error with truncate END too): truncate only governs tokens.
            raise s.malformed(
                f"#/texts/{i}: expected maxLength: {COHERE_V3_MAX_CHARS}, actual: {len(text)}"
            )
        if token_count(text) > COHERE_V3_MAX_TOKENS:
            if truncate == "NONE":
                raise _too_many_tokens(COHERE_V3_MAX_TOKENS, token_count(text))
            text = cut_words(text, COHERE_V3_MAX_TOKENS, keep_start=truncate == "END")
        fitted.append(text)
    tokens = sum(token_count(t) for t in fitted)
    render = _cohere_render(fitted, types)
    return EmbedPlan(fitted, 1024, render, purpose=input_type, tokens=tokens, batched=True)


def _cohere_v4(body: dict[str, Any]) -> EmbedPlan:
    allowed = (
        "texts",
        "input_type",
        "truncate",
        "embedding_types",
        "output_dimension",
        "max_tokens",
    )
    texts, input_type = _cohere_common(body, allowed)
    truncate = s.get_enum(body, "truncate", "#", ("NONE", "LEFT", "RIGHT"), "NONE")
    types = s.get_enum_list(body, "embedding_types", "#", COHERE_EMBEDDING_TYPES)
    dim = s.get_enum(body, "output_dimension", "#", (256, 512, 1024, 1536), 1536)
    limit = min(s.get_int(body, "max_tokens", "#") or COHERE_V4_MAX_TOKENS, COHERE_V4_MAX_TOKENS)
    fitted = []
    for text in texts:
        if token_count(text) > limit:
            if truncate == "NONE":
                raise _too_many_tokens(limit, token_count(text))
            text = cut_words(text, limit, keep_start=truncate == "RIGHT")
        fitted.append(text)
    tokens = sum(token_count(t) for t in fitted)
    render = _cohere_render(fitted, types or ["float"])
    return EmbedPlan(fitted, dim, render, purpose=input_type, tokens=tokens, batched=True)


# --- Nova and Marengo ---------------------------------------------------------


def _nova(body: dict[str, Any]) -> EmbedPlan:
    s.check_keys(
        body, "#", ("schemaVersion", "taskType", "singleEmbeddingParams"), ("schemaVersion",)
    )
    s.get_enum(body, "schemaVersion", "#", ("nova-multimodal-embed-v1",), None)
    task = s.get_enum(body, "taskType", "#", ("SINGLE_EMBEDDING", "SEGMENTED_EMBEDDING"), None)
    if task is None:
        raise s.malformed("#: required key [taskType] not found")
    if task != "SINGLE_EMBEDDING":
        raise AwsError(
            400, "ValidationException", f"taskType {task} is supported only by StartAsyncInvoke."
        )
    params = s.get_object(body, "singleEmbeddingParams", "#")
    if params is None:
        raise s.malformed("#: required key [singleEmbeddingParams] not found")
    path = "#/singleEmbeddingParams"
    s.check_keys(
        params, path, ("embeddingPurpose", "embeddingDimension", "text"), ("embeddingPurpose",)
    )
    purpose = s.get_enum(params, "embeddingPurpose", path, NOVA_PURPOSES, None)
    dim = s.get_enum(params, "embeddingDimension", path, (256, 384, 1024, 3072), 3072)
    text_obj = s.get_object(params, "text", path)
    if text_obj is None:
        # The real model also takes image, audio and video; the emulator embeds text only.
        raise s.malformed(f"{path}: required key [text] not found")
    tpath = f"{path}/text"
    s.check_keys(text_obj, tpath, ("truncationMode", "value"), ("truncationMode", "value"))
    mode = s.get_enum(text_obj, "truncationMode", tpath, ("START", "END", "NONE"), None)
    text = s.get_str(text_obj, "value", tpath) or ""
    original = len(text)
    if token_count(text) > NOVA_MAX_TOKENS:
        if mode == "NONE":
            raise _too_many_tokens(NOVA_MAX_TOKENS, token_count(text))
        text = cut_words(text, NOVA_MAX_TOKENS, keep_start=mode == "END")

    def render(vectors: Vectors) -> dict[str, Any]:
        item: dict[str, Any] = {
            "embeddingType": "TEXT",
            "embedding": vectors[0].fragment(NOVA_SPELLING),
        }
        if len(text) < original:
            item["truncatedCharLength"] = len(text)
        return {"embeddings": [item]}

    return EmbedPlan([text], dim, render, purpose=purpose, tokens=token_count(text))


def _marengo(body: dict[str, Any]) -> EmbedPlan:
    s.check_keys(body, "#", ("inputType", "inputText", "textTruncate"), ("inputType",))
    input_type = s.get_enum(body, "inputType", "#", ("text", "image", "video", "audio"), None)
    if input_type != "text":
        # The real model embeds media from S3 or base64; the emulator embeds text only.
        raise s.malformed(f"#/inputType: {input_type} is not supported by the emulator")
    if "inputText" not in body:
        raise s.malformed("#: required key [inputText] not found")
    text = s.get_str(body, "inputText", "#") or ""
    truncate = s.get_enum(body, "textTruncate", "#", ("end", "none"), "end")
    if token_count(text) > MARENGO_MAX_TOKENS:
        if truncate == "none":
            raise _too_many_tokens(MARENGO_MAX_TOKENS, token_count(text))
        text = cut_words(text, MARENGO_MAX_TOKENS, keep_start=True)

    def render(vectors: Vectors) -> dict[str, Any]:
        return {"data": [{"embedding": vectors[0].fragment(MARENGO_SPELLING)}]}

    return EmbedPlan([text], 1024, render, tokens=token_count(text))


_MARENGO3_INPUT_TYPES = ("text", "image", "text_image", "audio", "video", "multi_input")


def _marengo3(body: dict[str, Any]) -> EmbedPlan:
    # The input sits under a key named after inputType; 2.7's flat keys
    # (inputText, textTruncate) are extraneous here.
    s.check_keys(body, "#", (*_MARENGO3_INPUT_TYPES, "inputType", "inferenceId"), ("inputType",))
    input_type = s.get_enum(body, "inputType", "#", _MARENGO3_INPUT_TYPES, None)
    if input_type != "text":
        # Images are planned by `images.plan_image` first; audio and video are
        # StartAsyncInvoke only, and multi_input is not emulated.
        raise s.malformed(f"#/inputType: {input_type} is not supported by the emulator")
    text_obj = s.get_object(body, "text", "#")
    if text_obj is None:
        raise s.malformed("#: required key [text] not found")
    s.check_keys(text_obj, "#/text", ("inputText",), ("inputText",))
    text = s.get_str(text_obj, "inputText", "#/text") or ""
    # No truncation option: over-long text is refused.
    tokens = _check_tokens(text, MARENGO3_MAX_TOKENS)

    def render(vectors: Vectors) -> dict[str, Any]:
        # One vector: `data` is the object itself (AWS's Marengo 3 response shape).
        return {"data": {"embedding": vectors[0].fragment(MARENGO_SPELLING)}}

    return EmbedPlan([text], 512, render, tokens=tokens)


# --- the table and model ids --------------------------------------------------

FAMILIES: dict[str, Family] = {
    f.key: f
    for f in (
        Family("titan-text-v1", ("amazon.titan-embed-text-v1",), _titan_v1),
        Family("titan-text-v2", ("amazon.titan-embed-text-v2:0",), _titan_v2),
        Family("titan-multimodal", ("amazon.titan-embed-image-v1",), _titan_multimodal),
        Family(
            "cohere-v3", ("cohere.embed-english-v3", "cohere.embed-multilingual-v3"), _cohere_v3
        ),
        Family("cohere-v4", ("cohere.embed-v4:0",), _cohere_v4),
        Family("nova", ("amazon.nova-2-multimodal-embeddings-v1:0",), _nova),
        Family("marengo-2.7", ("twelvelabs.marengo-embed-2-7-v1:0",), _marengo, profile_only=True),
        # Base id too: on demand in us-east-1 and ap-northeast-2 (AWS's Marengo 3 page).
        Family("marengo-3.0", ("twelvelabs.marengo-embed-3-0-v1:0",), _marengo3),
    )
}
_BY_MODEL_ID = {model_id: f for f in FAMILIES.values() for model_id in f.model_ids}


def _not_found() -> AwsError:
    return AwsError(
        404,
        "ResourceNotFoundException",
        "Could not resolve the foundation model from the provided model identifier.",
    )


def _by_base_id(model_id: str) -> Family | None:
    """Exact id, else the id with trailing `:version` parts removed one at a time."""
    candidate = model_id
    while True:
        family = _BY_MODEL_ID.get(candidate)
        if family is not None:
            return family
        if ":" not in candidate:
            return None
        candidate = candidate.rsplit(":", 1)[0]


def resolve_model(model_id: str, profiles: Mapping[str, str]) -> Family:
    """The family `model_id` names, as Bedrock would resolve it."""
    mapped = profiles.get(model_id)
    arn = _ARN.match(model_id)
    if mapped is None and arn and arn.group(1) not in ("foundation-model", "inference-profile"):
        mapped = profiles.get(arn.group(2))
    if mapped is not None:
        family = FAMILIES.get(mapped) or _by_base_id(_GEO.sub("", mapped, count=1))
        if family is None:
            raise _not_found()
        return family
    if arn:
        if arn.group(1) not in ("foundation-model", "inference-profile"):
            raise _not_found()
        model_id = arn.group(2)
    base = _GEO.sub("", model_id, count=1)
    family = _by_base_id(base)
    if family is None:
        raise _not_found()
    if family.profile_only and base == model_id:
        raise AwsError(
            400,
            "ValidationException",
            f"Invocation of model ID {base} with on-demand throughput isn't supported. Retry "
            "your request with the ID or ARN of an inference profile that contains this model.",
        )
    return family


def plan_invoke(family: Family, raw_body: bytes) -> EmbedPlan:
    body = s.parse_object(raw_body)
    # Image requests have their own checks (`images.py`); text ones the family's.
    plan = images.plan_image(family.key, body) or family.plan(body)
    plan.headers["X-Amzn-Bedrock-Input-Token-Count"] = str(plan.tokens)
    return plan
