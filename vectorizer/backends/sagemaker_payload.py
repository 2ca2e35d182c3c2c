"""How large a SageMaker request body may be, per collection and per endpoint.

- `payload_ceiling(config)`: the configured ceiling: `maxPayloadBytes`, else
  4 MB for a `serverless` endpoint, else InvokeEndpoint's 6 MiB; ConfigError
  for a value no endpoint could take.
- `is_oversize(status, code, message)`: whether an error answer means "this
  body is too large" (so halving it helps), as SageMaker words it.
- `PayloadCeilings`: per endpoint, the ceiling learned from refusals, which
  only goes down: after a body of B bytes is refused, later batches for that
  endpoint are cut to at most B // 2 bytes, so one refusal is not repeated on
  every later batch.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field

from vectorizer.backends.sagemaker_batching import MAX_REQUEST_BYTES
from vectorizer.config import ResolvedConfig
from vectorizer.errors import ConfigError

# "The maximum request and response payload size for serverless invocations is
# 4 MB" (AWS serverless-endpoints-invoke page); decimal MB, the safe reading.
SERVERLESS_MAX_REQUEST_BYTES = 4_000_000
# Below this not even one short text and its JSON envelope fit.
MIN_REQUEST_BYTES = 4096

# What SageMaker answers a body over a limit:
# - serverless endpoints: 400 ValidationError "Request <id> has oversize body."
#   (aws/sagemaker-python-sdk#4271);
# - real-time endpoints: 413 "HTTP content length exceeded <n> bytes."
#   (aws/sagemaker-python-sdk#171, with the limit of the day);
# - the service model's constraint wording for the body member.
_OVERSIZE = re.compile(
    r"oversize body|content length exceeded|'body' failed to satisfy constraint",
    re.IGNORECASE,
)


def payload_ceiling(config: ResolvedConfig) -> int:
    """The largest body to send for `config` (ConfigError when out of range)."""
    service_limit = SERVERLESS_MAX_REQUEST_BYTES if config.serverless else MAX_REQUEST_BYTES
    wanted = config.max_payload_bytes
    if wanted is None:
        return service_limit
    if wanted < MIN_REQUEST_BYTES:
        raise ConfigError([f"maxPayloadBytes must be at least {MIN_REQUEST_BYTES}, got {wanted}"])
    if wanted > service_limit:
        kind = "a serverless endpoint's" if config.serverless else "InvokeEndpoint's"
        raise ConfigError(
            [
                f"maxPayloadBytes {wanted} is over {kind} request limit of {service_limit} "
                "bytes; lower it or remove it"
            ]
        )
    return wanted


def is_oversize(status: int, code: str, message: str) -> bool:
    """True when the answer refuses the request body for its size."""
    if status == 413:
        return True
    return code in ("ValidationError", "ValidationException", "") and bool(
        _OVERSIZE.search(message)
    )


@dataclass
class PayloadCeilings:
    """Endpoint key -> body size known to be safe, learned from refusals.

    Bounded: the least recently refused endpoint is forgotten first (it then
    starts again from its configured ceiling). One event loop owns it.
    """

    max_entries: int = 1024
    _limits: OrderedDict[str, int] = field(default_factory=OrderedDict, repr=False)

    def limit(self, key: str, configured: int) -> int:
        return min(configured, self._limits.get(key, configured))

    def refused(self, key: str, size: int) -> int:
        """Note that `size` bytes were refused; returns the new limit."""
        known = self._limits.get(key)
        # A body over the known ceiling (a text sent alone) teaches nothing new.
        learned = known if known is not None and size > known else max(1, size // 2)
        self._limits[key] = learned
        self._limits.move_to_end(key)
        while len(self._limits) > self.max_entries:
            self._limits.popitem(last=False)
        return learned

    def __len__(self) -> int:
        return len(self._limits)
