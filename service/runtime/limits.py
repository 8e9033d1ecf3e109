"""The bounded stages around the engine: decode budget, decode threads, CPU work threads.

One :class:`WorkLimits` per app, built from settings and started by the lifespan. Every
expensive step of a request outside the engine goes through it, under the request's
:class:`~service.runtime.cpu_queue.Deadline`:

* decoding: the header is read first (cheap, on the loop), the declared pixels are reserved
  in the :class:`~service.runtime.budget.MemoryBudget`, then the pixels are decoded by the
  ``decode`` queue; the reservation lasts until the request is done with the image;
* latent sampling (``/generate``), residual paste-back and the PNG encoding of a
  full-resolution result: the ``cpu`` queue.

The API's admission middleware asks :attr:`WorkLimits.saturated` before a request body is
read, so an overloaded server refuses in microseconds instead of after parsing an upload.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from service.imaging.decode import DecodedImage, decode_cost_bytes, decode_opened, open_image
from service.runtime.budget import MemoryBudget
from service.runtime.cpu_queue import CpuQueue, Deadline
from service.runtime.memory import release_memory, tune_allocator

T = TypeVar("T")


@dataclass(frozen=True)
class CpuWork:
    """Where one request runs its CPU-heavy steps (sampling, paste-back) and by when."""

    queue: CpuQueue
    deadline: Deadline

    async def run(self, fn: Callable[..., T], /, *args: object) -> T:
        return await self.queue.run(fn, *args, deadline=self.deadline)


@dataclass
class WorkLimits:
    budget: MemoryBudget
    decode: CpuQueue
    cpu: CpuQueue
    timeout_s: float

    @classmethod
    def from_settings(cls, settings: Any) -> WorkLimits:
        """Build from :class:`service.settings.Settings` (field names mapped here, in one place)."""
        timeout = settings.request_timeout_s
        return cls(
            budget=MemoryBudget(
                settings.decode_budget_bytes, max_waiters=settings.decode_queue_depth, on_idle=_trim_in_background
            ),
            decode=CpuQueue(
                "decode", workers=settings.decode_workers, capacity=settings.decode_queue_depth, timeout_s=timeout
            ),
            cpu=CpuQueue("cpu", workers=settings.cpu_workers, capacity=settings.cpu_queue_depth, timeout_s=timeout),
            timeout_s=timeout,
        )

    def start(self) -> None:
        tune_allocator()
        self.decode.start()
        self.cpu.start()

    def stop(self) -> None:
        self.decode.stop()
        self.cpu.stop()

    @property
    def saturated(self) -> bool:
        """An upload arriving now would be refused by the decode stage."""
        return self.budget.full or self.decode.full

    def deadline(self, started: float | None = None) -> Deadline:
        """The request deadline: ``timeout_s`` after ``started`` (monotonic), default now."""
        return Deadline.after(self.timeout_s) if started is None else Deadline(started + self.timeout_s)

    @asynccontextmanager
    async def decoded(
        self,
        data: bytes,
        *,
        size: int,
        max_pixels: int,
        value_range: tuple[float, float],
        draft: bool,
        deadline: Deadline,
    ) -> AsyncIterator[DecodedImage]:
        """Decode ``data`` within the budget; the reservation ends when the block exits.

        ``draft``: only the model input is needed, so a JPEG may decode at reduced scale
        (and reserves only what the reduced image takes)."""
        image = open_image(data, max_pixels, draft_size=size if draft else None)  # header only
        async with self.budget.reserve(decode_cost_bytes(image), timeout_s=deadline.check("decode budget")):
            decoded = await self.decode.run(decode_opened, image, size, value_range, deadline=deadline)
            del image
            yield decoded


_trim_lock = threading.Lock()


def _trim_in_background() -> None:
    """malloc_trim can take milliseconds on a big heap: never on the event loop, never twice."""
    if _trim_lock.acquire(blocking=False):
        threading.Thread(target=_trim_once, name="malloc-trim", daemon=True).start()


def _trim_once() -> None:
    try:
        release_memory()
    finally:
        _trim_lock.release()
