"""VectorizeObjects and ValidateConfig through the real server, against the emulator.

Golden tests: the text the emulator received for one object is exactly the
text Weaviate's text2vec-aws builds (reference section 6). Every test uses
values of its own, so the session server's cache never hides a call.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2

from tests.support import ROOT, Emulator
from vectorizer.text import INVALID_PROPERTIES_MESSAGE
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.v1 import vectorizer_pb2_grpc as pb_grpc


def titan(**extra: Any) -> pb.CollectionConfig:
    return pb.CollectionConfig(region="us-east-1", model="amazon.titan-embed-text-v2:0", **extra)


def obj(props: dict[str, Any]) -> pb.VectorizeObject:
    s = struct_pb2.Struct()
    s.update(props)
    return pb.VectorizeObject(properties=s)


def schema(**props: dict[str, Any]) -> list[pb.PropertySchema]:
    return [pb.PropertySchema(name=name, **opts) for name, opts in props.items()]


def sent_text(
    stub: pb_grpc.VectorizerStub,
    emulator: Emulator,
    props: dict[str, Any],
    class_name: str = "Article",
    config: pb.CollectionConfig | None = None,
    property_schema: list[pb.PropertySchema] | None = None,
) -> str:
    """Vectorize one object; return the inputText the emulator received."""
    emulator.clear()
    resp = stub.VectorizeObjects(
        pb.VectorizeObjectsRequest(
            objects=[obj(props)],
            class_name=class_name,
            property_schema=property_schema or [],
            config=config or titan(),
        ),
        timeout=30,
    )
    assert resp.results[0].HasField("vector"), resp.results[0]
    bedrock = [r for r in emulator.requests() if r["service"] == "bedrock"]
    assert len(bedrock) == 1, bedrock
    return bedrock[-1]["body"]["inputText"]


def test_class_name_on_is_split_and_lowercased_first(stub, emulator) -> None:
    text = sent_text(
        stub,
        emulator,
        {"title": "Golden One"},
        class_name="BookReviewG1",
        config=titan(vectorize_class_name=True),
    )
    assert text == "book review g 1 golden one"


def test_class_name_off_is_left_out(stub, emulator) -> None:
    text = sent_text(stub, emulator, {"title": "Golden Two"}, class_name="BookReviewG2")
    assert text == "golden two"


def test_camel_case_split_of_acronyms(stub, emulator) -> None:
    text = sent_text(
        stub,
        emulator,
        {"body": "golden three"},
        class_name="HTTPServerLog",
        config=titan(vectorize_class_name=True),
    )
    assert text == "http server log golden three"


def test_properties_in_sorted_name_order(stub, emulator) -> None:
    props = {"zeta": "Z four", "alpha": "A four", "Mid": "M four", "beta": "B four"}
    # Go sort.Strings: byte order, so capitals come before lower case.
    assert sent_text(stub, emulator, props) == "m four a four b four z four"


def test_properties_list_limits_the_sources(stub, emulator) -> None:
    props = {"title": "Title five", "body": "Body five", "extra": "Extra five"}
    text = sent_text(stub, emulator, props, config=titan(properties=["title", "extra"]))
    assert text == "extra five title five"


def test_skip_leaves_a_property_out(stub, emulator) -> None:
    props = {"title": "Title six", "secret": "Secret six"}
    text = sent_text(stub, emulator, props, property_schema=schema(secret={"skip": True}))
    assert text == "title six"


def test_vectorize_property_name_prefixes_split_name(stub, emulator) -> None:
    props = {"bookTitle": "Dune Seven", "author": "Herbert Seven"}
    text = sent_text(
        stub,
        emulator,
        props,
        property_schema=schema(bookTitle={"vectorize_property_name": True}),
    )
    assert text == "herbert seven book title dune seven"


def test_text_arrays_item_by_item(stub, emulator) -> None:
    props = {"tags": ["One Eight", "Two Eight", 3, True, "Three Eight"], "name": "N8"}
    text = sent_text(
        stub,
        emulator,
        props,
        property_schema=schema(tags={"vectorize_property_name": True}),
    )
    assert text == "n8 tags one eight tags two eight tags three eight"


def test_non_text_values_are_ignored(stub, emulator) -> None:
    props = {
        "count": 9,
        "ratio": 0.5,
        "flag": False,
        "none": None,
        "nested": {"inner": "Not Text Nine"},
        "title": "Only Nine",
    }
    assert sent_text(stub, emulator, props) == "only nine"


def test_schema_typed_non_text_is_ignored(stub, emulator) -> None:
    props = {"published": "2024-01-10T00:00:00Z", "title": "Dated Ten"}
    text = sent_text(stub, emulator, props, property_schema=schema(published={"data_type": "date"}))
    assert text == "dated ten"


def test_lowercase_is_the_default(stub, emulator) -> None:
    text = sent_text(
        stub,
        emulator,
        {"title": "MiXeD Case ELEVEN", "bookTitle": "Ünïcode İSTANBUL"},
        class_name="CaseTest",
        config=titan(vectorize_class_name=True),
        property_schema=schema(bookTitle={"vectorize_property_name": True}),
    )
    # Go strings.ToLower: İ -> i (one character), not Python's i + dot.
    assert text == "case test book title ünïcode istanbul mixed case eleven"


def test_lowercase_false_keeps_case_everywhere(stub, emulator) -> None:
    text = sent_text(
        stub,
        emulator,
        {"title": "MiXeD Case TWELVE", "bookTitle": "Dune"},
        class_name="CaseKept",
        config=titan(vectorize_class_name=True, lowercase=False),
        property_schema=schema(bookTitle={"vectorize_property_name": True}),
    )
    assert text == "Case Kept book Title Dune MiXeD Case TWELVE"


def test_fallback_to_class_name_when_no_text(stub, emulator) -> None:
    text = sent_text(stub, emulator, {"count": 13, "tags": []}, class_name="FallbackThirteen")
    assert text == "fallback thirteen"


def test_fallback_when_every_text_property_is_skipped(stub, emulator) -> None:
    text = sent_text(
        stub,
        emulator,
        {"title": "hidden fourteen"},
        class_name="SkippedFourteen",
        property_schema=schema(title={"skip": True}),
    )
    assert text == "skipped fourteen"


def test_blank_object_gets_an_item_error_others_embed(stub, emulator) -> None:
    resp = stub.VectorizeObjects(
        pb.VectorizeObjectsRequest(
            objects=[obj({"title": "fine fifteen"}), obj({"title": ""}), obj({"title": "  "})],
            class_name="BlankFifteen",
            config=titan(),
        ),
        timeout=30,
    )
    assert resp.results[0].HasField("vector")
    for r in resp.results[1:]:
        assert r.HasField("error"), r
        assert r.error.code == "BLANK_TEXT" and not r.error.retryable
        assert "object produced no text" in r.error.message
    sent = [r["body"]["inputText"] for r in emulator.requests() if r["service"] == "bedrock"]
    assert sent == ["fine fifteen"]


def test_objects_with_cohere_carry_the_query_purpose(stub, emulator) -> None:
    resp = stub.VectorizeObjects(
        pb.VectorizeObjectsRequest(
            objects=[obj({"q": "Sixteen Query"})],
            class_name="Q",
            purpose=pb.PURPOSE_QUERY,
            collection="Reviews",
        ),
        timeout=30,
    )
    assert resp.results[0].HasField("vector")
    body = [r for r in emulator.requests() if r["service"] == "bedrock"][-1]["body"]
    assert body["texts"] == ["sixteen query"] and body["input_type"] == "search_query"


# -- ValidateConfig ---------------------------------------------------------

TEXT2VEC_CASES = [
    (
        pb.CollectionConfig(service="vertex", region="us-east-1"),
        ["wrong service, available services are: [bedrock sagemaker]"],
    ),
    (
        pb.CollectionConfig(model="amazon.titan-embed-text-v2:0"),
        ["region cannot be empty"],
    ),
    (
        pb.CollectionConfig(
            region="us-east-1", model="amazon.titan-embed-text-v2:0", endpoint="ep"
        ),
        ["wrong configuration: ep, not applicable to bedrock"],
    ),
    (
        pb.CollectionConfig(service="sagemaker", region="us-east-1"),
        ["endpoint cannot be empty"],
    ),
    (
        pb.CollectionConfig(service="sagemaker", region="us-east-1", endpoint="e", model="m"),
        ["wrong configuration: model, not applicable to sagemaker. did you mean targetModel"],
    ),
]


@pytest.mark.parametrize(("config", "errors"), TEXT2VEC_CASES)
def test_validate_config_text2vec_messages(stub, config, errors) -> None:
    resp = stub.ValidateConfig(pb.ValidateConfigRequest(config=config), timeout=30)
    assert not resp.valid and list(resp.errors) == errors


def test_validate_unknown_model_keeps_text2vec_wording(stub) -> None:
    cfg = pb.CollectionConfig(region="us-east-1", model="amazon.titan-embed-text-v9")
    resp = stub.ValidateConfig(pb.ValidateConfigRequest(config=cfg), timeout=30)
    (error,) = resp.errors
    assert error.startswith("wrong model, available models are: [amazon.titan-embed-text-v1 ")
    for known in (
        "amazon.titan-embed-text-v2:0",
        "cohere.embed-english-v3",
        "cohere.embed-multilingual-v3",
    ):
        assert known in error


def test_validate_collects_every_error(stub) -> None:
    cfg = pb.CollectionConfig(service="sagemaker", model="m")
    resp = stub.ValidateConfig(pb.ValidateConfigRequest(config=cfg), timeout=30)
    assert list(resp.errors) == [
        "region cannot be empty",
        "endpoint cannot be empty",
        "wrong configuration: model, not applicable to sagemaker. did you mean targetModel",
    ]


def test_validate_invalid_properties_message(stub) -> None:
    req = pb.ValidateConfigRequest(
        config=titan(),
        class_name="Numbers",
        property_schema=[
            pb.PropertySchema(name="count", data_type="int"),
            pb.PropertySchema(name="title", data_type="text", indexed=False),
            pb.PropertySchema(name="body", data_type="text", skip=True),
        ],
    )
    resp = stub.ValidateConfig(req, timeout=30)
    assert list(resp.errors) == [INVALID_PROPERTIES_MESSAGE]
    assert INVALID_PROPERTIES_MESSAGE.startswith(
        "invalid properties: didn't find a single property which is of type string or text "
        "and is not excluded from indexing."
    )
    req.config.vectorize_class_name = True
    assert stub.ValidateConfig(req, timeout=30).valid


def test_validate_extension_messages(stub) -> None:
    cfg = titan(dimensions=300)
    resp = stub.ValidateConfig(pb.ValidateConfigRequest(config=cfg), timeout=30)
    assert list(resp.errors) == [
        "dimensions 300 not supported by titan-text-v2, allowed values are: [256, 512, 1024]"
    ]
    cfg = pb.CollectionConfig(
        service="sagemaker",
        region="us-east-1",
        endpoint="x",
        payload_format="zzz",
        truncate="MIDDLE",
    )
    resp = stub.ValidateConfig(pb.ValidateConfigRequest(config=cfg), timeout=30)
    assert list(resp.errors) == [
        "wrong payloadFormat 'zzz', available formats are: "
        "[auto tei jumpstart hf openai cohere text2vec-aws]",
        "wrong truncate 'MIDDLE', available values are: [NONE START END]",
    ]


def test_vectorize_objects_with_bad_config_is_invalid_argument(stub) -> None:
    with pytest.raises(grpc.RpcError) as info:
        stub.VectorizeObjects(
            pb.VectorizeObjectsRequest(
                objects=[obj({"a": "b"})], class_name="X", config=pb.CollectionConfig()
            ),
            timeout=30,
        )
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "region cannot be empty" in info.value.details()


# -- vectorizer validate ------------------------------------------------------


def run_validate(path: Any) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vectorizer.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_cli_validate_module_config_files(tmp_path) -> None:
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps(
            {
                "service": "bedrock",
                "region": "eu-west-1",
                "model": "cohere.embed-multilingual-v3",
                "vectorizeClassName": True,
            }
        )
    )
    out = run_validate(good)
    assert out.returncode == 0 and out.stdout.strip() == f"{good}: valid", out

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"service": "sagemaker", "model": "m", "dimensions": 0}))
    out = run_validate(bad)
    assert out.returncode == 1
    assert out.stdout.splitlines() == [
        f"{bad}: region cannot be empty",
        f"{bad}: endpoint cannot be empty",
        f"{bad}: wrong configuration: model, not applicable to sagemaker. did you mean targetModel",
        f"{bad}: dimensions must be positive, got 0",
    ]

    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"region": "us-east-1", "modell": "x"}))
    out = run_validate(unknown)
    assert out.returncode == 1 and "unknown config key 'modell'" in out.stdout

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    out = run_validate(broken)
    assert out.returncode == 2 and "cannot read JSON" in out.stderr


def test_cli_validate_weaviate_class_definition(tmp_path) -> None:
    """A whole Weaviate class (moduleConfig + properties) is checked too."""
    cls = {
        "class": "Numbers",
        "moduleConfig": {
            "text2vec-aws": {"region": "us-east-1", "model": "amazon.titan-embed-text-v2:0"}
        },
        "properties": [
            {"name": "count", "dataType": ["int"]},
            {
                "name": "title",
                "dataType": ["text"],
                "moduleConfig": {"text2vec-aws": {"skip": True}},
            },
        ],
    }
    path = tmp_path / "class.json"
    path.write_text(json.dumps(cls))
    out = run_validate(path)
    assert out.returncode == 1 and out.stdout.strip() == f"{path}: {INVALID_PROPERTIES_MESSAGE}"
    cls["moduleConfig"]["text2vec-aws"]["vectorizeClassName"] = True
    path.write_text(json.dumps(cls))
    assert run_validate(path).returncode == 0
    only = tmp_path / "module.json"
    only.write_text(json.dumps({"text2vec-aws": {"region": "us-east-1"}}))
    out = run_validate(only)
    assert out.returncode == 1 and out.stdout.strip() == f"{only}: model cannot be empty"
