"""Where a SageMaker `endpoint` setting points, and whether we may sign for it.

- `EndpointRef`: the resolved target: endpoint name, signing region, the
  invocation URL to POST to, its host and whether that host is AWS's.
- `parse_endpoint`: a config's `endpoint` (a name or a full invocation URL)
  plus region, operator allowlist and endpoint override -> `EndpointRef`, or
  a `ConfigError` listing what is wrong and how to fix it.
- `is_allowed_host`: the check the transport repeats before signing, so a
  bug upstream of it can never send credentials to a stranger.

Why so strict: the sidecar signs every request with the caller's AWS
credentials. A URL in a collection config is user input, so it may only name
an AWS SageMaker runtime host (https) or a host the operator allowlisted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, quote, unquote, urlsplit

from vectorizer.errors import ConfigError

MAX_NAME_LENGTH = 63
# SageMaker's EndpointName pattern, anchored at both ends.
_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
# Strict on purpose: the region is pasted into a host name.
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}"
_REGION_RE = re.compile(rf"^{_REGION}$")
_AWS_HOST = re.compile(rf"^runtime(-fips)?\.sagemaker\.({_REGION})\.amazonaws\.com(\.cn)?$")
_PATH = re.compile(r"^/endpoints/([^/]+)/invocations$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CLIP = 100


@dataclass(frozen=True)
class EndpointRef:
    name: str
    region: str  # the SigV4 signing region
    url: str  # full invocation URL to POST to
    host: str  # host[:port], as in the Host header
    is_aws_host: bool


def parse_endpoint(
    endpoint: str,
    region: str,
    allowlist: Sequence[str],
    endpoint_url_override: str | None,
) -> EndpointRef:
    """Resolve a config's `endpoint` (name or invocation URL).

    A name builds the regional AWS URL, or `{override}/endpoints/{name}/invocations`
    when the operator set an endpoint override (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME
    or AWS_ENDPOINT_URL, resolved by the caller). An AWS URL only names the
    endpoint and region, so the override applies to it too, exactly as an SDK
    would: the same collection config then works against a local emulator.
    An allowlisted non-AWS URL is used as given.
    """
    endpoint = endpoint.strip()
    region = region.strip()
    if not endpoint:
        raise ConfigError(["endpoint cannot be empty"])
    if "://" in endpoint:
        return _from_url(endpoint, region, allowlist, endpoint_url_override)
    errors = _name_errors(endpoint, hint_url=True) + _region_errors(region)
    if errors:
        raise ConfigError(errors)
    return _for_name(endpoint, region, endpoint_url_override)


def is_allowed_host(url: str, allowlist: Sequence[str]) -> bool:
    """May signed requests go to `url`? AWS SageMaker runtime over https, or allowlisted."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if "@" in parts.netloc or scheme not in _DEFAULT_PORTS or not host:
        return False
    if _AWS_HOST.match(host):
        return scheme == "https"
    return _in_allowlist(host, port or _DEFAULT_PORTS[scheme], allowlist)


def _for_name(name: str, region: str, override: str | None) -> EndpointRef:
    path = f"/endpoints/{quote(name, safe='')}/invocations"
    if override:
        parts = _split(override.strip(), "endpoint URL override (AWS_ENDPOINT_URL*)")
        host = _netloc(parts.hostname or "", parts.port)
        base = f"{parts.scheme.lower()}://{host}{parts.path.rstrip('/')}"
        return EndpointRef(
            name=name,
            region=region,
            url=base + path,
            host=host,
            is_aws_host=bool(_AWS_HOST.match(parts.hostname or "")),
        )
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    host = f"runtime.sagemaker.{region}.{suffix}"
    return EndpointRef(
        name=name, region=region, url=f"https://{host}{path}", host=host, is_aws_host=True
    )


