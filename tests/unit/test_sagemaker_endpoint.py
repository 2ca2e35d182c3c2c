"""Endpoint name / URL resolution and the host allowlist."""

from __future__ import annotations

import pytest

from vectorizer.backends.sagemaker_endpoint import EndpointRef, is_allowed_host, parse_endpoint
from vectorizer.errors import ConfigError

AWS = "https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/{}/invocations"


def _errors(endpoint: str, region: str = "us-east-1", allowlist=(), override=None) -> str:
    with pytest.raises(ConfigError) as info:
        parse_endpoint(endpoint, region, allowlist, override)
    return info.value.message


@pytest.mark.parametrize(
    "name",
    ["a", "my-endpoint", "A1", "a--b", "x" * 63, "0-9", "Emb-2024-06-01"],
)
def test_valid_names_build_the_regional_url(name):
    ref = parse_endpoint(name, "us-east-1", (), None)
    assert ref == EndpointRef(
        name=name,
        region="us-east-1",
        url=AWS.format(name),
        host="runtime.sagemaker.us-east-1.amazonaws.com",
        is_aws_host=True,
    )


@pytest.mark.parametrize(
    "name",
    ["-a", "a-", "a_b", "a.b", "a b", "x" * 64, "é", "a/b", "../x", "a%2Fb", "runtime.sagemaker"],
)
def test_invalid_names_are_refused(name):
    message = _errors(name)
    assert "invalid SageMaker endpoint name" in message
    assert "1-63 letters" in message


def test_surrounding_whitespace_is_ignored():
    assert parse_endpoint("  ep  ", " eu-west-1 ", (), None).name == "ep"


def test_empty_endpoint_uses_weaviate_wording():
    assert _errors("  ") == "endpoint cannot be empty"


def test_name_needs_a_valid_region_and_all_errors_are_listed():
    message = _errors("bad_name", region="")
    assert "invalid SageMaker endpoint name" in message
    assert "region cannot be empty" in message


@pytest.mark.parametrize("region", ["evil.com/x", "us-east-1.evil.com", "US-EAST-1", "useast1"])
def test_region_that_could_inject_a_host_is_refused(region):
    assert "invalid region" in _errors("ep", region=region)


def test_china_region_name_uses_the_china_domain():
    ref = parse_endpoint("ep", "cn-north-1", (), None)
    assert (
        ref.url == "https://runtime.sagemaker.cn-north-1.amazonaws.com.cn/endpoints/ep/invocations"
    )
    assert ref.is_aws_host


def test_override_replaces_the_host_for_a_name():
    ref = parse_endpoint("ep", "us-east-1", (), "http://127.0.0.1:9000/")
    assert ref.url == "http://127.0.0.1:9000/endpoints/ep/invocations"
    assert ref.host == "127.0.0.1:9000"
    assert ref.region == "us-east-1"
    assert not ref.is_aws_host


def test_override_keeps_a_path_prefix():
    ref = parse_endpoint("ep", "us-east-1", (), "https://proxy.internal/sagemaker")
    assert ref.url == "https://proxy.internal/sagemaker/endpoints/ep/invocations"


def test_override_applies_to_an_aws_url_too():
    ref = parse_endpoint(AWS.format("ep"), "us-east-1", (), "http://localhost:8080")
    assert ref.url == "http://localhost:8080/endpoints/ep/invocations"
    assert ref.name == "ep"


def test_bad_override_is_reported_without_user_info():
    message = _errors("ep", override="http://u:hunter2@127.0.0.1:9000")
    assert "hunter2" not in message
    assert "user info" in message


@pytest.mark.parametrize(
    ("url", "region", "host"),
    [
        (AWS.format("my-ep"), "us-east-1", "runtime.sagemaker.us-east-1.amazonaws.com"),
        (
            "https://runtime-fips.sagemaker.us-gov-west-1.amazonaws.com/endpoints/my-ep/invocations",
            "us-gov-west-1",
            "runtime-fips.sagemaker.us-gov-west-1.amazonaws.com",
        ),
        (
            "https://runtime.sagemaker.cn-northwest-1.amazonaws.com.cn/endpoints/my-ep/invocations",
            "cn-northwest-1",
            "runtime.sagemaker.cn-northwest-1.amazonaws.com.cn",
        ),
        (
            "HTTPS://Runtime.SageMaker.us-east-1.AmazonAWS.com:443/endpoints/my-ep/invocations",
            "us-east-1",
            "runtime.sagemaker.us-east-1.amazonaws.com",
        ),
    ],
)
def test_aws_urls_give_name_and_region(url, region, host):
    ref = parse_endpoint(url, region, (), None)
    assert (ref.name, ref.region, ref.host, ref.is_aws_host) == ("my-ep", region, host, True)
    assert ref.url == f"https://{host}/endpoints/my-ep/invocations"


def test_aws_url_without_config_region_takes_the_url_region():
    assert parse_endpoint(AWS.format("ep"), "", (), None).region == "us-east-1"


def test_region_mismatch_names_both_regions():
    message = _errors(AWS.format("ep"), region="eu-west-1")
    assert "us-east-1" in message and "eu-west-1" in message
    assert "does not match" in message


