"""Dynamic batching with bounded admission, in the manner of Triton's dynamic batcher.

Many small requests are stacked into one engine call, because an accelerator (and, less
so, a CPU) does far more rows per second on a batch than on single rows. One worker task
per batcher takes the oldest waiting request, then keeps gathering until the batch holds
``max_batch_size`` rows or ``max_wait_ms`` have passed since that oldest request arrived,
concatenates, runs the engine function in a dedicated thread pool (never on the event
loop), and splits the outputs back to each caller's future.

Admission is bounded so overload turns into fast, explicit errors instead of unbounded
latency: a full queue raises :class:`QueueFull` at once (HTTP 503 + Retry-After) and a
request not answered within its timeout raises :class:`RequestTimeout` (HTTP 504). A
timed-out or cancelled request is removed from the queue, or, if its batch is already
running, its rows are computed and dropped; the other callers of that batch are unaffected.

A request with more rows than ``max_batch_size`` is split into chunks of at most
``max_batch_size`` rows that queue as separate items (so no engine call ever exceeds the
size that was warmed up and budgeted for); the caller gets the chunks' outputs joined back
in order, or the first error of any chunk.

``max_batch_size=1`` is the unbatched baseline; ``max_wait_ms=0`` takes what is queued.
With an ``inline_probe`` saying the server is otherwise idle, a request that finds nothing
queued or running runs on the caller's thread when engine calls are fast (``INLINE_MAX_S``).
With ``with_contexts=True`` each request also carries a context object (e.g. its edit
parameters) and ``fn(stacked, contexts)`` returns one result per request, or an exception
instance for a request that failed alone: a whole pipeline (encode, edit, decode, PNG) then
costs one thread hop per batch (:mod:`service.runtime.fused`). The module has no
dependencies beyond numpy and asyncio; metrics are wired through optional callbacks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from service.runtime.batch_parts import (  # noqa: F401  (re-exported: the batcher's public names)
    BatcherError,
    BatcherStopped,
    BatchingConfig,
    EngineFn,
    Output,
    QueueFull,
    RequestTimeout,
    call_hook,
    join_outputs,
    split_output,
)
from service.runtime.priority import lower_priority

log = logging.getLogger(__name__)

# Slowest engine call (moving average) still run on the caller's thread when idle: a hop to
# the pool and back costs ~0.1-1 ms of wake-ups, which matters only next to a fast call.
INLINE_MAX_S = 0.010


@dataclass(eq=False)
class _Item:
    array: np.ndarray
    future: asyncio.Future
    context: object = None
    enqueued: float = field(default_factory=time.monotonic)

    @property
    def rows(self) -> int:
        return int(self.array.shape[0])


class DynamicBatcher:
    """Batches calls to one engine function (e.g. ``engine.encode``) over numpy arrays.

    Create, ``await start()`` inside the running event loop (app lifespan), ``await
    submit(array)`` from request handlers, ``await stop()`` at shutdown.
    """

    def __init__(
        self,
        fn: EngineFn,
        config: BatchingConfig | None = None,
        *,
        name: str = "batcher",
        on_batch: Callable[[int, float], None] | None = None,
        on_queue_depth: Callable[[int], None] | None = None,
        on_reject: Callable[[], None] | None = None,
        on_timeout: Callable[[], None] | None = None,
        with_contexts: bool = False,
        inline_probe: Callable[[], bool] | None = None,
        inline_fn: Callable | None = None,
    ) -> None:
        self.fn = fn
        # what the inline path calls instead of fn (same signature): work that may use a free core
        self.inline_fn = inline_fn or fn
        self.with_contexts = with_contexts
        self._inline_probe = inline_probe  # True: the server has no other request in flight
        self._call_s = 0.0  # moving average of engine call time
        self.config = config or BatchingConfig()
        self.name = name
        self._on_batch = on_batch
        self._on_queue_depth = on_queue_depth
        self._on_reject = on_reject
        self._on_timeout = on_timeout
        self._queue: deque[_Item] = deque()
        self._wakeup: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._worker: asyncio.Task | None = None
        self._running: dict[asyncio.Task, list[_Item]] = {}  # batch tasks and their items
        self._executor: ThreadPoolExecutor | None = None
        self._accepting = False

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self._accepting

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    async def start(self) -> None:
        """Start the worker task and its thread pool (call from inside the event loop)."""
        if self._worker is not None:
            return
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(self.config.max_inflight)
        self._executor = ThreadPoolExecutor(
            self.config.max_inflight, thread_name_prefix=self.name, initializer=lower_priority(self.config.niceness)
        )
        self._accepting = True
        self._worker = asyncio.create_task(self._work(), name=f"{self.name}-worker")

    async def stop(self, drain: bool = True, drain_timeout_s: float = 10.0) -> None:
        """Stop accepting requests; finish queued ones (``drain``) or fail them with BatcherStopped.

        Requests still unanswered after ``drain_timeout_s`` are failed too, so shutdown is
        bounded. Engine calls already running in a thread cannot be interrupted; their
        callers are failed and the thread is left to finish in the background.
        """
        if self._worker is None:
            return
        self._accepting = False
        assert self._wakeup is not None
        self._wakeup.set()
        if drain:
            deadline = time.monotonic() + drain_timeout_s
            await asyncio.wait([self._worker], timeout=drain_timeout_s)
            # The worker may have started batches while draining: wait for those too.
            while self._running and time.monotonic() < deadline:
                await asyncio.wait(list(self._running), timeout=deadline - time.monotonic())
            if not self._worker.done() or self._running:
                log.warning("%s: drain timed out after %.1fs; failing the rest", self.name, drain_timeout_s)
        self._worker.cancel()
        batches = dict(self._running)  # snapshot: done-callbacks remove finished tasks
        for task in batches:
            task.cancel()
        await asyncio.gather(self._worker, *batches, return_exceptions=True)
        stopped = BatcherStopped(f"{self.name} stopped")
        for items in batches.values():  # a batch cancelled before it ever ran fails nobody itself
            for item in items:
                if not item.future.done():
                    item.future.set_exception(stopped)
        self._fail_queued(stopped)
        self._worker = None
        self._running.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _fail_queued(self, error: BaseException) -> None:
        while self._queue:
            item = self._queue.popleft()
            if not item.future.done():
                item.future.set_exception(error)
        self._report_depth()

    # ------------------------------------------------------------------ admission

    async def submit(self, array: np.ndarray, timeout_s: float | None = None, context: object = None) -> Output:
        """Queue ``array`` (rows on axis 0) and return the engine's output for exactly those rows.

        Raises QueueFull at once when there is no room, RequestTimeout after ``timeout_s``
        (default ``config.timeout_s``), BatcherStopped when not running, ValueError for an
        empty or non-array input, or the engine's own exception for this request's batch.
        """
        if not self._accepting:
            raise BatcherStopped(f"{self.name} is not running")
        if not isinstance(array, np.ndarray) or array.ndim < 1 or array.shape[0] == 0:
            raise ValueError(f"{self.name}: submit needs an array with at least one row on axis 0")
        step = self.config.max_batch_size
        chunks = [array[i : i + step] for i in range(0, array.shape[0], step)]
        if self.with_contexts and len(chunks) > 1:
            raise ValueError(f"{self.name}: a request with a context may hold at most {step} rows")
        timeout = self.config.timeout_s if timeout_s is None else timeout_s
        if self._inline_ok(len(chunks)):
            return self._run_inline(array, context, timeout)
        if len(self._queue) + len(chunks) > self.config.max_queue:
            self._call(self._on_reject)
            raise QueueFull(f"{self.name}: queue is full ({self.config.max_queue} waiting)")
        loop = asyncio.get_running_loop()
        items = [_Item(chunk, loop.create_future(), context) for chunk in chunks]
        self._queue.extend(items)
        self._report_depth()
        assert self._wakeup is not None
        self._wakeup.set()
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                pieces = [await item.future for item in items]
        except TimeoutError:
            if not deadline.expired():
                raise  # the engine's own TimeoutError, not ours
            self._call(self._on_timeout)
            raise RequestTimeout(f"{self.name}: no answer within {timeout:.3g}s") from None
        finally:
            self._abandon(items)
        return join_outputs(pieces)

    def _inline_ok(self, chunks: int) -> bool:
        """A lone request on an idle server (``inline_probe``), nothing queued or running, a
        fast engine: run it on the caller's thread; the hop would cost more than it buys."""
        fast = 0.0 < self._call_s <= INLINE_MAX_S  # measured on earlier calls, never assumed
        if chunks != 1 or self._inline_probe is None or self._queue or self._running or not fast:
            return False
        try:
            return bool(self._inline_probe())
        except Exception:
            log.exception("%s: inline probe failed", self.name)
            return False

    def _run_inline(self, array: np.ndarray, context: object, timeout: float) -> Output:
        started = time.perf_counter()
        output = self.inline_fn(array, [context])[0] if self.with_contexts else self.inline_fn(array)
        seconds = time.perf_counter() - started
        self._timed(int(array.shape[0]), seconds)
        if seconds > timeout:  # the same answer a pooled call gets: late is a timeout
            self._call(self._on_timeout)
            raise RequestTimeout(f"{self.name}: no answer within {timeout:.3g}s")
        if isinstance(output, BaseException):
            raise output
        return output

    def _timed(self, rows: int, seconds: float) -> None:
        self._call_s = 0.8 * self._call_s + 0.2 * seconds if self._call_s else seconds
        self._call(self._on_batch, rows, seconds)

    def _abandon(self, items: list[_Item]) -> None:
        """Drop this request's unfinished items (timeout, error in a sibling chunk, cancellation)."""
        removed = False
        for item in items:
            if item.future.done() and not item.future.cancelled():
                item.future.exception()  # mark a sibling chunk's error as seen (no "never retrieved" log)
                continue  # answered (or failed) by its batch
            item.future.cancel()  # awaiting it was interrupted: the future may be cancelled already
            try:
                self._queue.remove(item)
                removed = True
            except ValueError:
                pass  # already in a running batch: its result will be discarded
        if removed:
            self._report_depth()

    # ------------------------------------------------------------------ worker

    async def _work(self) -> None:
        assert self._wakeup is not None and self._slots is not None
        try:
            while True:
                await self._slots.acquire()  # gather only when a batch could start right away
                try:
                    batch = await self._gather()
                except BaseException:
                    self._slots.release()
                    raise
                if batch is None:
                    self._slots.release()
                    return
                task = asyncio.create_task(self._run(batch))
                self._running[task] = batch
                task.add_done_callback(lambda t: self._running.pop(t, None))
        except Exception:  # a bug here must not leave callers hanging until their timeouts
            log.exception("%s: worker crashed; rejecting requests", self.name)
            self._accepting = False
            self._fail_queued(BatcherStopped(f"{self.name} worker crashed"))

    async def _wait_for_wakeup(self, timeout: float | None) -> None:
        assert self._wakeup is not None
        self._wakeup.clear()
        try:
            async with asyncio.timeout(timeout):
                await self._wakeup.wait()
        except TimeoutError:
            pass

    async def _gather(self) -> list[_Item] | None:
        """Wait for the oldest item, then for company until full or its wait budget is spent.

        Returns None when stopping and nothing is left. Items whose caller already gave up
        are skipped; items with a different trailing shape or dtype than the oldest one stay
        queued for the next batch, so one odd request never breaks a concatenation.
        """
        cfg = self.config
        while True:
            self._drop_abandoned_head()
            if not self._queue:
                if not self._accepting:
                    return None
                await self._wait_for_wakeup(None)
                continue
            deadline = self._queue[0].enqueued + cfg.max_wait_ms / 1000.0
            while self._accepting and self._queued_rows() < cfg.max_batch_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                await self._wait_for_wakeup(remaining)
            self._drop_abandoned_head()
            if self._queue:  # else every waiting caller gave up meanwhile: start over
                return self._take_batch()

    def _drop_abandoned_head(self) -> None:
        while self._queue and self._queue[0].future.done():
            self._queue.popleft()

    def _queued_rows(self) -> int:
        return sum(item.rows for item in self._queue if not item.future.done())

    def _take_batch(self) -> list[_Item]:
        first = self._queue.popleft()
        batch, rows = [first], first.rows
        key = (first.array.shape[1:], first.array.dtype)
        kept: list[_Item] = []
        while self._queue and rows < self.config.max_batch_size:
            item = self._queue.popleft()
            if item.future.done():
                continue
            if (item.array.shape[1:], item.array.dtype) != key or rows + item.rows > self.config.max_batch_size:
                kept.append(item)
                if rows + item.rows > self.config.max_batch_size:
                    break  # keep arrival order: do not let later small items overtake it
                continue
            batch.append(item)
            rows += item.rows
        self._queue.extendleft(reversed(kept))
        self._report_depth()
        return batch

    async def _run(self, batch: list[_Item]) -> None:
        """Run one engine call off the loop and hand each caller its rows (or the error)."""
        assert self._slots is not None
        loop = asyncio.get_running_loop()
        try:
            live = [item for item in batch if not item.future.done()]
            if not live:
                return
            arrays = [item.array for item in live]
            stacked = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
            started = time.perf_counter()
            try:
                if self.with_contexts:
                    contexts = [item.context for item in live]
                    pieces = list(await loop.run_in_executor(self._executor, self.fn, stacked, contexts))
                else:
                    output = await loop.run_in_executor(self._executor, self.fn, stacked)
                    pieces = split_output(output, [item.rows for item in live])
            except Exception as exc:  # noqa: BLE001 - the engine's error goes to this batch's callers only
                for item in live:
                    if not item.future.done():
                        item.future.set_exception(exc)
                return
            self._timed(int(stacked.shape[0]), time.perf_counter() - started)
            for item, piece in zip(live, pieces, strict=True):
                if item.future.done():
                    continue
                if isinstance(piece, BaseException):  # this request alone failed (with_contexts)
                    item.future.set_exception(piece)
                else:
                    item.future.set_result(piece)
        except asyncio.CancelledError:
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(BatcherStopped(f"{self.name} stopped"))
            raise
        finally:
            self._slots.release()

    # ------------------------------------------------------------------ metrics

    def _report_depth(self) -> None:
        self._call(self._on_queue_depth, len(self._queue))

    def _call(self, hook: Callable | None, *args: object) -> None:
        call_hook(self.name, hook, *args)
