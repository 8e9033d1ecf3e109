"""MemoryBudget: weighted reservations, FIFO waiting, bounded wait queue, deadlines."""

from __future__ import annotations

import asyncio

import pytest

from service.runtime.batcher import QueueFull, RequestTimeout
from service.runtime.budget import MemoryBudget


def run(coro):
    return asyncio.run(coro)


def test_reservations_never_sum_past_the_capacity():
    async def main():
        budget = MemoryBudget(100, max_waiters=50)
        inside, most = 0, 0

        async def job(amount):
            nonlocal inside, most
            async with budget.reserve(amount, timeout_s=5) as cost:
                inside += cost
                most = max(most, inside)
                await asyncio.sleep(0.001)
                inside -= cost

        await asyncio.gather(*(job(a) for a in [60, 30, 50, 10, 100, 40] * 5))
        return budget, most

    budget, most = run(main())
    assert most <= 100 and budget.peak == most and budget.peak > 60  # it did run jobs side by side
    assert budget.in_use == 0 and budget.waiting == 0


def test_an_oversized_request_runs_alone_and_a_zero_one_costs_one():
    budget = MemoryBudget(100, max_waiters=1)
    assert budget.cost(10**9) == 100 and budget.cost(0) == 1


def test_waiters_are_served_in_arrival_order_without_overtaking():
    async def main():
        budget = MemoryBudget(100, max_waiters=10)
        order = []
        hold = asyncio.Event()

        async def job(name, amount):
            async with budget.reserve(amount, timeout_s=5):
                order.append(name)
                if name == "first":
                    await hold.wait()

        tasks = [asyncio.create_task(job("first", 80))]
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(job("big", 90)))
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(job("small", 10)))  # would fit now, but must not overtake "big"
        await asyncio.sleep(0.01)
        assert order == ["first"] and budget.waiting == 2
        hold.set()
        await asyncio.gather(*tasks)
        return order

    assert run(main()) == ["first", "big", "small"]


def test_a_full_wait_queue_refuses_at_once_and_a_late_waiter_times_out():
    async def main():
        budget = MemoryBudget(10, max_waiters=1)
        async with budget.reserve(10, timeout_s=1):
            waiter = asyncio.create_task(_reserve(budget, 5, timeout_s=0.05))
            await asyncio.sleep(0)
            assert budget.full
            with pytest.raises(QueueFull, match="10 of 10 bytes in use"):
                await _reserve(budget, 1, timeout_s=1)
            with pytest.raises(RequestTimeout):
                await waiter
            assert budget.waiting == 0 and not budget.full
        assert budget.in_use == 0

    run(main())


def test_a_cancelled_waiter_leaves_nothing_behind():
    async def main():
        budget = MemoryBudget(10, max_waiters=4)
        async with budget.reserve(10, timeout_s=1):
            waiter = asyncio.create_task(_reserve(budget, 5, timeout_s=5))
            await asyncio.sleep(0)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
        assert budget.in_use == 0 and budget.waiting == 0
        await _reserve(budget, 10, timeout_s=0.1)  # still fully usable

    run(main())


def test_on_release_reports_what_was_released_and_what_is_left():
    calls = []

    async def main():
        budget = MemoryBudget(10, max_waiters=4, on_release=lambda released, left: calls.append((released, left)))
        async with budget.reserve(4, timeout_s=1):
            async with budget.reserve(3, timeout_s=1):
                pass
            assert calls == [(3, 4)]
        assert calls == [(3, 4), (4, 0)]

    run(main())


async def _reserve(budget: MemoryBudget, amount: int, *, timeout_s: float) -> None:
    async with budget.reserve(amount, timeout_s=timeout_s):
        await asyncio.sleep(0)
