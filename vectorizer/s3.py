"""Amazon S3, as far as media jobs need it: HEAD, GET and PUT of one object.

- `S3Uri`: a parsed `s3://bucket/key` (`parse_s3_uri` raises ValueError with
  the reason); `child(name)` joins a key below a prefix.
- `S3Error`: an S3 failure with S3's error code (`NoSuchKey`, `AccessDenied`,
  `NoSuchBucket`, ...) and a message naming the object and the fix; `kind`
  maps it onto the error taxonomy.
- `S3Client`: signed requests through the shared `AwsTransport` (SigV4 for
  service `s3`). The endpoint honours `AWS_ENDPOINT_URL_S3` (then
  `AWS_ENDPOINT_URL`) exactly as the SDKs do; against an override the
  addressing is path style (`{endpoint}/{bucket}/{key}`, what S3-compatible
  stand-ins such as moto's server expect), against AWS virtual-hosted
  (`https://{bucket}.s3.{region}.amazonaws.com/{key}`) unless the bucket
  name holds a dot (TLS names cannot cover it).

`bucket_owner` becomes `x-amz-expected-bucket-owner`: S3 answers 403 when the
bucket belongs to another account, which is how a caller's stated owner is
checked before a model is asked to read the object.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from vectorizer.errors import Kind, VectorizerError
from vectorizer.transport import AwsCredentials, AwsTransport, HttpAnswer, endpoint_base

_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(.*))?$")


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def child(self, name: str) -> S3Uri:
        """`name` below this URI taken as a prefix (a `/` between them)."""
        prefix = self.key if not self.key or self.key.endswith("/") else self.key + "/"
        return S3Uri(self.bucket, prefix + name)


def parse_s3_uri(uri: str, *, key_required: bool = True) -> S3Uri:
    m = _URI.match(uri.strip())
    if not m:
        raise ValueError(
            f"{uri[:120]!r} is not an S3 location of the form s3://bucket/key "
            "(bucket: 3-63 lower-case letters, digits, dots and hyphens)"
        )
    key = m.group(2) or ""
    if key_required and not key:
        raise ValueError(f"{uri[:120]!r} names a bucket but no object key")
    return S3Uri(m.group(1), key)


# S3 error code -> (kind, retryable, what to do).
_CODES: dict[str, tuple[Kind, bool, str]] = {
    "NoSuchKey": (Kind.NOT_FOUND, False, "check the key, or upload the object first"),
    "NotFound": (Kind.NOT_FOUND, False, "check the bucket and key"),
    "NoSuchBucket": (Kind.NOT_FOUND, False, "check the bucket name and its Region"),
    "AccessDenied": (
        Kind.PERMISSION_DENIED,
        False,
        "grant s3:GetObject/s3:PutObject on it to these credentials, and check the bucket "
        "owner given",
    ),
    "Forbidden": (
        Kind.PERMISSION_DENIED,
        False,
        "grant access to these credentials, and check the bucket owner given",
    ),
    "SlowDown": (Kind.THROTTLED, True, "retry later"),
    "InternalError": (Kind.UNAVAILABLE, True, "retry later"),
    "ServiceUnavailable": (Kind.UNAVAILABLE, True, "retry later"),
}
_BY_STATUS = {404: "NotFound", 403: "Forbidden", 503: "SlowDown", 500: "InternalError"}
# The statuses S3 answers a successful request with, by method.
_SUCCESS = {"HEAD": (200,), "GET": (200,), "PUT": (200, 201)}


class S3Error(VectorizerError):
    def __init__(self, s3_code: str, status: int, uri: str, detail: str = ""):
        fallback = (
            (Kind.UNAVAILABLE, True, "") if status >= 500 else (Kind.INVALID_ARGUMENT, False, "")
        )
        kind, retryable, fix = _CODES.get(s3_code, fallback)
        text = f"S3 {s3_code or 'error'} (HTTP {status}) for {uri}"
        if detail:
            text += f": {detail}"
        if fix:
            text += f"; {fix}"
        super().__init__(kind, text, retryable=retryable, code="S3_" + _snake(s3_code or "ERROR"))
        self.s3_code = s3_code
        self.status = status


def _snake(code: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", code).upper()


def _error_from(status: int, body: bytes, uri: str) -> S3Error:
    code, message = _BY_STATUS.get(status, ""), ""
    if body:
        try:
            root = ET.fromstring(body)
            code = root.findtext("Code") or code
            message = root.findtext("Message") or ""
        except ET.ParseError:
            pass
    return S3Error(code, status, uri, message[:300])


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    content_type: str


class S3Client:
    def __init__(self, transport: AwsTransport, env: Mapping[str, str] | None = None):
        self._transport = transport
        self._env = env

    def url(self, loc: S3Uri, region: str) -> str:
        base, overridden = endpoint_base("s3", region, self._env)
        key = quote(loc.key, safe="/-._~")
        if overridden or "." in loc.bucket:
            return f"{base}/{loc.bucket}/{key}"
        host = base.split("://", 1)[1]
        return f"https://{loc.bucket}.{host}/{key}"

    async def head(
        self, loc: S3Uri, region: str, credentials: AwsCredentials, bucket_owner: str = ""
    ) -> ObjectInfo:
        answer = await self._call("HEAD", loc, region, credentials, bucket_owner)
        length = answer.headers.get("Content-Length", "0")
        return ObjectInfo(
            int(length) if length.isdigit() else 0, answer.headers.get("Content-Type", "")
        )

    async def get(
        self, loc: S3Uri, region: str, credentials: AwsCredentials, bucket_owner: str = ""
    ) -> bytes:
        return (await self._call("GET", loc, region, credentials, bucket_owner)).body

    async def put(
        self,
        loc: S3Uri,
        region: str,
        credentials: AwsCredentials,
        data: bytes,
        content_type: str,
        bucket_owner: str = "",
    ) -> None:
        await self._call(
            "PUT", loc, region, credentials, bucket_owner, data, {"Content-Type": content_type}
        )

    async def _call(
        self,
        method: str,
        loc: S3Uri,
        region: str,
        credentials: AwsCredentials,
        bucket_owner: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> HttpAnswer:
        """One signed request for the object; an answer other than success raises `S3Error`."""
        if bucket_owner:
            headers = {**(headers or {}), "x-amz-expected-bucket-owner": bucket_owner}
        answer = await self._transport.send(
            method,
            service="s3",
            region=region,
            url=self.url(loc, region),
            credentials=credentials,
            body=body,
            headers=headers,
            target=str(loc),
        )
        if answer.status not in _SUCCESS[method]:
            raise _error_from(answer.status, answer.body, str(loc))
        return answer
