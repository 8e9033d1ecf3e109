"""WorkLimits: decoding under the budget, and residual edits whose paste-back is reserved too."""

from __future__ import annotations

import asyncio

import pytest

from service.imaging.decode import COST_BYTES_PER_PIXEL, ImageTooLarge
from service.runtime.cpu_queue import Deadline
from service.runtime.limits import PASTE_BACK_COST_BYTES_PER_PIXEL, WorkLimits
from tests.support import images
from tests.support.api import IsolatedSettings


def limits(budget: int, max_pixels: int = 1000) -> WorkLimits:
    settings = IsolatedSettings(decode_budget_bytes=budget, max_pixels=max_pixels, request_timeout_s=5)
    return WorkLimits.from_settings(settings)


async def reserved_while_decoding(work: WorkLimits, data: bytes, *, paste_back: bool) -> int:
    work.start()
    try:
        async with work.decoded(
            data, size=8, max_pixels=10**6, value_range=(0.0, 1.0), paste_back=paste_back, deadline=Deadline.after(5)
        ) as (decoded, _):
            assert decoded.model_input.shape == (3, 8, 8)
            return work.budget.in_use
    finally:
        assert work.budget.in_use == 0  # released when the block ends
        work.stop()


def test_the_reservation_is_the_decode_cost_plus_the_paste_back_for_residual():
    data = images.png_bytes((40, 30))
    work = limits(10**6)
    assert asyncio.run(reserved_while_decoding(work, data, paste_back=False)) == 40 * 30 * COST_BYTES_PER_PIXEL
    paste = 30 * 30 * PASTE_BACK_COST_BYTES_PER_PIXEL  # the crop box only
    assert asyncio.run(reserved_while_decoding(work, data, paste_back=True)) == 40 * 30 * COST_BYTES_PER_PIXEL + paste


def test_a_residual_edit_that_cannot_fit_the_budget_is_413_before_decoding():
    data = images.png_bytes((40, 30))
    budget = 40 * 30 * COST_BYTES_PER_PIXEL + 30 * 30 * PASTE_BACK_COST_BYTES_PER_PIXEL - 1
    work = limits(budget)
    with pytest.raises(ImageTooLarge, match="detail=residual.*use detail=full"):
        asyncio.run(reserved_while_decoding(work, data, paste_back=True))
    assert asyncio.run(reserved_while_decoding(work, data, paste_back=False)) > 0  # detail=full still works


def test_a_decode_that_outlives_its_deadline_keeps_its_memory_counted(monkeypatch):
    import threading

    import service.runtime.limits as limits_mod
    from service.runtime.batcher import RequestTimeout

    gate = threading.Event()
    real = limits_mod.decode_opened

    def slow_decode(*args):
        gate.wait(5)
        return real(*args)

    monkeypatch.setattr(limits_mod, "decode_opened", slow_decode)

    async def main():
        work = limits(10**6)
        work.start()
        with pytest.raises(RequestTimeout):
            async with work.decoded(
                images.png_bytes((200, 100)),  # over INLINE_MAX_PIXELS: decoded in a thread
                size=8,
                max_pixels=10**6,
                value_range=(0.0, 1.0),
                paste_back=False,
                deadline=Deadline.after(0.05),
            ):
                pass
        held_after_504 = work.budget.in_use  # the thread is still decoding
        gate.set()
        for _ in range(100):
            if work.budget.in_use == 0:
                break
            await asyncio.sleep(0.01)
        work.stop()
        return held_after_504, work.budget.in_use

    held, after = asyncio.run(main())
    assert held == 200 * 100 * COST_BYTES_PER_PIXEL and after == 0


def test_a_small_upload_decodes_on_the_loop_and_a_small_bomb_in_a_thread(monkeypatch):
    """64x64: no decode thread at all; a small file declaring a big image: the decode thread."""
    import threading

    import service.runtime.limits as limits_mod

    threads: list[str] = []
    real = limits_mod.decode_opened

    def recording(*args):
        threads.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(limits_mod, "decode_opened", recording)

    async def main():
        work = limits(10**8)
        work.start()
        loop_thread = threading.current_thread().name
        for data in (images.png_bytes((64, 64)), images.png_bytes((300, 300))):
            async with work.decoded(
                data, size=8, max_pixels=10**6, value_range=(0.0, 1.0), paste_back=False, deadline=Deadline.after(5)
            ) as (decoded, _):
                assert decoded.model_input.shape[-1] == 8
        work.stop()
        return loop_thread

    loop_thread = asyncio.run(main())
    assert threads[0] == loop_thread and threads[1].startswith("decode")