def _from_url(url: str, region: str, allowlist: Sequence[str], override: str | None) -> EndpointRef:
    parts = _split(url, "endpoint URL")
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    port = parts.port
    shown = _clip(_netloc(host, port))
    aws = _AWS_HOST.match(host)
    errors: list[str] = []
    if aws:
        url_region, china = aws.group(2), bool(aws.group(3))
        if scheme != "https":
            errors.append(f"endpoint URL uses {scheme} to AWS host {shown}; use https")
        if port not in (None, 443):
            errors.append(f"endpoint URL port {port} is not used by AWS; remove it")
        if china != url_region.startswith("cn-"):
            errors.append(
                f"endpoint URL host {shown} mixes region {url_region} with the wrong "
                "domain (China regions use amazonaws.com.cn, others amazonaws.com)"
            )
        if region and region != url_region:
            errors.append(
                f"endpoint URL region {url_region} does not match the configured region "
                f"{_clip(region)}; set region to {url_region} or use that region's endpoint"
            )
        name = _path_name(parts.path, errors)
        if errors:
            raise ConfigError(errors)
        if override:
            return _for_name(name, url_region, override)
        return EndpointRef(
            name=name,
            region=url_region,
            url=f"https://{host}/endpoints/{quote(name, safe='')}/invocations",
            host=host,
            is_aws_host=True,
        )
    if not _in_allowlist(host, port or _DEFAULT_PORTS[scheme], allowlist):
        raise ConfigError(
            [
                f"endpoint host {shown} is not an AWS SageMaker runtime host "
                "(runtime.sagemaker.<region>.amazonaws.com) and is not allowlisted; "
                "signed requests only go to allowlisted hosts: an operator can add it with "
                f"--endpoint-allowlist {shown} or VECTORIZER_ENDPOINT_ALLOWLIST={shown}"
            ]
        )
    errors.extend(_region_errors(region))
    name = _path_name(parts.path, errors)
    if errors:
        raise ConfigError(errors)
    netloc = _netloc(host, port)
    return EndpointRef(
        name=name,
        region=region,
        url=f"{scheme}://{netloc}/endpoints/{quote(name, safe='')}/invocations",
        host=netloc,
        is_aws_host=False,
    )


def _split(url: str, what: str) -> SplitResult:
    """urlsplit with our refusals; never echoes user info (it may hold a password)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError([f"{what} is not a valid URL"]) from None
    if "@" in parts.netloc:
        raise ConfigError(
            [
                f"{what} must not contain user info (user:password@); AWS credentials "
                "come from the environment or the request metadata, never from the URL"
            ]
        )
    scheme = parts.scheme.lower()
    errors = []
    if scheme not in _DEFAULT_PORTS:
        errors.append(f"{what} scheme {_clip(scheme)!r} is not supported; use https")
    if not parts.hostname:
        errors.append(f"{what} has no host")
    if parts.query or parts.fragment:
        errors.append(f"{what} must not have a query string or fragment")
    if errors:
        raise ConfigError(errors)
    return parts


def _path_name(path: str, errors: list[str]) -> str:
    match = _PATH.match(path)
    if not match:
        errors.append(f"endpoint URL path {_clip(path)!r} is not /endpoints/<name>/invocations")
        return ""
    name = unquote(match.group(1))
    errors.extend(_name_errors(name, hint_url=False))
    return name


def _name_errors(name: str, *, hint_url: bool) -> list[str]:
    if len(name) <= MAX_NAME_LENGTH and _NAME.match(name):
        return []
    hint = " (or a full https:// invocation URL)" if hint_url else ""
    return [
        f"invalid SageMaker endpoint name {_clip(name)!r}: use 1-{MAX_NAME_LENGTH} letters, "
        f"digits and hyphens, starting and ending with a letter or digit{hint}"
    ]


def _region_errors(region: str) -> list[str]:
    if not region:
        return ["region cannot be empty"]
    if not _REGION_RE.match(region):
        return [f"invalid region {_clip(region)!r}, expected a form like us-east-1"]
    return []


def _in_allowlist(host: str, port: int, allowlist: Sequence[str]) -> bool:
    """An entry `host` allows any port of that host; `host:port` only that port."""
    if isinstance(allowlist, str):  # a raw comma-separated setting
        allowlist = allowlist.split(",")
    host = host.lower()
    for entry in allowlist:
        allowed = _allow_entry(entry)
        if allowed and allowed[0] == host and allowed[1] in (None, port):
            return True
    return False


def _allow_entry(entry: str) -> tuple[str, int | None] | None:
    entry = entry.strip().lower()
    if not entry:
        return None
    try:
        parts = urlsplit(entry if "://" in entry else "//" + entry)
        return (parts.hostname or "", parts.port) if parts.hostname else None
    except ValueError:
        return None


def _netloc(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"


def _clip(text: str) -> str:
    return text if len(text) <= _CLIP else text[: _CLIP - 3] + "..."
