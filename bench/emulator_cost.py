"""`python -m bench.emulator_cost`: the emulator's CPU per answer and the answer's size.

The emulator must never be the bottleneck of a benchmark, yet must answer
with bodies of real size. This measures, in-process, what serving one
answer costs the emulator past the HTTP layer: the body validated into a
plan, the vectors computed (or taken from the cache), the body rendered
(the same `_plan` and `_embed` calls `serve_aws` makes). Cases:

- Titan Text v2, 1,024 dimensions, one text a call;
- Cohere Embed v3, 96 texts a call;
- Titan Text v1, 1,536 dimensions, one text a call.

Texts are `bench.workload.make_texts` (about 150-250 characters). `cold`
texts are all distinct (nothing cached), `warm` repeats texts already served.
Process CPU time, median of `--rounds` rounds; a few seconds in all.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.workload import make_texts
from vectorizer.emulator import app
from vectorizer.emulator.records import Record
from vectorizer.emulator.state import EmulatorConfig, EmulatorState


@dataclass(frozen=True)
class Case:
    name: str
    model: str
    batch: int
    body: Callable[[list[str]], dict[str, object]]


CASES = (
    Case(
        "titan-v2 1024",
        "amazon.titan-embed-text-v2:0",
        1,
        lambda texts: {"inputText": texts[0]},
    ),
    Case(
        "cohere-v3 x96",
        "cohere.embed-english-v3",
        96,
        lambda texts: {"texts": texts, "input_type": "search_document"},
    ),
    Case(
        "titan-v1 1536",
        "amazon.titan-embed-text-v1",
        1,
        lambda texts: {"inputText": texts[0]},
    ),
)


def _serve(state: EmulatorState, case: Case, texts: list[str]) -> bytes:
    raw = json.dumps(case.body(texts)).encode()
    record = Record("bedrock", f"/model/{case.model}/invoke", case.model, {}, raw, "cost")
    plan = app._plan(state, record, raw)
    return app._embed(state, plan, record)


def _cpu_per_answer(state: EmulatorState, case: Case, batches: list[list[str]]) -> float:
    start = time.process_time()
    for texts in batches:
        _serve(state, case, texts)
    return (time.process_time() - start) / len(batches)


def measure(case: Case, answers: int, rounds: int) -> dict[str, float]:
    state = EmulatorState(EmulatorConfig())
    cold, warm, sizes = [], [], []
    for r in range(rounds):
        texts = make_texts(answers * case.batch, f"cost-{case.name}-{r}-{time.time()}")
        batches = [texts[i : i + case.batch] for i in range(0, len(texts), case.batch)]
        cold.append(_cpu_per_answer(state, case, batches))
        warm.append(_cpu_per_answer(state, case, batches))
        sizes.extend(len(_serve(state, case, b)) for b in batches[:10])
    return {
        "cold_ms": statistics.median(cold) * 1000,
        "warm_ms": statistics.median(warm) * 1000,
        "kib": statistics.mean(sizes) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=200, help="single-text answers a round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{'case':<16}{'cold ms/answer':>16}{'warm ms/answer':>16}{'KiB/answer':>12}")
    for case in CASES:
        # Batched answers cost ~batch times more: fewer of them keep the run short.
        answers = max(2, args.answers // case.batch * 2) if case.batch > 1 else args.answers
        got = measure(case, answers, args.rounds)
        print(f"{case.name:<16}{got['cold_ms']:>16.3f}{got['warm_ms']:>16.3f}{got['kib']:>12.1f}")


if __name__ == "__main__":
    main()
