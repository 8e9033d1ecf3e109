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

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from PIL import Image

from service.imaging.decode import (
    DecodedImage,
    ImageTooLarge,
    cheap_opened,
    decode_cost_bytes,
    decode_opened,
    decode_rgb,
    open_image,
)
from service.runtime.budget import MemoryBudget
from service.runtime.cpu_queue import CpuQueue, Deadline
from service.runtime.memory import release_memory, tune_allocator
from service.runtime.trimmer import Trimmer

T = TypeVar("T")
MiB = 1024 * 1024
# Peak bytes per pixel of the crop box for detail=residual: service.imaging.residual.residual_edit
# works in float32 on the full-resolution crop, then encode_png (measured 51 on a 6000x6000 image,
# benchmarks/RESULTS.md "Reliability").
PASTE_BACK_COST_BYTES_PER_PIXEL = 52
# Releasing at least this much hands free heap pages back to the OS (malloc_trim) right away.
TRIM_AFTER_BYTES = 64 * MiB


class Hold:
    """A budget reservation shared by a request and the jobs it started: released when the
    last of them lets go. A job that outlives its request (a 504 while a thread still decodes
    or pastes back) keeps its memory counted until its thread is really done with it."""

    def __init__(self, budget: MemoryBudget, cost: int) -> None:
        self.budget = budget
        self.cost = cost
        self._holders = 1  # the request itself

    def extend(self) -> Callable[[], None]:
        """One more holder (a job); returns its release, for ``CpuQueue.run(on_finish=...)``."""
        self._holders += 1
        return self.drop

    def drop(self) -> None:
        self._holders -= 1
        if self._holders == 0:
            self.budget.release(self.cost)


@dataclass(frozen=True)
class CpuWork:
    """Where one request runs its CPU-heavy steps (sampling, paste-back), by when, and the
    budget reservation (if any) its jobs keep alive while they run."""

    queue: CpuQueue
    deadline: Deadline
    hold: Hold | None = None

    async def run(self, fn: Callable[..., T], /, *args: object) -> T:
        on_finish = self.hold.extend() if self.hold is not None else None
        return await self.queue.run(fn, *args, deadline=self.deadline, on_finish=on_finish)