def test_plain_http_to_aws_is_refused():
    message = _errors(AWS.format("ep").replace("https", "http"))
    assert "use https" in message


def test_aws_host_with_wrong_domain_for_china_is_refused():
    url = "https://runtime.sagemaker.cn-north-1.amazonaws.com/endpoints/ep/invocations"
    assert "China regions" in _errors(url, region="cn-north-1")


@pytest.mark.parametrize(
    "path",
    ["/endpoints/ep", "/endpoints/ep/invocations/", "/x/endpoints/ep/invocations", "/", ""],
)
def test_aws_url_with_another_path_is_refused(path):
    url = "https://runtime.sagemaker.us-east-1.amazonaws.com" + path
    assert "/endpoints/<name>/invocations" in _errors(url)


def test_invalid_name_in_url_is_refused():
    assert "invalid SageMaker endpoint name" in _errors(AWS.format("bad_name"))


def test_query_string_is_refused():
    assert "query string" in _errors(AWS.format("ep") + "?x=1")


def test_userinfo_is_refused_without_echoing_the_password():
    message = _errors(
        "https://admin:s3cr3t-pw@runtime.sagemaker.us-east-1.amazonaws.com/endpoints/ep/invocations"
    )
    assert "s3cr3t-pw" not in message and "admin" not in message
    assert "user info" in message


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/endpoints/ep/invocations",
        "http://127.0.0.1:8080/endpoints/ep/invocations",
        # Look-alikes of the AWS host must not pass.
        "https://runtime.sagemaker.us-east-1.amazonaws.com.evil.io/endpoints/ep/invocations",
        "https://evilruntime.sagemaker.us-east-1.amazonaws.com/endpoints/ep/invocations",
    ],
)
def test_other_hosts_need_the_allowlist(url):
    message = _errors(url)
    assert "not allowlisted" in message
    assert "--endpoint-allowlist" in message and "VECTORIZER_ENDPOINT_ALLOWLIST" in message


def test_allowlist_error_names_the_host_and_port():
    message = _errors("http://127.0.0.1:8080/endpoints/ep/invocations")
    assert "--endpoint-allowlist 127.0.0.1:8080" in message


@pytest.mark.parametrize(
    ("url", "allowlist"),
    [
        ("http://127.0.0.1:8080/endpoints/ep/invocations", ["127.0.0.1:8080"]),
        ("http://127.0.0.1:8080/endpoints/ep/invocations", ["127.0.0.1"]),
        ("https://vpce.internal/endpoints/ep/invocations", ["VPCE.internal"]),
        ("https://vpce.internal/endpoints/ep/invocations", ["vpce.internal:443"]),
        ("http://[::1]:9000/endpoints/ep/invocations", ["[::1]:9000"]),
        ("http://localhost:9000/endpoints/ep/invocations", "a.b, localhost:9000"),
    ],
)
def test_allowlisted_hosts_are_accepted(url, allowlist):
    ref = parse_endpoint(url, "us-east-1", allowlist, None)
    assert ref.name == "ep" and not ref.is_aws_host
    assert ref.url == url
    assert is_allowed_host(ref.url, allowlist)


def test_allowlist_port_must_match():
    message = _errors(
        "http://127.0.0.1:8081/endpoints/ep/invocations", allowlist=["127.0.0.1:8080"]
    )
    assert "not allowlisted" in message


def test_allowlisted_url_still_needs_the_invocations_path_and_a_region():
    message = _errors("http://h:1/predict", region="", allowlist=["h"])
    assert "region cannot be empty" in message
    assert "/endpoints/<name>/invocations" in message


def test_allowlisted_url_name_is_decoded_and_reencoded():
    ref = parse_endpoint("http://h:1/endpoints/%65p/invocations", "us-east-1", ["h"], None)
    assert ref.name == "ep"
    assert ref.url == "http://h:1/endpoints/ep/invocations"


@pytest.mark.parametrize("url", ["ftp://h/endpoints/ep/invocations", "https:///endpoints/e/i"])
def test_unsupported_scheme_or_missing_host(url):
    message = _errors(url, allowlist=["h"])
    assert "scheme" in message or "no host" in message


def test_bad_port_is_a_config_error():
    assert "not a valid URL" in _errors("http://h:99999/endpoints/ep/invocations")


@pytest.mark.parametrize(
    ("url", "allowlist", "allowed"),
    [
        (AWS.format("ep"), (), True),
        (AWS.format("ep").replace("https", "http"), (), False),
        ("https://runtime.sagemaker.eu-west-1.amazonaws.com.cn/x", (), True),
        ("https://example.com/x", (), False),
        ("https://example.com/x", ("example.com",), True),
        ("https://example.com:8443/x", ("example.com:443",), False),
        ("https://u:p@example.com/x", ("example.com",), False),
        ("ftp://example.com/x", ("example.com",), False),
        ("http://h:notaport/x", ("h",), False),
        ("", ("h",), False),
    ],
)
def test_is_allowed_host(url, allowlist, allowed):
    assert is_allowed_host(url, allowlist) is allowed
