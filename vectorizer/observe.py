"""What every call logs, shared by the gRPC servicer and the HTTP compat APIs.

- `request_id(given)`: the caller's request id (gRPC `x-request-id`, HTTP
  `X-Request-Id`) made safe for a log line, else a fresh one.
- `scrubber(pairs)`: a function stripping this call's credentials (sent as
  the text2vec-aws `x-aws-*` headers or metadata), and what AWS echoes of
  any, from text bound for the caller or the log.
- `log_call(logger, name, outcome, elapsed, fields, info)`: the one info line
  per call: `"<name> <outcome> in <ms> ms"` with `fields` (method/code or
  endpoint/status), `duration_ms` and `info` (request id, collection, model,
  items, error; inputs only when the handler put them there, i.e. with
  --log-inputs) as structured extras.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from vectorizer.logs import redact

CREDENTIAL_KEYS = ("x-aws-access-key", "x-aws-secret-key", "x-aws-session-token")
# A caller's id goes into every line of its call: printable, no spaces (the
# text format writes key=value pairs), bounded, so it cannot forge lines.
_ID_UNSAFE = re.compile(r"[^\x21-\x7e]")
MAX_REQUEST_ID = 128


def request_id(given: object = None) -> str:
    """The caller's id, cleaned; a new random one when none (or nothing usable) came."""
    cleaned = _ID_UNSAFE.sub("", str(given or ""))[:MAX_REQUEST_ID]
    return cleaned or uuid.uuid4().hex[:16]


def scrubber(pairs: Iterable[tuple[str, Any]] | None) -> Callable[[str], str]:
    """Strips this call's credentials (and AWS echoes of any) from text."""
    values = {k.lower(): str(v) for k, v in (pairs or ()) if k.lower() in CREDENTIAL_KEYS}
    secrets = (values.get("x-aws-secret-key"), values.get("x-aws-session-token"))
    ids = (values.get("x-aws-access-key"),)
    return lambda text: redact(text, secrets, ids)


def log_call(
    logger: logging.Logger,
    name: str,
    outcome: str,
    elapsed: float,
    fields: dict[str, Any],
    info: dict[str, Any],
) -> None:
    ms = elapsed * 1000
    logger.info(
        "%s %s in %.1f ms", name, outcome, ms, extra={**fields, "duration_ms": round(ms, 2), **info}
    )
