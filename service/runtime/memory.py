"""Give decoded-image memory back to the OS after a burst (glibc only; a no-op elsewhere).

Measured (benchmarks/RESULTS.md, issue 12): after 32 concurrent decompression-bomb PNGs the
server still held 7.1 GB 15 s later. glibc's malloc raises its mmap threshold dynamically
(up to 32 MB on 64-bit) each time a large mmapped block is freed, so later image buffers
come from the heap arenas instead, and freed heap memory stays with the process. Two fixes,
both through ``mallopt``/``malloc_trim`` (the same knobs as ``MALLOC_MMAP_THRESHOLD_`` and
``MALLOC_TRIM_THRESHOLD_``, but applied by the app itself so every way of starting it gets
them):

* :func:`tune_allocator` pins the mmap threshold (which turns the dynamic adjustment off):
  every allocation of at least ``mmap_threshold`` bytes (an image row block, a numpy array
  of a big image) is its own mmap and goes back to the OS the moment it is freed.
* the number of arenas is capped (``M_ARENA_MAX``, as ``MALLOC_ARENA_MAX=2``): each thread
  of the decode, CPU and engine pools would otherwise get an arena of its own, and each
  keeps its own free memory;
* :func:`release_memory` calls ``malloc_trim(0)`` to return free heap pages of every arena;
  the decode budget calls it after a big reservation ends and when its last one does.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
from functools import cache

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
DEFAULT_ARENA_MAX = 2  # like MALLOC_ARENA_MAX=2: many worker threads, few arenas to fragment
DEFAULT_MMAP_THRESHOLD = 1024 * 1024  # 1 MiB: small objects stay on the fast heap path


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 - musl and other libcs lack it: treat them as "not glibc"
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def tune_allocator(mmap_threshold: int = DEFAULT_MMAP_THRESHOLD, arena_max: int = DEFAULT_ARENA_MAX) -> bool:
    """Pin glibc's mmap and trim thresholds and cap its arenas; True when applied (False: not
    glibc). An operator's own ``MALLOC_ARENA_MAX`` wins over ``arena_max``."""
    libc = _libc()
    if libc is None:
        return False
    applied = bool(libc.mallopt(M_MMAP_THRESHOLD, int(mmap_threshold)))
    applied &= bool(libc.mallopt(M_TRIM_THRESHOLD, int(2 * mmap_threshold)))
    if "MALLOC_ARENA_MAX" not in os.environ:
        applied &= bool(libc.mallopt(M_ARENA_MAX, int(arena_max)))
    if not applied:
        log.warning("mallopt refused mmap threshold %d; memory may stay held after bursts", mmap_threshold)
    return applied


def release_memory() -> bool:
    """``malloc_trim(0)``: hand free heap pages back to the OS; True when some were released."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


def rss_kib(status_path: str = "/proc/self/status") -> dict[str, int]:
    """VmRSS and VmHWM (peak) of this process in KiB, from /proc (empty dict elsewhere)."""
    try:
        with open(status_path) as status:
            lines = status.read().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out
