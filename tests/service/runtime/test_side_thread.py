"""The spare thread: one call at a time, never a queue, errors reach the caller, free again after."""

from __future__ import annotations

import threading

import pytest

from service.runtime.side_thread import SideThread


def test_one_call_at_a_time_and_free_again_after_it():
    side, release = SideThread(name="t"), threading.Event()
    try:
        first = side.try_submit(release.wait, 5)
        assert first is not None
        assert side.try_submit(lambda: 1) is None  # busy: the caller keeps the work
        release.set()
        assert first.result(timeout=5) is True
        second = side.try_submit(lambda: 2)
        assert second is not None and second.result(timeout=5) == 2
    finally:
        release.set()
        side.shutdown()


def test_an_error_reaches_the_caller_and_frees_the_thread():
    side = SideThread(name="t")

    def fail():
        raise ValueError("bad rows")

    try:
        failed = side.try_submit(fail)
        assert failed is not None
        with pytest.raises(ValueError, match="bad rows"):
            failed.result(timeout=5)
        again = side.try_submit(lambda: "ok")
        assert again is not None and again.result(timeout=5) == "ok"
    finally:
        side.shutdown()
