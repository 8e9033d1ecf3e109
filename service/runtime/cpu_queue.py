"""A bounded queue of CPU work (decoding, latent sampling, paste-back) with deadlines.

The engine calls are bounded by their batchers; everything else a request does on the CPU
used to go to an unbounded thread pool, so 24 concurrent ``/generate`` calls all waited
(up to 30 s) and none was ever refused. A :class:`CpuQueue` owns ``workers`` threads and
admits at most ``capacity`` jobs waiting for one: the next job gets :class:`QueueFull`
(HTTP 503 + Retry-After) at once, and a job not finished by its deadline gets
:class:`RequestTimeout` (HTTP 504). A job that times out before a thread picks it up is
never run; one already running cannot be interrupted (Python threads cannot be killed), so
its thread finishes it and it still counts against the queue until then, which keeps
admission honest about the work really in progress.

The errors are the batcher's own, so the API maps them without knowing this module.
Event-loop side only; the jobs themselves run in the worker threads.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from service.runtime.batcher import BatcherStopped, QueueFull, RequestTimeout
from service.runtime.priority import lower_priority

T = TypeVar("T")


@dataclass(frozen=True)
class Deadline:
    """A point in monotonic time by which a request must be answered, shared by its stages."""

    at: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def check(self, what: str) -> float:
        """The seconds left, or RequestTimeout when none are."""
        left = self.remaining()
        if left <= 0:
            raise RequestTimeout(f"{what}: the request deadline passed")
        return left


# The deadline of the request being served, set by the API's admission middleware for each
# request: the engine batchers and face detection read it (timeout_left), so that one deadline,
# counted from the request's arrival, bounds every stage without each call passing it along.
current_deadline: ContextVar[Deadline | None] = ContextVar("introvac_request_deadline", default=None)


def timeout_left(what: str) -> float | None:
    """Seconds until the current request's deadline (RequestTimeout when none are left), or
    None outside a request (the caller's own default timeout then applies)."""
    deadline = current_deadline.get()
    return None if deadline is None else deadline.check(what)


class CpuQueue:
    """``workers`` threads, ``capacity`` waiting jobs, per-job deadline (default ``timeout_s``)."""

    def __init__(self, name: str, *, workers: int, capacity: int, timeout_s: float, niceness: int = 0) -> None:
        if workers < 1 or capacity < 0 or timeout_s <= 0:
            raise ValueError(f"need workers >= 1, capacity >= 0, timeout_s > 0; got {workers}, {capacity}, {timeout_s}")
        self.name = name
        self.workers = workers
        self.capacity = capacity
        self.timeout_s = timeout_s
        self.niceness = niceness  # added to the worker threads' nice value (service.runtime.priority)
        self._pending = 0  # jobs submitted and not finished (running + waiting)
        self._executor: ThreadPoolExecutor | None = None

    @property
    def pending(self) -> int:
        return self._pending

    @property
    def waiting(self) -> int:
        return max(0, self._pending - self.workers)

    @property
    def full(self) -> bool:
        """True when the next job would be refused (admission checks this before reading a body)."""
        return self._pending >= self.workers + self.capacity

    @property
    def running(self) -> bool:
        return self._executor is not None

    def start(self) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                self.workers, thread_name_prefix=self.name, initializer=lower_priority(self.niceness)
            )

    def stop(self) -> None:
        """Refuse new jobs; jobs not started are dropped, running ones finish in the background."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def run(
        self,
        fn: Callable[..., T],
        /,
        *args: object,
        deadline: Deadline | None = None,
        on_finish: Callable[[], None] | None = None,
    ) -> T:
        """``fn(*args)`` in a worker thread; QueueFull, RequestTimeout or BatcherStopped otherwise.

        ``on_finish`` is called exactly once, on the event loop, when the job is over: refused,
        skipped, or done running, which after a RequestTimeout can be much later. Whoever keeps
        memory for the job (the decode budget) releases it there, not when the caller gives up."""
        try:
            if self._executor is None:
                raise BatcherStopped(f"{self.name} is not running")
            timeout = self.timeout_s if deadline is None else deadline.check(self.name)
            if self.full:
                raise QueueFull(f"{self.name}: {self.workers} jobs running and {self.capacity} waiting")
            job: Future = self._executor.submit(fn, *args)
        except BaseException:
            if on_finish is not None:
                on_finish()
            raise
        self._pending += 1
        loop = asyncio.get_running_loop()
        job.add_done_callback(lambda _: self._finished_from_thread(loop, on_finish))
        return await self._wait(job, timeout)

    async def _wait(self, job: Future, timeout: float):
        scope = asyncio.timeout(timeout)
        try:
            async with scope:
                return await asyncio.wrap_future(job)
        except TimeoutError:
            if not scope.expired():
                raise  # the job's own TimeoutError
            job.cancel()  # skipped if no thread has picked it up yet
            raise RequestTimeout(f"{self.name}: not done within {timeout:.3g}s") from None
        except asyncio.CancelledError:
            job.cancel()  # the client went away: a job that has not started is skipped
            raise

    def _finished_from_thread(self, loop: asyncio.AbstractEventLoop, on_finish: Callable[[], None] | None) -> None:
        try:
            loop.call_soon_threadsafe(self._finished, on_finish)
        except RuntimeError:
            pass  # the loop is closed (shutdown): nobody counts any more

    def _finished(self, on_finish: Callable[[], None] | None) -> None:
        self._pending -= 1
        if on_finish is not None:
            on_finish()
