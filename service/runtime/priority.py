"""Worker threads run at a lower CPU priority than the event loop.

On a saturated host every runnable thread competes for the cores: the decode, paste-back,
sampling, detection and engine threads, and the event-loop thread that answers ``/health``,
``/ready`` and the admission 503s. Those answers take microseconds of CPU, but at equal
priority they wait their turn behind the heavy threads, and their latency grows with the load
they exist to report. Raising the heavy threads' nice value (Linux schedules threads, not
processes, so this is per thread) lets the loop run first whenever it has work, while the
workers still get every cycle the loop leaves. Throughput is unchanged; the loop's latency
stops growing with load. Raising a nice value needs no privilege; on platforms without
per-thread priorities it is a no-op.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


def lower_priority(niceness: int) -> Callable[[], None]:
    """An executor ``initializer`` that adds ``niceness`` to the calling thread's nice value."""

    def initializer() -> None:
        if niceness <= 0 or not hasattr(os, "setpriority"):
            return
        tid = threading.get_native_id()
        try:
            current = os.getpriority(os.PRIO_PROCESS, tid)
            os.setpriority(os.PRIO_PROCESS, tid, min(19, current + niceness))
        except OSError as error:  # a sandbox that forbids it: run at normal priority
            log.warning("could not lower the priority of thread %s: %s", threading.current_thread().name, error)

    return initializer
