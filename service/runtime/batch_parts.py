"""The parts of the dynamic batcher that are plain data: its errors, its config, how a
batch output is cut back into per-request pieces, and the metrics-hook caller it shares with
the face pool (kept apart so ``batcher.py`` holds only the scheduling logic)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

log = logging.getLogger("service.runtime.batcher")

Output = np.ndarray | tuple[np.ndarray, ...]
EngineFn = Callable[[np.ndarray], Output]


class BatcherError(RuntimeError):
    """Base class of the admission errors the API maps to HTTP statuses."""


class QueueFull(BatcherError):
    """The queue already holds ``max_queue`` requests: reject now (HTTP 503 + Retry-After)."""


class RequestTimeout(BatcherError):
    """The request was not answered within its timeout (HTTP 504)."""


class BatcherStopped(BatcherError):
    """The batcher is not running (not started yet, or shutting down): HTTP 503."""


@dataclass(frozen=True)
class BatchingConfig:
    """Knobs of one batcher; the defaults suit a small model on one device."""

    max_batch_size: int = 32  # rows per engine call
    max_wait_ms: float = 5.0  # how long the oldest request may wait for company
    max_queue: int = 256  # queued items (requests or chunks) before QueueFull
    timeout_s: float = 10.0  # per-request deadline, queueing included
    max_inflight: int = 1  # engine calls running at once (= threads of the pool)
    niceness: int = 0  # added to the engine threads' nice value (service.runtime.priority)

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.max_queue < 1 or self.max_inflight < 1:
            raise ValueError("max_batch_size, max_queue and max_inflight must be >= 1")
        if self.max_wait_ms < 0 or self.timeout_s <= 0:
            raise ValueError("max_wait_ms must be >= 0 and timeout_s > 0")


def split_output(output: Output, sizes: list[int]) -> list[Output]:
    """Cut a batch output (array or tuple of arrays) back into per-item pieces."""
    bounds = np.cumsum(sizes)[:-1]
    if isinstance(output, (tuple, list)):
        parts = [np.split(np.asarray(o), bounds) for o in output]
        return [tuple(p[i] for p in parts) for i in range(len(sizes))]
    return list(np.split(np.asarray(output), bounds))


def join_outputs(pieces: list[Output]) -> Output:
    if len(pieces) == 1:
        return pieces[0]
    if isinstance(pieces[0], (tuple, list)):
        return tuple(np.concatenate(group) for group in zip(*pieces, strict=True))
    return np.concatenate(pieces)


def call_hook(owner: str, hook: Callable | None, *args: object) -> None:
    """Metrics must never break serving: hook errors are logged and ignored."""
    if hook is None:
        return
    try:
        hook(*args)
    except Exception:
        log.exception("%s: metrics hook %r failed", owner, hook)
