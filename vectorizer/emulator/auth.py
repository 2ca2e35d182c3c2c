"""The SigV4 header check: the form of the signature, never its HMAC.

The emulator has no secrets, so it cannot verify a signature; it checks what
AWS checks before that: an `Authorization` header of the SigV4 form, an
`X-Amz-Date`, and a credential scope naming the right service. Parts:

- `Caller`: who signed (access key id, date, region, signing service) and
  whether a session token came along.
- `check_auth(headers, service)`: the `Caller`, or the `AwsError` AWS gives.

Special access key ids make access failures testable:
`AKIDBADKEY` -> 403 UnrecognizedClientException, any id starting with
`AKIDDENIED` -> 403 AccessDeniedException; a session token `EXPIRED` ->
403 ExpiredTokenException.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from vectorizer.emulator.wire import AwsError

BAD_KEY = "AKIDBADKEY"
DENIED_KEY_PREFIX = "AKIDDENIED"
EXPIRED_TOKEN = "EXPIRED"
_CREDENTIAL = re.compile(r"^([A-Za-z0-9]+)/(\d{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Caller:
    access_key_id: str
    date: str
    region: str
    service: str
    has_session_token: bool


def _incomplete(message: str) -> AwsError:
    return AwsError(403, "IncompleteSignatureException", message)


def _parameters(value: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in value.split(","):
        key, sep, val = part.strip().partition("=")
        if sep:
            params[key] = val
    return params


def check_auth(headers: Mapping[str, str], service: str) -> Caller:
    """`headers` is case-insensitive (aiohttp's CIMultiDict or a lower-cased dict)."""
    header = headers.get("Authorization") or headers.get("authorization")
    if not header:
        raise AwsError(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    algorithm, _, rest = header.partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        raise _incomplete(f"Unsupported authorization algorithm: {algorithm!r}.")
    params = _parameters(rest)
    for name in ("Credential", "SignedHeaders", "Signature"):
        if name not in params:
            raise _incomplete(
                f"Authorization header requires '{name}' parameter. Authorization={header[:40]}"
            )
    if not (headers.get("X-Amz-Date") or headers.get("x-amz-date")):
        raise _incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    credential = _CREDENTIAL.match(params["Credential"])
    if credential is None:
        raise _incomplete(f"Credential is malformed: {params['Credential'][:80]!r}.")
    if not _SIGNATURE.match(params["Signature"]):
        raise AwsError(403, "InvalidSignatureException", "The request signature is malformed.")
    akid, date, region, scope_service = credential.groups()
    if scope_service != service:
        raise AwsError(
            403,
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{service}'.",
        )
    token = headers.get("X-Amz-Security-Token") or headers.get("x-amz-security-token")
    if akid == BAD_KEY:
        raise AwsError(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    if token == EXPIRED_TOKEN:
        raise AwsError(
            403, "ExpiredTokenException", "The security token included in the request is expired"
        )
    if akid.startswith(DENIED_KEY_PREFIX):
        raise AwsError(
            403,
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        )
    return Caller(akid, date, region, scope_service, bool(token))
