"""Fuzz the config layer: whatever the input, only ConfigError comes out.

`parse_config_json`, `resolve` and `load_collections` sit on the edge where
operators' files and callers' configs come in; unknown keys are named.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vectorizer import cli
from vectorizer.config import load_collections, parse_config_json, resolve
from vectorizer.errors import ConfigError
from vectorizer.v1 import vectorizer_pb2 as pb
from vectorizer.validate import validate_config_locally

KEYS = [f.json_name for f in pb.CollectionConfig.DESCRIPTOR.fields] + [
    f.name for f in pb.CollectionConfig.DESCRIPTOR.fields
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
configs = st.dictionaries(
    st.one_of(st.sampled_from(KEYS), st.text(max_size=12)), json_values, max_size=8
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(obj=st.one_of(configs, json_values))
def test_parse_and_resolve_raise_only_config_errors(obj: object) -> None:
    try:
        msg = parse_config_json(obj)
    except ConfigError as exc:
        assert exc.errors and all(isinstance(e, str) and e for e in exc.errors)
        return
    try:
        resolve(msg)
    except ConfigError as exc:
        assert exc.errors


fields = st.fixed_dictionaries(
    {},
    optional={
        "service": st.sampled_from(["", "bedrock", "sagemaker", "x", "\x00"]),
        "region": st.sampled_from(["", "us-east-1", "eu-west-3", "mars", "US-EAST-1"]),
        "model": st.text(max_size=40),
        "endpoint": st.text(max_size=60),
        "truncate": st.text(max_size=8),
        "dimensions": st.integers(-(2**31), 2**31 - 1),
        "batch_size": st.integers(-(2**31), 2**31 - 1),
        "payload_format": st.text(max_size=10),
        "custom_attributes": st.text(max_size=1100),
        "properties": st.lists(st.text(max_size=10), max_size=3),
        "normalize": st.booleans(),
        "lowercase": st.booleans(),
    },
)


@FUZZ
@given(values=fields)
def test_resolve_any_message_raises_only_config_errors(values: dict) -> None:
    try:
        resolve(pb.CollectionConfig(**values))
    except ConfigError as exc:
        assert exc.errors


@FUZZ
@given(
    content=st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
        st.dictionaries(st.text(max_size=8), st.one_of(configs, json_values), max_size=3).map(
            lambda d: json.dumps(d).encode()
        ),
    ),
    suffix=st.sampled_from([".json", ".toml", ".txt"]),
)
def test_load_collections_raises_only_config_errors(
    tmp_path_factory: pytest.TempPathFactory, content: bytes, suffix: str
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / f"collections{suffix}"
    path.write_bytes(content)
    try:
        load_collections(path)
    except ConfigError as exc:
        assert exc.errors


def test_missing_or_unreadable_collections_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_collections(tmp_path / "nope.json")
    assert "nope.json" in info.value.errors[0]
    with pytest.raises(ConfigError):
        load_collections(tmp_path)  # a directory


GOOD = {"service": "bedrock", "region": "us-east-1", "model": "amazon.titan-embed-text-v2:0"}


def test_unknown_key_is_named_in_json_toml_and_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = {**GOOD, "modle": "x"}
    with pytest.raises(ConfigError) as info:
        parse_config_json(bad)
    assert "unknown config key 'modle'" in info.value.errors[0]

    as_json = tmp_path / "c.json"
    as_json.write_text(json.dumps({"Articles": bad}))
    with pytest.raises(ConfigError) as info:
        load_collections(as_json)
    assert "collection 'Articles'" in str(info.value) and "'modle'" in str(info.value)

    as_toml = tmp_path / "c.toml"
    as_toml.write_text(
        '[Articles]\nservice = "bedrock"\nregion = "us-east-1"\n'
        'model = "amazon.titan-embed-text-v2:0"\nmodle = "x"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_collections(as_toml)
    assert "'modle'" in str(info.value)

    assert any("'modle'" in e for e in validate_config_locally(bad))
    cfg_file = tmp_path / "one.json"
    cfg_file.write_text(json.dumps(bad))
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["validate", str(cfg_file)])
    assert exit_info.value.code == 1
    assert "unknown config key 'modle'" in capsys.readouterr().out
