"""Dynamic batcher: fewer engine calls, each caller its own rows, bounded admission, clean failure."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from service.runtime.batcher import BatcherStopped, BatchingConfig, DynamicBatcher, QueueFull, RequestTimeout
from tests.support.batching import FakeEngine, config, rows, run


def test_concurrent_requests_share_engine_calls_and_get_their_own_rows():
    engine = FakeEngine(delay_s=0.01)
    depths: list[int] = []
    sizes: list[int] = []

    async def main():
        batcher = DynamicBatcher(
            engine.double,
            config(),
            name="t",
            on_queue_depth=depths.append,
            on_batch=lambda size, seconds: sizes.append(size),
        )
        await batcher.start()
        inputs = [rows(100.0 * i, n=1 + i % 3) for i in range(20)]  # 39 rows, distinct values
        outputs = await asyncio.gather(*(batcher.submit(x) for x in inputs))
        await batcher.stop()
        return inputs, outputs

    inputs, outputs = run(main())
    for x, y in zip(inputs, outputs, strict=True):
        np.testing.assert_array_equal(y, x * 2)  # exactly its own rows, in order
    assert sum(engine.batches) == sum(len(x) for x in inputs) == 39
    assert len(engine.batches) < 20  # combined into fewer calls than requests
    assert max(engine.batches) <= 8  # max_batch_size respected
    assert sizes == engine.batches
    assert max(depths) > 1 and depths[-1] == 0
    assert all(name.startswith("t") for name in engine.threads)  # the batcher's own pool, not the loop


def test_tuple_outputs_are_split_per_caller():
    engine = FakeEngine()

    async def main():
        batcher = DynamicBatcher(engine.pair, config())
        await batcher.start()
        results = await asyncio.gather(*(batcher.submit(rows(10.0 * i, 2)) for i in range(4)))
        await batcher.stop()
        return results

    for i, (first, second) in enumerate(run(main())):
        np.testing.assert_array_equal(first, 2 * (10.0 * i + np.arange(2)))
        np.testing.assert_array_equal(second, -first)
    assert len(engine.batches) == 1


def test_oversized_request_is_split_into_max_batch_chunks():
    engine = FakeEngine()

    async def main():
        batcher = DynamicBatcher(engine.double, config(max_batch_size=4, max_wait_ms=0))
        await batcher.start()
        result = await batcher.submit(rows(0.0, 10))
        await batcher.stop()
        return result

    np.testing.assert_array_equal(run(main()), rows(0.0, 10) * 2)
    assert engine.batches == [4, 4, 2]


def test_lone_request_waits_about_max_wait():
    engine = FakeEngine()

    async def main():
        batcher = DynamicBatcher(engine.double, config(max_wait_ms=300))
        await batcher.start()
        started = time.monotonic()
        await batcher.submit(rows(1.0))
        elapsed = time.monotonic() - started
        # A full batch goes at once, without waiting for the timer.
        started = time.monotonic()
        await batcher.submit(rows(1.0, 8))
        full = time.monotonic() - started
        await batcher.stop()
        return elapsed, full

    elapsed, full = run(main())
    assert 0.29 <= elapsed < 2.0
    assert full < 0.2


def test_batching_disabled_runs_each_request_alone():
    engine = FakeEngine(delay_s=0.005)

    async def main():
        batcher = DynamicBatcher(engine.double, config(max_batch_size=1, max_wait_ms=0))
        await batcher.start()
        await asyncio.gather(*(batcher.submit(rows(float(i))) for i in range(6)))
        await batcher.stop()

    run(main())
    assert engine.batches == [1] * 6


def test_full_queue_rejects_immediately_and_counts():
    gate = threading.Event()
    engine = FakeEngine(gate=gate)
    rejects: list[int] = []

    async def main():
        batcher = DynamicBatcher(
            engine.double, config(max_batch_size=1, max_wait_ms=0, max_queue=2), on_reject=lambda: rejects.append(1)
        )
        await batcher.start()
        first = asyncio.create_task(batcher.submit(rows(0.0)))
        while not engine.batches:  # the first request is now inside the (blocked) engine
            await asyncio.sleep(0.001)
        queued = [asyncio.create_task(batcher.submit(rows(float(i)))) for i in (1, 2)]
        await asyncio.sleep(0.01)
        started = time.monotonic()
        with pytest.raises(QueueFull):
            await batcher.submit(rows(3.0))
        with pytest.raises(QueueFull):  # a 3-chunk request does not fit either (all or nothing)
            await batcher.submit(rows(3.0, 3))
        rejected_in = time.monotonic() - started
        gate.set()
        results = await asyncio.gather(first, *queued)
        await batcher.stop()
        return rejected_in, results

    rejected_in, results = run(main())
    assert rejected_in < 0.5  # no waiting: the engine is still blocked
    assert len(rejects) == 2
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result, rows(float(i)) * 2)


def test_timeout_raises_and_the_batcher_keeps_serving():
    gate = threading.Event()
    engine = FakeEngine(gate=gate)
    timeouts: list[int] = []

    async def main():
        batcher = DynamicBatcher(
            engine.double, config(max_batch_size=2, max_wait_ms=0), on_timeout=lambda: timeouts.append(1)
        )
        await batcher.start()
        running = asyncio.create_task(batcher.submit(rows(0.0), timeout_s=0.1))  # stuck in the engine
        while not engine.batches:
            await asyncio.sleep(0.001)
        with pytest.raises(RequestTimeout):  # stuck in the queue behind it
            await batcher.submit(rows(1.0), timeout_s=0.1)
        assert batcher.queue_depth == 0  # the abandoned request left the queue
        with pytest.raises(RequestTimeout):
            await running
        gate.set()
        later = await asyncio.gather(batcher.submit(rows(5.0)), batcher.submit(rows(6.0)))
        await batcher.stop()
        return later

    later = run(main())
    np.testing.assert_array_equal(later[0], rows(5.0) * 2)
    np.testing.assert_array_equal(later[1], rows(6.0) * 2)
    assert len(timeouts) == 2
    assert engine.seen == [0.0, 5.0, 6.0]  # the row that timed out in the queue never ran


def test_engine_error_reaches_only_the_callers_of_that_batch():
    engine = FakeEngine()

    async def main():
        batcher = DynamicBatcher(engine.double, config(max_batch_size=2, max_wait_ms=20))
        await batcher.start()
        # Batches of two in arrival order: [0, 1] fails (row value 1 is poisoned), [2, 3] succeeds.
        engine.fail_on = 1.0
        results = await asyncio.gather(*(batcher.submit(rows(float(i))) for i in range(4)), return_exceptions=True)
        engine.fail_on = None
        after = await batcher.submit(rows(9.0))
        await batcher.stop()
        return results, after

    results, after = run(main())
    assert engine.batches[:2] == [2, 2]
    assert isinstance(results[0], RuntimeError) and isinstance(results[1], RuntimeError)
    np.testing.assert_array_equal(results[2], rows(2.0) * 2)
    np.testing.assert_array_equal(results[3], rows(3.0) * 2)
    np.testing.assert_array_equal(after, rows(9.0) * 2)


def test_mismatched_shapes_are_not_concatenated_together():
    engine = FakeEngine()

    async def main():
        batcher = DynamicBatcher(engine.double, config(max_wait_ms=20))
        await batcher.start()
        a, b, c = await asyncio.gather(
            batcher.submit(rows(1.0)), batcher.submit(np.ones((1, 3), np.float32)), batcher.submit(rows(2.0))
        )
        await batcher.stop()
        return a, b, c

    _, b, c = run(main())
    np.testing.assert_array_equal(b, np.full((1, 3), 2.0, np.float32))
    np.testing.assert_array_equal(c, rows(2.0) * 2)
    assert sorted(engine.batches) == [1, 2]


def test_stop_without_drain_fails_pending_and_rejects_new():
    gate = threading.Event()
    engine = FakeEngine(gate=gate)

    async def main():
        batcher = DynamicBatcher(engine.double, config(max_batch_size=1, max_wait_ms=0))
        await batcher.start()
        tasks = [asyncio.create_task(batcher.submit(rows(float(i)))) for i in range(3)]
        while not engine.batches:
            await asyncio.sleep(0.001)
        await batcher.stop(drain=False)
        gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        with pytest.raises(BatcherStopped):
            await batcher.submit(rows(0.0))
        return results

    results = run(main())
    assert all(isinstance(r, BatcherStopped) for r in results), results


def test_stop_drains_queued_requests():
    engine = FakeEngine(delay_s=0.01)

    async def main():
        batcher = DynamicBatcher(engine.double, config(max_batch_size=2, max_wait_ms=3000))
        await batcher.start()
        tasks = [asyncio.create_task(batcher.submit(rows(float(i)))) for i in range(5)]
        await asyncio.sleep(0.01)
        started = time.monotonic()
        await batcher.stop(drain=True)
        return await asyncio.gather(*tasks), time.monotonic() - started

    results, stop_took = run(main())
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result, rows(float(i)) * 2)
    assert stop_took < 1.5  # draining does not sit out the 3 s batching window


def test_cancelled_caller_does_not_break_the_batch():
    engine = FakeEngine()

    async def main():
        batcher = DynamicBatcher(engine.double, config(max_wait_ms=30))
        await batcher.start()
        keep = asyncio.create_task(batcher.submit(rows(1.0)))
        drop = asyncio.create_task(batcher.submit(rows(2.0)))
        await asyncio.sleep(0.005)
        drop.cancel()  # e.g. the HTTP client disconnected
        result = await keep
        await batcher.stop()
        return result, drop

    result, drop = run(main())
    np.testing.assert_array_equal(result, rows(1.0) * 2)
    assert drop.cancelled()
    assert engine.batches == [1]


def test_bad_input_and_hook_errors():
    engine = FakeEngine()

    def broken_hook(*args):
        raise RuntimeError("metrics backend down")

    async def main():
        batcher = DynamicBatcher(engine.double, config(max_wait_ms=0), on_batch=broken_hook, on_queue_depth=broken_hook)
        with pytest.raises(BatcherStopped):  # not started yet
            await batcher.submit(rows(1.0))
        await batcher.start()
        with pytest.raises(ValueError, match="at least one row"):
            await batcher.submit(np.zeros((0, 2), np.float32))
        result = await batcher.submit(rows(1.0))  # a failing metrics hook must not fail requests
        await batcher.stop()
        return result

    np.testing.assert_array_equal(run(main()), rows(1.0) * 2)


def test_config_is_validated():
    with pytest.raises(ValueError):
        BatchingConfig(max_batch_size=0)
    with pytest.raises(ValueError):
        BatchingConfig(timeout_s=0)


def test_failed_chunk_fails_the_whole_oversized_request_only():
    engine = FakeEngine(fail_on=5.0)

    async def main():
        batcher = DynamicBatcher(engine.double, config(max_batch_size=4, max_wait_ms=0))
        await batcher.start()
        big = batcher.submit(rows(0.0, 10))  # chunks [0-3], [4-7] (poisoned), [8-9]
        results = await asyncio.gather(big, return_exceptions=True)
        later = await batcher.submit(rows(20.0, 3))
        await batcher.stop()
        return results[0], later

    error, later = run(main())
    assert isinstance(error, RuntimeError) and "exploded" in str(error)
    np.testing.assert_array_equal(later, rows(20.0, 3) * 2)


def test_max_inflight_runs_batches_in_parallel_threads():
    gate = threading.Event()
    engine = FakeEngine(gate=gate)

    async def main():
        batcher = DynamicBatcher(engine.double, config(max_batch_size=1, max_wait_ms=0, max_inflight=2))
        await batcher.start()
        tasks = [asyncio.create_task(batcher.submit(rows(float(i)))) for i in range(3)]
        for _ in range(500):  # two batches enter the engine although neither has finished
            if len(engine.batches) >= 2:
                break
            await asyncio.sleep(0.002)
        in_engine = len(engine.batches)
        gate.set()
        await asyncio.gather(*tasks)
        await batcher.stop()
        return in_engine

    assert run(main()) == 2
    assert len(engine.threads) == 2
