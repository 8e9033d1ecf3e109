"""A fake engine and small helpers for the dynamic batcher's tests."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np

from service.runtime.batcher import BatchingConfig


class FakeEngine:
    """Records the batch sizes it sees; output rows are a function of input rows only."""

    def __init__(self, delay_s: float = 0.0, fail_on: float | None = None, gate: threading.Event | None = None):
        self.batches: list[int] = []
        self.seen: list[float] = []  # first column of every row the engine ran
        self.threads: set[str] = set()
        self.delay_s = delay_s
        self.fail_on = fail_on  # raise when any input row holds this value
        self.gate = gate  # when set, block until the test opens it

    def double(self, x: np.ndarray) -> np.ndarray:
        self.batches.append(int(x.shape[0]))
        self.seen.extend(float(v) for v in x[:, 0])
        self.threads.add(threading.current_thread().name)
        if self.gate is not None:
            self.gate.wait(5)
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_on is not None and np.any(x == self.fail_on):
            raise RuntimeError("engine exploded")
        return x * 2

    def pair(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Like Engine.encode: a tuple of outputs, each to be split per caller."""
        y = self.double(x)
        return y[:, 0], -y[:, 0]


def rows(value: float, n: int = 1) -> np.ndarray:
    """n distinct rows starting at ``value`` (two columns, so the trailing shape matters)."""
    return (value + np.arange(n, dtype=np.float32))[:, None].repeat(2, axis=1)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def config(**overrides) -> BatchingConfig:
    defaults = {"max_batch_size": 8, "max_wait_ms": 50.0, "max_queue": 64, "timeout_s": 5.0}
    return BatchingConfig(**{**defaults, **overrides})
