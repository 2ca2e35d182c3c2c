"""vectorizer.batcher: requests of one lane share calls, each keeps its own results."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vectorizer.batcher import Batch, Batcher

KEY = "lane"
FAR = 1e9  # a deadline that never comes


class Upstream:
    """A stand-in for the engine's `send`: answers text + '!' after `delay`,
    an error result for texts starting with 'bad', and records every batch."""

    def __init__(self, delay: float = 0.0, fail_with: BaseException | None = None):
        self.delay = delay
        self.fail_with = fail_with
        self.batches: list[list[str]] = []
        self.sent_at: list[float] = []

    async def __call__(self, batch: Batch[str, str]) -> list[str]:
        self.batches.append(list(batch.texts))
        self.sent_at.append(time.monotonic())
        if self.delay:
            # Batches of texts named "slow..." take ten times as long.
            slow = any(t.startswith("slow") for t in batch.texts)
            await asyncio.sleep(self.delay * (10 if slow else 1))
        if self.fail_with is not None and any(t.startswith("fatal") for t in batch.texts):
            raise self.fail_with
        return [f"error:{t}" if t.startswith("bad") else f"{t}!" for t in batch.texts]


def expired(sent: bool) -> str:
    return "expired-in-flight" if sent else "expired-queued"


async def run(b: Batcher, texts, send, *, size=4, give_up_at=FAR, urgent=False, name="r"):
    return await b.run(
        KEY,
        list(texts),
        size=size,
        send=send,
        context=name,
        give_up_at=give_up_at,
        expired=expired,
        urgent=urgent,
    )


async def test_lone_request_sends_its_partial_batch_at_once():
    b: Batcher[str, str] = Batcher(max_wait=5.0)
    up = Upstream()
    started = time.monotonic()
    got = await run(b, ["a", "b", "c", "d", "e", "f"], up)
    assert got == ["a!", "b!", "c!", "d!", "e!", "f!"]
    assert up.batches == [["a", "b", "c", "d"], ["e", "f"]]
    assert time.monotonic() - started < 1.0  # no 5 s wait: nobody else could fill it
    assert b.lane(KEY) is None  # the idle lane is dropped


async def test_concurrent_requests_fill_each_others_batches():
    b: Batcher[str, str] = Batcher(max_wait=5.0)
    up = Upstream(delay=0.05)
    busy = asyncio.create_task(run(b, ["x1", "x2", "x3", "x4"], up, name="busy"))
    await asyncio.sleep(0)
    first = asyncio.create_task(run(b, ["a1", "a2", "a3", "a4", "a5"], up, name="A"))
    await asyncio.sleep(0)  # A is queued: one full batch sent, a5 waits for company
    second = asyncio.create_task(run(b, ["b1", "b2", "b3"], up, name="B"))
    third = asyncio.create_task(run(b, ["c1", "c2", "c3", "c4"], up, name="C"))
    got = await asyncio.gather(first, second, third)
    await busy
    assert got == [
        ["a1!", "a2!", "a3!", "a4!", "a5!"],
        ["b1!", "b2!", "b3!"],
        ["c1!", "c2!", "c3!", "c4!"],
    ]
    # 12 texts in 3 full calls, where one call per request would have made 5.
    assert up.batches[1:] == [
        ["a1", "a2", "a3", "a4"],
        ["a5", "b1", "b2", "b3"],
        ["c1", "c2", "c3", "c4"],
    ]


async def test_partial_batch_waits_at_most_max_wait_while_others_are_active():
    b: Batcher[str, str] = Batcher(max_wait=0.15)
    up = Upstream(delay=1.0)
    busy = asyncio.create_task(run(b, ["x1", "x2", "x3", "x4"], up, name="busy"))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    got = await run(b, ["p1"], up, name="partial")
    waited = up.sent_at[1] - started
    assert got == ["p1!"] and up.batches[1] == ["p1"]
    assert 0.1 <= waited <= 0.15 + 0.25  # it waited for company, and no longer than allowed
    await busy


async def test_partial_batch_leaves_when_the_other_requests_are_done():
    b: Batcher[str, str] = Batcher(max_wait=10.0)
    up = Upstream(delay=0.05)
    busy = asyncio.create_task(run(b, ["x1", "x2", "x3", "x4"], up, name="busy"))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    got = await run(b, ["p1"], up, name="partial")
    assert got == ["p1!"] and time.monotonic() - started < 2.0  # not the 10 s bound
    await busy


async def test_a_query_is_never_delayed_and_takes_the_queue_along():
    b: Batcher[str, str] = Batcher(max_wait=10.0)
    up = Upstream(delay=0.3)
    busy = asyncio.create_task(run(b, ["x1", "x2", "x3", "x4"], up, name="busy"))
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(run(b, ["w1"], up, name="waiting"))
    await asyncio.sleep(0.01)
    assert up.batches == [["x1", "x2", "x3", "x4"]]  # w1 waits for company
    started = time.monotonic()
    query = await run(b, ["q1"], up, urgent=True, name="query")
    assert query == ["q1!"]
    assert up.sent_at[1] - started < 0.05  # sent at once
    assert up.batches[1] == ["w1", "q1"]  # with the waiting text, earlier than planned
    assert await waiting == ["w1!"]
    await busy


async def test_a_bad_text_fails_alone_and_a_raising_call_fails_only_its_requests():
    b: Batcher[str, str] = Batcher(max_wait=0.01)
    up = Upstream(fail_with=RuntimeError("target gone"))
    got = await run(b, ["ok1", "bad2", "ok3"], up)
    assert got == ["ok1!", "error:bad2", "ok3!"]
    with pytest.raises(RuntimeError, match="target gone"):
        await run(b, ["fatal"], up)
    assert await run(b, ["later"], up) == ["later!"]


async def test_deadline_gives_up_on_its_own_texts_only():
    b: Batcher[str, str] = Batcher(max_wait=0.0)
    up = Upstream(delay=0.4)
    long = asyncio.create_task(run(b, ["l1", "l2", "l3"], up, name="long"))
    await asyncio.sleep(0)
    short = await run(
        b, ["s1", "s2", "s3", "s4", "s5", "s6"], up, give_up_at=time.monotonic() + 0.1
    )
    # s1 rode in the first call (with l1-l3) and s2-s5 in the second; s6 too,
    # as the partial rest: all in flight when the deadline came.
    assert short == ["expired-in-flight"] * 6
    assert await long == ["l1!", "l2!", "l3!"]


async def test_deadline_withdraws_texts_still_queued():
    b: Batcher[str, str] = Batcher(max_wait=10.0)
    up = Upstream(delay=0.5)
    busy = asyncio.create_task(run(b, ["x1", "x2", "x3", "x4"], up, name="busy"))
    await asyncio.sleep(0.01)
    got = await run(b, ["q1", "q2"], up, give_up_at=time.monotonic() + 0.05, name="short")
    assert got == ["expired-queued", "expired-queued"]
    await busy
    assert ["q1", "q2"] not in up.batches and all("q1" not in x for x in up.batches)


async def test_a_cancelled_request_withdraws_its_queued_texts():
    b: Batcher[str, str] = Batcher(max_wait=10.0)
    up = Upstream(delay=0.2)
    busy = asyncio.create_task(run(b, ["x1", "x2", "x3", "x4"], up, name="busy"))
    await asyncio.sleep(0.01)
    gone = asyncio.create_task(run(b, ["g1"], up, name="gone"))
    await asyncio.sleep(0.01)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    await busy
    assert all("g1" not in x for x in up.batches)
    await asyncio.sleep(0)
    assert b.lane(KEY) is None


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=30), min_size=1, max_size=10),
    st.integers(min_value=1, max_value=8),
    st.integers(min_value=0, max_value=2**32),
)
def test_every_request_gets_exactly_its_results_in_order(sizes, size, seed):
    rnd = random.Random(seed)  # drawn up front: timings must not change what is drawn

    async def scenario() -> None:
        b: Batcher[str, str] = Batcher(max_wait=0.002)

        async def send(batch: Batch[str, str]) -> list[str]:
            await asyncio.sleep(rnd.random() * 0.003)
            return [f"{t}!" for t in batch.texts]

        async def one(i: int, n: int) -> None:
            await asyncio.sleep(rnd.random() * 0.003)
            texts = [f"r{i}-t{j}" for j in range(n)]
            got = await b.run(
                KEY, texts, size=size, send=send, context=str(i), give_up_at=FAR, expired=expired
            )
            assert got == [f"{t}!" for t in texts]

        await asyncio.gather(*(one(i, n) for i, n in enumerate(sizes)))
        assert b.lane(KEY) is None

    asyncio.run(scenario())


def test_batches_never_exceed_the_size_and_lose_nothing():
    rnd = random.Random(3)

    async def scenario() -> list[list[str]]:
        b: Batcher[str, str] = Batcher(max_wait=0.01)
        up = Upstream(delay=0.001)
        texts = [[f"r{i}-{j}" for j in range(rnd.randint(1, 40))] for i in range(12)]
        await asyncio.gather(*(run(b, t, up, size=7, name=str(i)) for i, t in enumerate(texts)))
        sent = sorted(t for batch in up.batches for t in batch)
        assert sent == sorted(t for ts in texts for t in ts)  # each text sent once
        return up.batches

    batches = asyncio.run(scenario())
    assert max(len(x) for x in batches) <= 7


async def test_a_failed_request_withdraws_its_queued_texts():
    b: Batcher[str, str] = Batcher(max_wait=10.0)
    up = Upstream(delay=0.05, fail_with=RuntimeError("access denied"))
    busy = asyncio.create_task(run(b, ["slow1", "slow2", "slow3", "slow4"], up, name="busy"))
    await asyncio.sleep(0.01)
    with pytest.raises(RuntimeError, match="access denied"):
        await run(b, ["fatal1", "f2", "f3", "f4", "f5", "f6"], up, name="failing")
    await busy
    await asyncio.sleep(0.02)
    assert all("f5" not in x for x in up.batches)  # its partial rest was never sent
    assert b.lane(KEY) is None
