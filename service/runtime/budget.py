"""A memory budget for decoding: an async weighted semaphore with a bounded, FIFO wait queue.

Decoding is where one small upload becomes a large allocation: a 115 KB PNG of zeros can
declare 6300x6300 pixels and decode to ~400 MB. Counting requests (the batcher's queue) does
not bound that; counting *bytes* does. Each request reserves the bytes its image will take,
estimated from the size its header declares (read before any pixel data is decoded), and
holds them until its response is built, so the images alive at once never sum past
``capacity``. Requests that do not fit
wait in arrival order (a big image is not starved by a stream of small ones), at most
``max_waiters`` of them and never past their deadline: a full wait queue raises
:class:`QueueFull` (HTTP 503 + Retry-After) at once and a wait past the deadline raises
:class:`RequestTimeout` (HTTP 504), the batcher's own errors, so the API maps them unchanged.

Event-loop only (not thread-safe), no HTTP; ``on_release`` lets the app hand freed memory
back to the OS (:func:`service.runtime.memory.release_memory`) after big or last releases.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from service.runtime.batcher import QueueFull, RequestTimeout


@dataclass(eq=False)
class _Waiter:
    amount: int
    future: asyncio.Future = field(repr=False)


class MemoryBudget:
    """At most ``capacity`` bytes reserved at once; ``reserve`` is the only way in."""

    def __init__(
        self,
        capacity: int,
        *,
        max_waiters: int,
        name: str = "decode budget",
        on_release: Callable[[int, int], None] | None = None,
    ) -> None:
        if capacity < 1 or max_waiters < 0:
            raise ValueError(f"capacity must be >= 1 and max_waiters >= 0, got {capacity}, {max_waiters}")
        self.capacity = capacity
        self.max_waiters = max_waiters
        self.name = name
        self._on_release = on_release  # (bytes released, bytes still in use)
        self._in_use = 0
        self._peak = 0
        self._waiters: deque[_Waiter] = deque()

    @property
    def in_use(self) -> int:
        return self._in_use

    @property
    def peak(self) -> int:
        """Most bytes ever reserved at once (what a test or a benchmark compares to capacity)."""
        return self._peak

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @property
    def full(self) -> bool:
        """True when a request that has to wait would be refused: admission checks this early."""
        return len(self._waiters) >= self.max_waiters and (bool(self._waiters) or self._in_use >= self.capacity)

    def cost(self, amount: int) -> int:
        """What a reservation of ``amount`` really takes: at least 1, at most the whole budget
        (an image larger than the budget still runs, alone)."""
        return max(1, min(int(amount), self.capacity))

    @asynccontextmanager
    async def reserve(self, amount: int, *, timeout_s: float) -> AsyncIterator[int]:
        """Hold ``cost(amount)`` bytes for the ``async with`` body; wait FIFO for room."""
        cost = await self.acquire(amount, timeout_s=timeout_s)
        try:
            yield cost
        finally:
            self.release(cost)

    async def acquire(self, amount: int, *, timeout_s: float) -> int:
        """Take ``cost(amount)`` bytes (waiting FIFO for room) and return that cost; the caller
        must :meth:`release` exactly it, once (for holds that outlive one block)."""
        cost = self.cost(amount)
        await self._acquire(cost, timeout_s)
        return cost

    def release(self, cost: int) -> None:
        self._release(cost)

    async def _acquire(self, cost: int, timeout_s: float) -> None:
        if not self._waiters and self._in_use + cost <= self.capacity:
            self._take(cost)
            return
        if len(self._waiters) >= self.max_waiters:
            raise QueueFull(f"{self.name}: {self._in_use} of {self.capacity} bytes in use and {self.waiting} waiting")
        waiter = _Waiter(cost, asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(max(timeout_s, 0.0)):
                await waiter.future
        except BaseException as exc:
            granted = waiter.future.done() and not waiter.future.cancelled()
            self._forget(waiter)
            if granted:
                self._release(cost)  # granted just as the deadline or a cancellation hit: give it back
            if isinstance(exc, TimeoutError):
                raise RequestTimeout(f"{self.name}: no room for {cost} bytes within {timeout_s:.3g}s") from None
            raise

    def _forget(self, waiter: _Waiter) -> None:
        if not waiter.future.done():
            waiter.future.cancel()
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass  # granted: _grant already took it off the queue
        self._grant()  # the head may have changed: a smaller request behind it may now fit

    def _take(self, cost: int) -> None:
        self._in_use += cost
        self._peak = max(self._peak, self._in_use)

    def _release(self, cost: int) -> None:
        self._in_use -= cost
        self._grant()
        if self._on_release is not None:
            self._on_release(cost, self._in_use)

    def _grant(self) -> None:
        """Wake waiters in arrival order while the head fits (no overtaking)."""
        while self._waiters and self._in_use + self._waiters[0].amount <= self.capacity:
            waiter = self._waiters.popleft()
            if waiter.future.done():
                continue
            self._take(waiter.amount)
            waiter.future.set_result(None)
