"""Event-loop lag, sampled all the time: how much later than asked the loop wakes a sleeper.

``/health`` and admission's 503s need microseconds of CPU, so when their tail latency is long
the cause is the event loop answering late: a worker thread holding the GIL, the host's other
processes on the same cores, a blocking call on the loop. Clients cannot tell these apart from
the network. This monitor sleeps ``interval_s`` over and over and reports each oversleep, so
the lag is a metric (``introvac_event_loop_lag_seconds``, :mod:`service.api.metrics`) that an
operator can alert on and a benchmark can read, instead of a guess.

The cost is one timer callback per interval (tens of microseconds); ``interval_s`` 0 turns it
off. The monitor is written here rather than taken from a library because the candidates
(aiomonitor, aiodebug) are debugging consoles or log warnings, not a measurement feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable


class LoopLagMonitor:
    """Runs in the loop it measures; ``on_lag(seconds)`` gets every sample (never negative)."""

    def __init__(self, *, interval_s: float, on_lag: Callable[[float], None]) -> None:
        self.interval_s = interval_s
        self.on_lag = on_lag
        self._task: asyncio.Task | None = None

    @property
    def enabled(self) -> bool:
        return self.interval_s > 0

    async def sample(self) -> float:
        """Sleep one interval and return how much longer than that it took."""
        began = time.perf_counter()
        await asyncio.sleep(self.interval_s)
        return max(0.0, time.perf_counter() - began - self.interval_s)

    async def _run(self) -> None:
        while True:
            self.on_lag(await self.sample())

    def start(self) -> None:
        """Start sampling in the running loop (a no-op when disabled or already running)."""
        if self.enabled and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
