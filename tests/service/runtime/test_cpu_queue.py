"""CpuQueue: bounded waiting jobs, worker threads, deadlines, cancellation."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from service.runtime.batcher import BatcherStopped, QueueFull, RequestTimeout
from service.runtime.cpu_queue import CpuQueue, Deadline


def started(**kwargs) -> CpuQueue:
    queue = CpuQueue("test", **{"workers": 1, "capacity": 1, "timeout_s": 5, **kwargs})
    queue.start()
    return queue


def test_runs_jobs_in_worker_threads_and_returns_their_results():
    async def main():
        queue = started(workers=2, capacity=4)
        names = await asyncio.gather(*(queue.run(lambda: threading.current_thread().name) for _ in range(4)))
        assert await queue.run(pow, 2, 10) == 1024
        queue.stop()
        return names

    assert all(name.startswith("test") for name in asyncio.run(main()))


def test_a_full_queue_refuses_at_once():
    async def main():
        queue = started(workers=1, capacity=1)
        gate = threading.Event()
        running = asyncio.create_task(queue.run(gate.wait))
        waiting = asyncio.create_task(queue.run(lambda: "second"))
        await asyncio.sleep(0.01)
        assert queue.full and queue.pending == 2 and queue.waiting == 1
        began = time.perf_counter()
        with pytest.raises(QueueFull, match="1 jobs running and 1 waiting"):
            await queue.run(lambda: "third")
        assert time.perf_counter() - began < 0.05
        gate.set()
        assert await waiting == "second" and await running is True
        await asyncio.sleep(0.01)
        assert queue.pending == 0
        queue.stop()

    asyncio.run(main())


def test_a_job_past_its_deadline_is_a_timeout_and_a_queued_one_never_runs():
    async def main():
        queue = started(workers=1, capacity=2)
        gate = threading.Event()
        ran = []
        blocker = asyncio.create_task(queue.run(gate.wait, deadline=Deadline.after(0.05)))
        queued = asyncio.create_task(queue.run(ran.append, 1, deadline=Deadline.after(0.05)))
        for task in (blocker, queued):
            with pytest.raises(RequestTimeout):
                await task
        assert queue.pending == 1  # the running job still holds its thread, and counts
        gate.set()
        await asyncio.sleep(0.05)
        assert ran == [] and queue.pending == 0
        with pytest.raises(RequestTimeout, match="deadline passed"):
            await queue.run(ran.append, 2, deadline=Deadline(time.monotonic() - 1))
        queue.stop()

    asyncio.run(main())


def test_the_jobs_own_errors_pass_through_and_a_stopped_queue_refuses():
    async def main():
        queue = started()

        def boom():
            raise TimeoutError("the job's own")

        with pytest.raises(TimeoutError, match="the job's own"):
            await queue.run(boom)
        queue.stop()
        with pytest.raises(BatcherStopped):
            await queue.run(lambda: None)

    asyncio.run(main())


@pytest.mark.parametrize("kwargs", [{"workers": 0}, {"capacity": -1}, {"timeout_s": 0}])
def test_bad_configuration_is_refused(kwargs):
    with pytest.raises(ValueError):
        CpuQueue("bad", **{"workers": 1, "capacity": 1, "timeout_s": 1, **kwargs})


def test_on_finish_runs_once_when_the_job_is_really_over():
    async def main():
        queue = started(workers=1, capacity=0)
        gate = threading.Event()
        finished = []
        blocker = asyncio.create_task(
            queue.run(gate.wait, deadline=Deadline.after(0.05), on_finish=lambda: finished.append("blocker"))
        )
        await asyncio.sleep(0.01)
        with pytest.raises(QueueFull):
            await queue.run(lambda: None, on_finish=lambda: finished.append("refused"))
        with pytest.raises(RequestTimeout):
            await blocker
        assert finished == ["refused"]  # the timed-out job still runs in its thread
        gate.set()
        await asyncio.sleep(0.05)
        assert finished == ["refused", "blocker"]
        queue.stop()

    asyncio.run(main())
