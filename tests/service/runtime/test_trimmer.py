"""The trimmer runs at most one trim per interval and never drops the last request."""

from __future__ import annotations

import threading
import time

from service.runtime.trimmer import Trimmer


class CountingTrim:
    def __init__(self) -> None:
        self.times: list[float] = []
        self.called = threading.Event()

    def __call__(self) -> None:
        self.times.append(time.monotonic())
        self.called.set()


def _wait_for(condition, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_burst_of_requests_is_one_trim_now_and_one_after_the_interval():
    trim = CountingTrim()
    trimmer = Trimmer(trim, min_interval_s=0.3)
    trimmer.request()
    _wait_for(lambda: len(trim.times) == 1)
    for _ in range(50):  # the rest of the burst, inside the interval
        trimmer.request()
    time.sleep(0.1)
    assert len(trim.times) == 1  # not one trim per request
    _wait_for(lambda: len(trim.times) == 2)  # ... but the burst's last release is trimmed after it
    assert trim.times[1] - trim.times[0] >= 0.3
    time.sleep(0.5)
    assert len(trim.times) == 2  # no request, no trim


def test_a_failing_trim_does_not_stop_later_ones():
    calls: list[int] = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("first trim fails")

    trimmer = Trimmer(flaky, min_interval_s=0.01)
    trimmer.request()
    _wait_for(lambda: len(calls) == 1)
    time.sleep(0.05)
    trimmer.request()
    _wait_for(lambda: len(calls) == 2)


def test_requests_from_many_threads_start_one_thread():
    trim = CountingTrim()
    trimmer = Trimmer(trim, min_interval_s=0.05)
    before = threading.active_count()
    workers = [threading.Thread(target=trimmer.request) for _ in range(16)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert threading.active_count() == before + 1
    assert trim.called.wait(5)
