"""Face detection off the event loop, under the same admission rules as inference.

Detection is a blocking CPU call (tens to hundreds of milliseconds), so it runs in its own
small thread pool, never on the event loop, and it is bounded the way the batchers are:
more than ``max_queue`` detections waiting or running raises
:class:`~service.runtime.batcher.QueueFull` at once (HTTP 503 + Retry-After), and a detection
not answered within ``timeout_s`` raises :class:`~service.runtime.batcher.RequestTimeout`
(HTTP 504). A timed-out detection cannot be interrupted inside dlib; its thread finishes
in the background and its slot frees only then, so a flood of slow photos turns into 503s
rather than a growing backlog.

``hooks`` (optional callbacks, like the batchers'): ``on_detect(seconds, faces)`` after each
finished detection, ``on_reject()`` on a full queue, ``on_timeout()`` past the deadline; the
API wires them to its Prometheus series (``service.api.metrics``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from service.runtime.batch_parts import call_hook
from service.runtime.batcher import BatcherStopped, QueueFull, RequestTimeout
from service.runtime.cpu_queue import timeout_left
from service.runtime.faces import Detection, FaceDetector
from service.runtime.priority import lower_priority


class FacePool:
    """``await detect(rgb)``: bounded, deadline-checked detection in worker threads."""

    def __init__(
        self,
        detector: FaceDetector,
        *,
        workers: int = 1,
        max_queue: int = 64,
        timeout_s: float = 30.0,
        niceness: int = 0,
        hooks: dict[str, Callable] | None = None,
    ):
        if workers < 1 or max_queue < 1 or timeout_s <= 0:
            raise ValueError("workers and max_queue must be >= 1 and timeout_s > 0")
        self.detector = detector
        self.max_queue = max_queue
        self.timeout_s = timeout_s
        self._executor: ThreadPoolExecutor | None = ThreadPoolExecutor(
            workers, thread_name_prefix="faces", initializer=lower_priority(niceness)
        )
        self._pending = 0  # detections waiting or running, including abandoned ones still running
        self._hooks = dict(hooks or {})

    @property
    def pending(self) -> int:
        return self._pending

    async def detect(
        self, photo: Image.Image | np.ndarray, timeout_s: float | None = None, *, largest: bool = False
    ) -> Detection:
        """The faces of ``photo`` (``largest``: only the largest one counts, see :meth:`FaceDetector.detect`)."""
        if self._executor is None:
            raise BatcherStopped("face detection is not running")
        if self._pending >= self.max_queue:
            self._call("on_reject")
            raise QueueFull(f"face detection queue is full ({self.max_queue} waiting)")
        if timeout_s is None:
            timeout_s = timeout_left("face detection")  # the request's deadline, when there is one
        timeout = self.timeout_s if timeout_s is None else timeout_s
        self._pending += 1
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._timed_detect, photo, largest)
        future.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            self._call("on_timeout")
            raise RequestTimeout(f"face detection did not finish within {timeout:.3g}s") from None

    def _timed_detect(self, photo: Image.Image | np.ndarray, largest: bool = False) -> Detection:
        """The detection in its worker thread, reported to ``on_detect`` with its own time (an
        abandoned one too: it used the CPU all the same)."""
        if "on_detect" not in self._hooks:
            return self.detector.detect(photo, largest=largest)
        start = time.perf_counter()
        detection = self.detector.detect(photo, largest=largest)
        self._call("on_detect", time.perf_counter() - start, len(detection.faces))
        return detection

    def _call(self, name: str, *args) -> None:
        call_hook("face detection", self._hooks.get(name), *args)

    def _release(self, future: asyncio.Future) -> None:
        self._pending -= 1
        if not future.cancelled():
            future.exception()  # seen: an abandoned detection's error must not be logged as lost

    @classmethod
    def from_settings(cls, settings, hooks: dict[str, Callable] | None = None) -> FacePool | None:
        """Load the detector per :class:`service.settings.Settings` (blocking; None when switched off)."""
        if not settings.face_detection:
            return None
        detector = FaceDetector.load(
            max_side=settings.face_max_side,
            max_faces=settings.face_max_faces,
            min_face_px=settings.face_min_px,
            min_score=settings.face_min_score,
        )
        return cls(
            detector,
            workers=settings.face_workers,
            max_queue=settings.max_queue_depth,
            timeout_s=settings.request_timeout_s,
            niceness=settings.worker_niceness,
            hooks=hooks,
        )

    def stop(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
