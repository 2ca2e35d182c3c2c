"""How many input tokens a call will cost, before AWS counts them.

- `TokenEstimator`: characters per token of one target, learned from the
  counts AWS returns (Titan's `inputTextTokenCount`, the
  `X-Amzn-Bedrock-Input-Token-Count` header, Cohere's billed units).

The ratio is a decaying ratio of sums, sum(chars) / sum(tokens), each sum
multiplied by `DECAY` per counted call: long calls weigh more than short
ones (as they do in the quota), and the estimate follows a change of
language or text kind within a few dozen calls. It starts from the
configured ratio (4 characters per token, the usual average for English
under these models' tokenizers), weighted as `PRIOR_TOKENS` tokens of
evidence so that the first counted call moves it but does not replace it.
"""

from __future__ import annotations

DECAY = 0.95
PRIOR_TOKENS = 200.0
# A ratio outside these bounds is a bad count, not a tokenizer.
MIN_CHARS_PER_TOKEN = 0.5
MAX_CHARS_PER_TOKEN = 32.0


class TokenEstimator:
    def __init__(self, chars_per_token: float = 4.0):
        self._chars = chars_per_token * PRIOR_TOKENS
        self._tokens = PRIOR_TOKENS

    @property
    def chars_per_token(self) -> float:
        return self._chars / self._tokens

    def estimate(self, chars: int) -> float:
        """Expected tokens of a call carrying `chars` characters of text."""
        return chars / self.chars_per_token if chars > 0 else 0.0

    def learn(self, chars: int, tokens: int) -> None:
        """Take AWS's count `tokens` for a call of `chars` characters."""
        if chars <= 0 or tokens <= 0:
            return
        if not MIN_CHARS_PER_TOKEN <= chars / tokens <= MAX_CHARS_PER_TOKEN:
            return
        self._chars = self._chars * DECAY + chars
        self._tokens = self._tokens * DECAY + tokens
