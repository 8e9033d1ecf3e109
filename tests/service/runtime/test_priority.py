"""Worker threads at a lower priority than the event loop (service.runtime.priority)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.runtime.cpu_queue import CpuQueue
from service.runtime.priority import lower_priority
from service.settings import Settings

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")


def own_niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_the_initializer_lowers_only_the_worker_thread():
    before = own_niceness()
    with ThreadPoolExecutor(1, initializer=lower_priority(7)) as pool:
        worker = pool.submit(own_niceness).result()
    assert worker == min(19, before + 7)
    assert own_niceness() == before  # the calling thread (the event loop's, in the service) is untouched


def test_zero_changes_nothing():
    before = own_niceness()
    with ThreadPoolExecutor(1, initializer=lower_priority(0)) as pool:
        assert pool.submit(own_niceness).result() == before


def test_the_cpu_queue_runs_its_jobs_at_the_configured_niceness():
    async def main() -> int:
        queue = CpuQueue("nice", workers=1, capacity=1, timeout_s=5, niceness=5)
        queue.start()
        try:
            return await queue.run(own_niceness)
        finally:
            queue.stop()

    assert asyncio.run(main()) == min(19, own_niceness() + 5)


def test_the_setting_defaults_to_ten_and_is_bounded():
    assert Settings(background_load=False).worker_niceness == 10
    with pytest.raises(ValueError):
        Settings(worker_niceness=20)
