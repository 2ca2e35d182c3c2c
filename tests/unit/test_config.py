from __future__ import annotations

import json
from pathlib import Path

import pytest

from vectorizer.config import config_errors, load_collections, parse_config_json, resolve
from vectorizer.errors import ConfigError
from vectorizer.types import Truncate


def errors_of(obj: dict) -> list[str]:
    return config_errors(parse_config_json(obj))


def test_text2vec_aws_module_config_parses_unchanged() -> None:
    cfg = resolve(
        parse_config_json(
            {
                "service": "sagemaker",
                "region": "eu-west-1",
                "endpoint": "my-ep",
                "targetModel": "m1.tar.gz",
                "targetVariant": "v1",
                "vectorizeClassName": True,
            }
        )
    )
    assert (cfg.service, cfg.region, cfg.endpoint) == ("sagemaker", "eu-west-1", "my-ep")
    assert (cfg.target_model, cfg.target_variant, cfg.vectorize_class_name) == (
        "m1.tar.gz",
        "v1",
        True,
    )


def test_defaults() -> None:
    cfg = resolve(
        parse_config_json({"region": "us-east-1", "model": "amazon.titan-embed-text-v2:0"})
    )
    assert cfg.service == "bedrock"
    assert cfg.options.dimensions is None and cfg.options.normalize is None
    assert cfg.lowercase is True and cfg.payload_format == "auto" and cfg.batch_size == 32


def test_extensions_parse() -> None:
    cfg = resolve(
        parse_config_json(
            {
                "region": "us-east-1",
                "model": "cohere.embed-english-v3",
                "dimensions": 256,
                "normalize": True,
                "truncate": "end",
                "inputType": "classification",
            }
        )
    )
    assert cfg.options.dimensions == 256 and cfg.options.normalize is True
    assert cfg.options.truncate is Truncate.END and cfg.options.input_type == "classification"


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            {"service": "openai", "region": "us-east-1"},
            "wrong service, available services are: [bedrock sagemaker]",
        ),
        ({"model": "amazon.titan-embed-text-v1"}, "region cannot be empty"),
        ({"region": "us-east-1", "service": "sagemaker"}, "endpoint cannot be empty"),
        (
            {"region": "us-east-1", "model": "m", "endpoint": "e"},
            "wrong configuration: e, not applicable to bedrock",
        ),
        (
            {"region": "us-east-1", "service": "sagemaker", "endpoint": "e", "model": "m"},
            "wrong configuration: model, not applicable to sagemaker. did you mean targetModel",
        ),
        (
            {"region": "us-east-1", "model": "m", "truncate": "MIDDLE"},
            "wrong truncate 'MIDDLE', available values are: [NONE START END]",
        ),
        (
            {"region": "us-east-1", "service": "sagemaker", "endpoint": "e", "payloadFormat": "x"},
            "wrong payloadFormat 'x', available formats are: "
            "[auto tei jumpstart hf openai cohere text2vec-aws]",
        ),
    ],
)
def test_text2vec_aws_messages(obj: dict, expected: str) -> None:
    assert expected in errors_of(obj)


def test_all_problems_reported_together() -> None:
    with pytest.raises(ConfigError) as info:
        resolve(parse_config_json({"service": "sagemaker", "model": "m"}))
    assert info.value.errors == [
        "region cannot be empty",
        "endpoint cannot be empty",
        "wrong configuration: model, not applicable to sagemaker. did you mean targetModel",
    ]
    assert str(info.value) == ", ".join(info.value.errors)


def test_unknown_key_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config_json({"region": "us-east-1", "modle": "x"})
    assert "unknown config key 'modle'" in info.value.errors[0]
    assert "model" in info.value.errors[0]


def test_collections_file_json_and_toml(tmp_path: Path) -> None:
    j = tmp_path / "c.json"
    j.write_text(json.dumps({"A": {"region": "us-east-1", "model": "amazon.titan-embed-text-v1"}}))
    t = tmp_path / "c.toml"
    t.write_text('[B]\nservice = "sagemaker"\nregion = "us-west-2"\nendpoint = "ep"\n')
    assert load_collections(j)["A"].model == "amazon.titan-embed-text-v1"
    assert load_collections(t)["B"].endpoint == "ep"


def test_collections_file_errors_name_the_collection(tmp_path: Path) -> None:
    j = tmp_path / "c.json"
    j.write_text(json.dumps({"Bad": {"model": "x"}}))
    with pytest.raises(ConfigError) as info:
        load_collections(j)
    assert info.value.errors == ["collection 'Bad': region cannot be empty"]


def test_payload_ceiling_keys_parse() -> None:
    base = {"region": "us-east-1", "service": "sagemaker", "endpoint": "e"}
    cfg = resolve(parse_config_json({**base, "maxPayloadBytes": 100_000, "serverless": True}))
    assert (cfg.max_payload_bytes, cfg.serverless) == (100_000, True)
    cfg = resolve(parse_config_json(base))
    assert (cfg.max_payload_bytes, cfg.serverless) == (None, False)


@pytest.mark.parametrize("key,value", [("serverless", True), ("maxPayloadBytes", 100_000)])
def test_payload_ceiling_keys_are_sagemaker_only(key: str, value: object) -> None:
    errors = errors_of({"region": "us-east-1", "model": "m", key: value})
    assert f"wrong configuration: {key}, not applicable to bedrock" in errors
