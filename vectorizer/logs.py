"""Logging set-up: readable text by default, one JSON object per line with
`--log-format json`. Extra fields given with `extra={...}` (request id,
method, collection, model, items, duration) appear in both forms.

`redact(text, secrets, identifiers)` strips credentials from text bound for
a caller or a log: the given secret values, the given key ids (all but the
last four characters), and what AWS can echo back (signatures, session
tokens, canonical requests). `RedactFilter` applies the pattern part to every
log line as a second line of defence.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable

# Attributes every LogRecord has; anything else came in through `extra`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


REDACTED = "[redacted]"
# What an AWS error or a library could echo: SigV4 parts, tokens, bearer
# headers, and the canonical request / string-to-sign AWS appends to
# InvalidSignature messages (it contains every signed header, the session
# token included).
_CUT = (
    re.compile(r"(?is)\s*The Canonical String for this request should have been.*"),
    re.compile(r"(?is)\s*The String-to-Sign should have been.*"),
)
# Each keeps its group 1 (the name) and masks the value after it.
_MASK = (
    re.compile(r"(?i)((?:x-amz-security-token|x-aws-session-token|x-aws-secret-key)\s*[:=]\s*)\S+"),
    re.compile(r"(?i)(authorization\s*[:=]\s*)[^\n]+"),
    re.compile(r"(Signature=)[0-9a-fA-F]+"),
    re.compile(r"(Credential=)[^\s,]+"),
)


def redact(
    text: str, secrets: Iterable[str | None] = (), identifiers: Iterable[str | None] = ()
) -> str:
    """`text` without credentials; key ids keep their last four characters."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    for ident in identifiers:
        if ident and len(ident) >= 8:
            text = text.replace(ident, "***" + ident[-4:])
    for cut in _CUT:
        text = cut.sub("", text)
    for mask in _MASK:
        text = mask.sub(lambda m: m.group(1) + REDACTED, text)
    return text


class RedactFilter(logging.Filter):
    """Applies `redact`'s patterns to every formatted log message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record)
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line


class FieldsFilter(logging.Filter):
    """Adds the same fields to every line (a --workers worker's index)."""

    def __init__(self, fields: dict[str, object]):
        super().__init__()
        self.fields = fields

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in self.fields.items():
            setattr(record, key, value)
        return True


def setup_logging(
    level: str = "info", fmt: str = "text", fields: dict[str, object] | None = None
) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    if fields:
        handler.addFilter(FieldsFilter(fields))
    handler.addFilter(RedactFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Library chatter at debug level would include request details.
    for noisy in ("botocore", "urllib3", "aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))
