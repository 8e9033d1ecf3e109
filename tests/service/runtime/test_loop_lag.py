"""The event-loop lag monitor: a blocked loop shows up as lag, an idle one does not, 0 is off."""

from __future__ import annotations

import asyncio
import time

from fastapi.testclient import TestClient

from service.app import create_app
from service.runtime.loop_lag import LoopLagMonitor
from tests.support.api import make_settings


def test_a_blocked_loop_is_measured_as_lag():
    async def scenario() -> tuple[float, float]:
        monitor = LoopLagMonitor(interval_s=0.01, on_lag=lambda s: None)
        idle = await monitor.sample()
        pending = asyncio.ensure_future(monitor.sample())
        await asyncio.sleep(0)  # the sampler is now asleep in the loop
        time.sleep(0.15)  # a blocking call on the loop, as a GIL-holding thread would cause
        return idle, await pending

    idle, blocked = asyncio.run(scenario())
    assert blocked >= 0.12
    assert idle < blocked


def test_the_monitor_feeds_every_sample_until_stopped():
    samples: list[float] = []

    async def scenario() -> int:
        monitor = LoopLagMonitor(interval_s=0.005, on_lag=samples.append)
        monitor.start()
        await asyncio.sleep(0.2)
        await monitor.stop()
        count = len(samples)
        await asyncio.sleep(0.05)
        return count

    count = asyncio.run(scenario())
    assert count >= 5 and len(samples) == count  # nothing after stop()
    assert all(s >= 0 for s in samples)


def test_interval_zero_turns_it_off():
    async def scenario() -> bool:
        monitor = LoopLagMonitor(interval_s=0, on_lag=lambda s: None)
        monitor.start()
        running = monitor._task is not None
        await monitor.stop()
        return running

    assert asyncio.run(scenario()) is False


def test_the_app_exports_the_lag_histogram(tiny_models_root):
    settings = make_settings(tiny_models_root, loop_lag_interval_ms=5)
    with TestClient(create_app(settings)) as client:
        time.sleep(0.1)
        metrics = client.get("/metrics").text
    count = [line for line in metrics.splitlines() if line.startswith("introvac_event_loop_lag_seconds_count")]
    assert count and float(count[0].split()[-1]) >= 3