@dataclass
class WorkLimits:
    budget: MemoryBudget
    decode: CpuQueue
    cpu: CpuQueue
    timeout_s: float
    uploads_in_transit: int = 0  # admitted uploads whose bodies are still being read

    @classmethod
    def from_settings(cls, settings: Any) -> WorkLimits:
        """Build from :class:`service.settings.Settings` (field names mapped here, in one place)."""
        timeout, nice = settings.request_timeout_s, settings.worker_niceness
        return cls(
            budget=MemoryBudget(
                settings.decode_budget_bytes, max_waiters=settings.decode_queue_depth, on_release=_trim_after
            ),
            decode=CpuQueue(
                "decode",
                workers=settings.decode_workers,
                capacity=settings.decode_queue_depth,
                timeout_s=timeout,
                niceness=nice,
            ),
            cpu=CpuQueue(
                "cpu", workers=settings.cpu_workers, capacity=settings.cpu_queue_depth, timeout_s=timeout, niceness=nice
            ),
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
        """An upload arriving now would be refused by the decode stage, counting the uploads
        already admitted whose bodies are still arriving (:meth:`admit_upload`): under a burst
        every one of them passed the check before any reached the queue, and would be refused
        only after its whole body was read."""
        if self.budget.full or self.decode.full:
            return True
        queued = self.uploads_in_transit + self.budget.waiting + self.decode.pending
        return queued >= self.decode.workers + self.decode.capacity

    def admit_upload(self) -> None:
        """An upload passed admission; its body is being read (:meth:`upload_received` ends it)."""
        self.uploads_in_transit += 1

    def upload_received(self) -> None:
        self.uploads_in_transit = max(0, self.uploads_in_transit - 1)

    def deadline(self, started: float | None = None) -> Deadline:
        """The request deadline: ``timeout_s`` after ``started`` (monotonic), default now."""
        return Deadline.after(self.timeout_s) if started is None else Deadline(started + self.timeout_s)

    def cost_bytes(self, image: Image.Image, *, paste_back: bool) -> int:
        """What decoding ``image`` (and pasting an edit back into it) reserves; 413 when that
        can never fit in the budget, instead of letting it run past the budget."""
        cost = decode_cost_bytes(image)
        if paste_back:
            side = min(image.size)
            cost += side * side * PASTE_BACK_COST_BYTES_PER_PIXEL
        if cost > self.budget.capacity:
            raise ImageTooLarge(
                f"a {image.width}x{image.height} image needs about {cost // MiB} MiB to decode"
                + (" and paste an edit back (detail=residual)" if paste_back else "")
                + f", more than this server's decode budget of {self.budget.capacity // MiB} MiB; "
                + ("use detail=full or send a smaller image" if paste_back else "send a smaller image")
            )
        return cost

    @asynccontextmanager
    async def decoded(
        self,
        data: bytes,
        *,
        size: int,
        max_pixels: int,
        value_range: tuple[float, float],
        paste_back: bool,
        deadline: Deadline,
    ) -> AsyncIterator[tuple[DecodedImage, Hold]]:
        """Decode ``data`` within the budget; yields the image and its :class:`Hold`, which
        ends when the block exits and every job holding it has finished.

        ``paste_back=False``: only the model input is needed, so a JPEG may decode at reduced
        scale (reserving only what the reduced image takes). ``True`` (detail=residual): full
        resolution, and the reservation also covers the paste-back of the edit. An upload
        small in bytes AND in declared pixels (:func:`service.imaging.decode.cheap_opened`)
        decodes right here on the loop: about 0.1 ms, less than the hop to a decode thread and
        back; a bomb (small file, huge header) still goes to the thread."""
        image = open_image(data, max_pixels, draft_size=None if paste_back else size)  # header only
        cost = self.cost_bytes(image, paste_back=paste_back)
        decoding = self._decoding(image, cost, len(data), deadline, decode_opened, size, value_range)
        del image  # from here only the decoding holds the frame, and drops it once converted
        async with decoding as result:
            yield result

    @asynccontextmanager
    async def photo(self, data: bytes, *, max_pixels: int, deadline: Deadline) -> AsyncIterator[Image.Image]:
        """The upload as an oriented RGB image at full resolution (``POST /faces``), decoded
        within the same budget and decode threads as the model's input."""
        image = open_image(data, max_pixels)
        decoding = self._decoding(image, self.cost_bytes(image, paste_back=False), len(data), deadline, decode_rgb)
        del image
        async with decoding as ((rgb, _format), _hold):
            yield rgb

    @asynccontextmanager
    async def _decoding(self, image: Image.Image, cost: int, nbytes: int, deadline: Deadline, fn, *args):
        """``fn(image, *args)`` once ``cost`` bytes of the budget are reserved: on the loop when
        the upload is tiny (a 64x64 decodes in less than a thread hop takes), else in the decode
        queue; yields (its result, the :class:`Hold`)."""
        cost = await self.budget.acquire(cost, timeout_s=deadline.check("decode budget"))
        hold = Hold(self.budget, cost)
        try:
            if cheap_opened(image, nbytes):
                result = fn(image, *args)
            else:
                result = await self.decode.run(fn, image, *args, deadline=deadline, on_finish=hold.extend())
            del image
            yield result, hold
        finally:
            hold.drop()


_trimmer = Trimmer(release_memory)


def _trim_after(released: int, in_use: int) -> None:
    """After a big image (or the last one of a burst) is done, give its memory back."""
    if released >= TRIM_AFTER_BYTES or in_use == 0:
        _trimmer.request()
