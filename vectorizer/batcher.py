"""Batch filling across requests: concurrent requests for one target share calls.

Cohere takes 96 texts a call and a SageMaker endpoint its `batchSize`, but a
request rarely holds a multiple of that: 500 texts are five full calls and
one of 20. With eight callers importing at once, every request ends in such a
partial call (240 calls for 20,000 texts where 209 would do). Here the texts
of all requests for the same lane wait in one queue and leave it in full
batches, whoever sent them.

- `Batcher`: the lanes by key; `run(key, texts, ...)` queues one request's
  texts and returns their results in order.
- `Lane`: one target, purpose, option set and credential: the queue of texts
  not yet sent, in arrival order, and the calls in flight.
- `Ticket`: one request's share: its texts, where their results go, its own
  deadline, and the caller's context (handed to `send` with each batch).
- `Batch`: what one upstream call sends: the texts, and how many of them
  belong to which ticket.

When a batch leaves the queue (`Lane._pump`):
1. As soon as `size` texts wait: nothing is gained by holding a full batch.
2. A partial batch waits for more texts only when more are likely: another
   request of the lane is in progress, so its caller may well send the next
   one meanwhile (a lone caller never waits). It waits while its requests
   still have calls of theirs in flight (they cannot finish before those
   anyway), then at most `max_wait` more. So a request is slowed, at worst,
   by the one call of its last texts plus `max_wait`, and only when other
   requests are in progress and none sent texts during its own calls. Why
   not a fixed few ms: with eight callers importing, a new request arrives
   once per request duration / 8, which is tens to hundreds of ms when the
   upstream or this process is busy; a fixed few-ms wait then fills nothing
   (238 calls for 20,000 texts in 500s, against 209 possible).
3. A query never waits (`urgent`): its batch leaves at once, taking along
   whatever else the lane has queued (sent earlier than planned, never later).
Each request keeps its own deadline: at it, the request stops waiting, its
texts still queued are withdrawn, and the caller's `expired` results stand
in for every text without a result. A batch in flight carries on for the
other requests in it (the engine runs it to the latest of their deadlines).
Errors that `send` raises (the target is gone, access denied) fail every
request in that batch; per-text outcomes, retries and the halving that
isolates a bad text are `send`'s business and reach each request in order.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

R = TypeVar("R")  # one text's result
C = TypeVar("C")  # the caller's context of a request

# How long a partial batch may wait for more texts, by default (seconds).
DEFAULT_MAX_WAIT = 0.005


@dataclass(eq=False)
class Ticket(Generic[R, C]):
    texts: list[str]
    context: C
    give_up_at: float  # clock time at which the request stops waiting
    results: list[R | None] = field(init=False)
    done: asyncio.Future[None] = field(init=False)
    left: int = field(init=False)  # texts without a result yet
    withdrawn: bool = False
    in_flight: int = 0  # calls carrying texts of this request
    idle_since: float = 0.0  # when its last call ended (or it arrived)

    def __post_init__(self) -> None:
        self.results = [None] * len(self.texts)
        self.left = len(self.texts)
        self.done = asyncio.get_running_loop().create_future()

    def fill(self, start: int, results: Sequence[R]) -> None:
        if self.withdrawn or self.done.done():
            return  # gave up already: the results are no one's
        self.results[start : start + len(results)] = results
        self.left -= len(results)
        if self.left <= 0:
            self.done.set_result(None)

    def fail(self, exc: BaseException) -> None:
        if not (self.withdrawn or self.done.done()):
            self.done.set_exception(exc)


@dataclass
class Batch(Generic[R, C]):
    """One upstream call: `texts` in order; `shares` say whose they are."""

    texts: list[str]
    shares: list[tuple[Ticket[R, C], int, int]]  # (ticket, start, count), in text order

    @property
    def contexts(self) -> list[C]:
        return [t.context for t, _, _ in self.shares]


Send = Callable[[Batch[R, C]], Awaitable[Sequence[R]]]


class Lane(Generic[R, C]):
    """Texts of one target waiting to be sent, and the calls of the lane in flight."""

    def __init__(
        self,
        size: int,
        send: Send[R, C],
        max_wait: float,
        clock: Callable[[], float],
        on_empty: Callable[[Lane[R, C]], None],
    ):
        self.size = max(1, size)
        self.send = send
        self.max_wait = max_wait
        self.clock = clock
        self._on_empty = on_empty
        # Queued runs of texts: (ticket, start, stop, arrived).
        self._queue: deque[tuple[Ticket[R, C], int, int, float]] = deque()
        self.queued = 0
        self.active: set[Ticket[R, C]] = set()  # requests in progress
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0

    # -- requests ------------------------------------------------------------

    def add(self, ticket: Ticket[R, C], urgent: bool) -> None:
        self.active.add(ticket)
        ticket.idle_since = self.clock()
        if ticket.texts:
            self._queue.append((ticket, 0, len(ticket.texts), ticket.idle_since))
            self.queued += len(ticket.texts)
        self._pump(urgent)

    def withdraw(self, ticket: Ticket[R, C]) -> None:
        """The request left: its queued texts are not sent."""
        ticket.withdrawn = True
        self.active.discard(ticket)
        self._unqueue(ticket)
        self._pump(False)
        self._maybe_empty()

    def _unqueue(self, ticket: Ticket[R, C]) -> None:
        if any(t is ticket for t, *_ in self._queue):
            kept = [run for run in self._queue if run[0] is not ticket]
            self.queued = sum(stop - start for _, start, stop, _ in kept)
            self._queue = deque(kept)

    def finished(self, ticket: Ticket[R, C]) -> None:
        self.active.discard(ticket)
        if self.queued:
            self._pump(False)  # with one request fewer, waiting may no longer pay
        self._maybe_empty()

    # -- dispatch ------------------------------------------------------------

    def _pump(self, urgent: bool) -> None:
        while self.queued >= self.size:
            self._dispatch(self.size)
        if not self.queued:
            self._cancel_timer()
            return
        owners = {run[0] for run in self._queue}
        if urgent or self.max_wait <= 0 or not (self.active - owners):
            self._dispatch(self.queued)
            self._cancel_timer()
            return
        if any(t.in_flight for t in owners):
            # Its requests wait for calls of theirs anyway; the end of each
            # call looks again (`_run`).
            self._cancel_timer()
            return
        due = max(self._queue[0][3], max(t.idle_since for t in owners)) + self.max_wait
        if self._timer is None or self._timer_due != due:
            self._cancel_timer()
            self._timer_due = due
            delay = max(0.0, due - self.clock())
            self._timer = asyncio.get_running_loop().call_later(delay, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if self.queued:
            self._dispatch(self.queued)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _dispatch(self, count: int) -> None:
        texts: list[str] = []
        shares: list[tuple[Ticket[R, C], int, int]] = []
        while count and self._queue:
            ticket, start, stop, arrived = self._queue[0]
            take = min(count, stop - start)
            texts.extend(ticket.texts[start : start + take])
            shares.append((ticket, start, take))
            if take == stop - start:
                self._queue.popleft()
            else:
                self._queue[0] = (ticket, start + take, stop, arrived)
            count -= take
            self.queued -= take
            ticket.in_flight += 1
        task = asyncio.ensure_future(self._run(Batch(texts, shares)))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._maybe_empty()

    async def _run(self, batch: Batch[R, C]) -> None:
        try:
            results = await self.send(batch)
        except BaseException as exc:  # noqa: BLE001 - every request of the batch gets it
            for ticket, _, _ in batch.shares:
                ticket.fail(exc)
                self._unqueue(ticket)  # the rest of a failed request is not sent
            if not isinstance(exc, Exception):
                raise
        else:
            offset = 0
            for ticket, start, count in batch.shares:
                ticket.fill(start, results[offset : offset + count])
                offset += count
        finally:
            now = self.clock()
            for ticket, _, _ in batch.shares:
                ticket.in_flight -= 1
                if not ticket.in_flight:
                    ticket.idle_since = now
            if self.queued:
                self._pump(False)

    def _maybe_empty(self) -> None:
        if not self.active and not self.queued and not self._tasks:
            self._cancel_timer()
            self._on_empty(self)


class Batcher(Generic[R, C]):
    """Lanes by key; `run` is the one entry point."""

    def __init__(
        self, max_wait: float = DEFAULT_MAX_WAIT, clock: Callable[[], float] = time.monotonic
    ):
        self.max_wait = max_wait
        self.clock = clock
        self._lanes: dict[Hashable, Lane[R, C]] = {}

    def lane(self, key: Hashable) -> Lane[R, C] | None:
        return self._lanes.get(key)

    async def run(
        self,
        key: Hashable,
        texts: list[str],
        *,
        size: int,
        send: Send[R, C],
        context: C,
        give_up_at: float,
        expired: Callable[[bool], R],
        urgent: bool = False,
    ) -> list[R]:
        """Results for `texts`, in order.

        `send` makes one upstream call of a batch (from the lane's first
        request: every request of a lane has the same target and credential).
        At `give_up_at` (clock time) texts without a result get
        `expired(sent)`, `sent` telling whether they had left the queue.
        """
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = Lane(
                size, send, self.max_wait, self.clock, lambda empty: self._drop(key, empty)
            )
        ticket: Ticket[R, C] = Ticket(list(texts), context, give_up_at)
        lane.add(ticket, urgent)
        try:
            await asyncio.wait_for(
                asyncio.shield(ticket.done), timeout=max(0.0, give_up_at - self.clock())
            )
        except asyncio.TimeoutError:
            queued = _queued_indexes(lane, ticket)
            lane.withdraw(ticket)
            return [
                r if r is not None else expired(i not in queued)
                for i, r in enumerate(ticket.results)
            ]
        except BaseException:
            # Failed or cancelled: its texts still queued are no one's now.
            lane.withdraw(ticket)
            raise
        lane.finished(ticket)
        return ticket.results  # type: ignore[return-value] # every slot is filled

    def _drop(self, key: Hashable, lane: Lane[R, C]) -> None:
        # Only this lane: a newer one may hold the key by now.
        if self._lanes.get(key) is lane:
            del self._lanes[key]


def _queued_indexes(lane: Lane[R, C], ticket: Ticket[R, C]) -> set[int]:
    out: set[int] = set()
    for t, start, stop, _ in lane._queue:
        if t is ticket:
            out.update(range(start, stop))
    return out
