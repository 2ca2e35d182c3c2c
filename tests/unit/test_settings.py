from __future__ import annotations

import pytest

from vectorizer.settings import parse_settings


def test_defaults() -> None:
    s = parse_settings([], env={})
    assert s.grpc_address == "0.0.0.0:50051" and s.http_address == "0.0.0.0:8080"
    # room for 1,000 x 3,072-dim float32 vectors in one answer
    assert s.max_message_bytes > 1000 * 3072 * 4 * 1.2
    # Under Weaviate's MODULES_CLIENT_TIMEOUT (50 s): its callers get our error, not its own.
    assert s.default_deadline < 50
    assert s.compat_address == "" and s.compat_auth == "token"


def test_env_then_flag_precedence() -> None:
    env = {
        "VECTORIZER_MAX_ITEMS": "10",
        "VECTORIZER_LOG_INPUTS": "true",
        "VECTORIZER_ENDPOINT_ALLOWLIST": "127.0.0.1:4566, example.internal",
    }
    s = parse_settings([], env=env)
    assert s.max_items == 10 and s.log_inputs is True
    assert s.endpoint_allowlist == ("127.0.0.1:4566", "example.internal")
    assert parse_settings(["--max-items", "20", "--no-log-inputs"], env=env).max_items == 20
    assert parse_settings(["--no-log-inputs"], env=env).log_inputs is False


@pytest.mark.parametrize(
    "argv",
    [
        ["--log-format", "xml"],
        ["--max-items", "0"],
        ["--tls-cert", "a.pem"],
        ["--max-items", "many"],
        ["--compat-auth", "none"],  # only on a listener of its own
        ["--compat-auth", "off", "--compat-address", "127.0.0.1:0"],
    ],
)
def test_bad_values_exit_with_usage(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse_settings(argv, env={})
    assert info.value.code == 2


def test_compat_listener_settings() -> None:
    env = {"VECTORIZER_COMPAT_ADDRESS": "127.0.0.1:8090", "VECTORIZER_COMPAT_AUTH": "none"}
    s = parse_settings([], env=env)
    assert s.compat_address == "127.0.0.1:8090" and s.compat_auth == "none"


def test_help_names_env_variables(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_settings(["--help"], env={})
    out = capsys.readouterr().out
    assert "VECTORIZER_GRPC_ADDRESS" in out and "--grace-period" in out
