"""``malloc_trim`` off the event loop, and not too often.

A trim of a big heap takes time and locks each malloc arena while it works, so any thread
that allocates meanwhile, the event loop included, waits: measured under the soak, 31 trims
in 75 s, up to 134.6 ms each (benchmarks/RESULTS.md, issue 12). A burst of big uploads asked
for one trim per upload. :class:`Trimmer` runs at most one trim per ``min_interval_s``; a
request made meanwhile is not dropped but run when the interval is over, so the last release
of a burst is always followed by a trim and memory still goes back after it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

MIN_TRIM_INTERVAL_S = 2.0


class Trimmer:
    """Coalesce trim requests onto one long-lived thread (started by the first request;
    ``Thread.start`` waits for the thread, so never one per request on the loop)."""

    def __init__(self, trim: Callable[[], object], *, min_interval_s: float = MIN_TRIM_INTERVAL_S) -> None:
        self._trim = trim
        self._interval = min_interval_s
        self._wanted = threading.Event()
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        """Ask for a trim: now if none ran in the last interval, else when it is over."""
        self._wanted.set()
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="malloc-trim", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()  # requests from here on get the next trim
            try:
                self._trim()
            except Exception:  # a failed trim must not end the thread: later bursts need it
                log.exception("malloc_trim failed")
            time.sleep(self._interval)
