from __future__ import annotations

import pytest

from vectorizer.errors import Kind, VectorizerError
from vectorizer.transport import (
    AwsCredentials,
    AwsTransport,
    HttpAnswer,
    aws_error_code,
    endpoint_base,
)


def test_endpoint_defaults_per_partition() -> None:
    assert endpoint_base("bedrock", "eu-west-1", {}) == (
        "https://bedrock-runtime.eu-west-1.amazonaws.com",
        False,
    )
    assert endpoint_base("sagemaker", "cn-north-1", {}) == (
        "https://runtime.sagemaker.cn-north-1.amazonaws.com.cn",
        False,
    )


def test_endpoint_overrides_as_the_sdks_do() -> None:
    env = {
        "AWS_ENDPOINT_URL": "http://global:1",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://br:2/",
    }
    assert endpoint_base("bedrock", "us-east-1", env) == ("http://br:2", True)
    assert endpoint_base("sagemaker", "us-east-1", env) == ("http://global:1", True)
    env["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true"
    assert endpoint_base("bedrock", "us-east-1", env)[1] is False


def test_signed_requests_only_to_aws_override_or_allowlist() -> None:
    t = AwsTransport(
        trusted_hosts=("private.internal", "10.0.0.5:8443"),
        env={"AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://127.0.0.1:4566"},
    )
    for ok in (
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/x/invoke",
        "http://127.0.0.1:4566/model/x/invoke",
        "https://private.internal:9999/endpoints/e/invocations",
        "https://10.0.0.5:8443/endpoints/e/invocations",
    ):
        t.check_host(ok)
    for bad in (
        "http://bedrock-runtime.us-east-1.amazonaws.com/model/x/invoke",  # plain http
        "http://127.0.0.1:4567/model/x/invoke",  # override host, other port
        "https://10.0.0.5:9000/endpoints/e/invocations",
        "https://amazonaws.com.evil.example/x",
    ):
        with pytest.raises(VectorizerError) as info:
            t.check_host(bad)
        assert info.value.kind is Kind.INVALID_ARGUMENT and "allowlist" in info.value.message


def test_credentials_never_show_their_secret() -> None:
    c = AwsCredentials("AKIDEXAMPLE1234", "very-secret", "session-token")
    assert "very-secret" not in repr(c) and "session-token" not in repr(c)
    assert "very-secret" not in c.identity and len(c.identity) == 32
    assert c.identity != AwsCredentials("AKIDEXAMPLE1234", "other-secret").identity


def test_aws_error_code_from_header_or_body() -> None:
    a = HttpAnswer(
        429,
        {"x-amzn-ErrorType": "ThrottlingException:http://internal.amazon.com/"},
        b'{"message": "Too many requests"}',
    )
    assert aws_error_code(a) == ("ThrottlingException", "Too many requests")
    b = HttpAnswer(400, {}, b'{"__type": "com.amazon#ValidationError", "Message": "bad"}')
    assert aws_error_code(b) == ("ValidationError", "bad")
    c = HttpAnswer(502, {}, b"<html>bad gateway</html>")
    assert aws_error_code(c)[0] == ""
