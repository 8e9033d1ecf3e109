"""Dynamic batcher: per-request contexts (the fused /edit) and the inline path of a lone request."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from service.runtime import batcher as batcher_module
from service.runtime.batcher import DynamicBatcher, RequestTimeout
from tests.support.batching import FakeEngine, config, rows, run


@pytest.fixture(autouse=True)
def every_measured_call_is_fast(monkeypatch):
    """These tests are about which path a lone request takes once the engine is measured fast.
    On a loaded machine a pooled ``x * 2`` has measured over 10 ms (``INLINE_MAX_S``), which
    kept the next request off the inline path: the threshold is lifted here, and
    :func:`test_an_engine_measured_slow_never_runs_inline` checks it with a slow engine."""
    monkeypatch.setattr(batcher_module, "INLINE_MAX_S", 3600.0)


def test_contexts_reach_fn_and_per_request_errors_reach_only_their_caller():
    seen: list[list[object]] = []

    def fn(stacked: np.ndarray, contexts: list[object]) -> list[object]:
        seen.append(list(contexts))
        return [
            ValueError(f"bad {c}") if c == "bad" else (c, float(row[0]))
            for c, row in zip(contexts, stacked, strict=True)
        ]

    async def scenario():
        batcher = DynamicBatcher(fn, config(max_batch_size=4, max_wait_ms=50), with_contexts=True)
        await batcher.start()
        results = await asyncio.gather(
            batcher.submit(rows(1), context="a"),
            batcher.submit(rows(2), context="bad"),
            batcher.submit(rows(3), context="c"),
            return_exceptions=True,
        )
        with pytest.raises(ValueError, match="at most 4 rows"):
            await batcher.submit(rows(0, 5), context="big")  # contexts belong to one chunk
        await batcher.stop()
        return results

    ok_a, failed, ok_c = run(scenario())
    assert ok_a == ("a", 1.0) and ok_c == ("c", 3.0)
    assert isinstance(failed, ValueError) and str(failed) == "bad bad"
    assert seen == [["a", "bad", "c"]]  # one engine call for all three


def test_a_lone_request_on_an_idle_server_runs_on_the_callers_thread():
    engine = FakeEngine()
    alone = {"value": True}
    sizes: list[int] = []

    async def scenario():
        batcher = DynamicBatcher(
            engine.double,
            config(max_wait_ms=0),
            inline_probe=lambda: alone["value"],
            on_batch=lambda size, seconds: sizes.append(size),
        )
        await batcher.start()
        await batcher.submit(rows(0))  # in the pool: only an engine measured fast runs inline
        await asyncio.sleep(0.05)  # its batch task finishes (a lone client's next request comes later)
        pool_threads = set(engine.threads)
        inline = await batcher.submit(rows(1))
        assert engine.threads == pool_threads | {threading.current_thread().name}
        alone["value"] = False  # other requests in flight: the pool thread, where batches form
        pooled = await batcher.submit(rows(2))
        alone["value"] = True
        together = await asyncio.gather(batcher.submit(rows(3)), batcher.submit(rows(4)))  # each finds it idle
        await batcher.stop()
        return inline, pooled, together

    inline, pooled, together = run(scenario())
    assert np.array_equal(inline, rows(1) * 2) and np.array_equal(pooled, rows(2) * 2)
    assert [t[0, 0] for t in together] == [6.0, 8.0]
    main = threading.current_thread().name
    assert main in engine.threads and len(engine.threads) == 2, engine.threads  # inline and the pool
    assert sizes == [1, 1, 1, 1, 1]  # every engine call, inline or not, reaches the metrics hook


def test_an_inline_call_slower_than_the_timeout_is_still_a_timeout():
    engine = FakeEngine()
    timeouts: list[int] = []

    async def scenario():
        batcher = DynamicBatcher(
            engine.double,
            config(max_wait_ms=0, timeout_s=0.05),
            inline_probe=lambda: True,
            on_timeout=lambda: timeouts.append(1),
        )
        await batcher.start()
        await batcher.submit(rows(0))  # measured fast
        await asyncio.sleep(0.05)
        engine.delay_s = 0.1
        with pytest.raises(RequestTimeout):
            await batcher.submit(rows(1))
        await batcher.stop()

    run(scenario())
    assert timeouts == [1]
    assert threading.current_thread().name in engine.threads  # the slow call did run inline


def test_the_inline_path_calls_inline_fn_and_the_pool_calls_fn():
    calls: list[str] = []

    def pooled(stacked: np.ndarray) -> np.ndarray:
        calls.append("fn")
        return stacked * 2

    def inline(stacked: np.ndarray) -> np.ndarray:
        calls.append("inline_fn")
        return stacked * 2

    async def scenario():
        batcher = DynamicBatcher(pooled, config(max_wait_ms=0), inline_probe=lambda: True, inline_fn=inline)
        await batcher.start()
        first = await batcher.submit(rows(0))  # in the pool: only an engine measured fast runs inline
        await asyncio.sleep(0.05)
        second = await batcher.submit(rows(1))
        await batcher.stop()
        return first, second

    first, second = run(scenario())
    assert calls == ["fn", "inline_fn"]
    assert np.array_equal(first, rows(0) * 2) and np.array_equal(second, rows(1) * 2)


def test_an_engine_measured_slow_never_runs_inline(monkeypatch):
    monkeypatch.setattr(batcher_module, "INLINE_MAX_S", 0.010)
    engine = FakeEngine()

    async def scenario():
        batcher = DynamicBatcher(engine.double, config(max_wait_ms=0), inline_probe=lambda: True)
        await batcher.start()
        batcher._call_s = 0.5  # as if earlier calls took 500 ms
        await batcher.submit(rows(0))
        await batcher.stop()

    run(scenario())
    assert threading.current_thread().name not in engine.threads
