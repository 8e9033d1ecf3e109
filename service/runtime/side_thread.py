"""One spare thread for the second engine call of a lone request.

A lone ``/edit`` on an idle server runs on one core while the other waits: its decoder call
holds two rows, the edited latent and ``D(mean)`` for the out-of-domain signal, and the
second row only feeds the typicality headers. :class:`SideThread` runs that row, and the
typicality computed from it, on a spare thread from the moment the mean is known, while the
caller edits the latent, decodes it and encodes its PNG, so the two overlap (ONNX Runtime
and libpng release the GIL). It takes one call at a time and says no when busy, so
no work ever waits on it, and the registry gives it only to the batcher's inline path: under
load every core already has work (benchmarks/RESULTS.md, "a lone request's D(mean) on a
spare thread").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class SideThread:
    """At most one call in flight; :meth:`try_submit` returns ``None`` instead of queueing."""

    def __init__(self, *, name: str = "side") -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._busy = threading.Lock()

    def try_submit(self, fn: Callable[..., T], *args: object) -> Future[T] | None:
        """Start ``fn(*args)`` on the spare thread, or ``None`` when it is busy or shut down."""
        if not self._busy.acquire(blocking=False):
            return None

        def run() -> T:
            try:
                return fn(*args)
            finally:
                self._busy.release()

        try:
            return self._pool.submit(run)
        except RuntimeError:  # shut down: the caller does the work itself
            self._busy.release()
            return None

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
