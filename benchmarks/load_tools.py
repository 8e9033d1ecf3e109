"""Shared by the load scripts (soak.py, bomb_burst.py): hostile images, RSS sampling, tallies.

Everything here is client-side and loopback-only; the server is started by bench_server.py.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def zeros_png(side: int, *, alpha: bool = False) -> bytes:
    """A valid 8-bit RGB (or RGBA) PNG of side x side black pixels, streamed through zlib so
    the image never exists here: 6300x6300 RGB is 115,814 bytes that decode to ~119 MB (the
    decompression bomb of issue 12; RGBA is the costliest mode to convert)."""
    channels = 4 if alpha else 3
    row = 1 + side * channels
    compressor = zlib.compressobj(9)
    block = bytes(1 << 20)
    parts, remaining = [], side * row
    while remaining:
        take = min(remaining, len(block))
        parts.append(compressor.compress(block[:take]))
        remaining -= take
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", side, side, 8, 6 if alpha else 2, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")


def photo(side: int = 512, fmt: str = "PNG", quality: int = 90) -> bytes:
    """scikit-image's astronaut (a real photo), resized to ``side`` when asked."""
    from skimage import data

    image = Image.fromarray(data.astronaut())
    if image.size != (side, side):
        image = image.resize((side, side), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def thread_niceness(pid: int) -> list[int]:
    """The distinct nice values of ``pid``'s threads (field 19 of /proc/<pid>/task/<tid>/stat):
    what a niceness setting really did, not what was asked for."""
    values = set()
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after the (comm), which may hold spaces
        except OSError:
            continue  # the thread ended meanwhile
        values.add(int(fields[16]))  # fields[0] is field 3 (state): field 19 is fields[16]
    return sorted(values)


def read_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in KiB (empty when the process is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            lines = status.read().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


class RssSampler:
    """Polls a process's VmRSS every ``interval_s`` in a thread; ``peak_kib`` since start()."""

    def __init__(self, pid: int, interval_s: float = 0.02) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def now_kib(self) -> int:
        return read_status(self.pid).get("VmRSS", 0)

    def start(self) -> RssSampler:
        self.peak_kib = self.now_kib()
        self._thread.start()
        return self

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak_kib

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_kib = max(self.peak_kib, self.now_kib())


@dataclass
class Tally:
    """Status counts and latencies per request kind; 503s without Retry-After counted apart."""

    statuses: dict[str, Counter] = field(default_factory=dict)
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)  # per "kind status"
    connection_errors: Counter = field(default_factory=Counter)
    missing_retry_after: int = 0

    def add(self, kind: str, status: int, ms: float, headers) -> None:
        self.statuses.setdefault(kind, Counter())[str(status)] += 1
        self.latencies_ms.setdefault(f"{kind} {status}", []).append(ms)
        if status == 503 and "retry-after" not in headers:
            self.missing_retry_after += 1

    def error(self, kind: str, exc: Exception) -> None:
        self.connection_errors[f"{kind}: {type(exc).__name__}"] += 1

    def totals(self) -> Counter:
        out: Counter = Counter()
        for counts in self.statuses.values():
            out.update(counts)
        return out

    def percentiles(self, key: str) -> tuple[float, float] | None:
        values = self.latencies_ms.get(key)
        if not values:
            return None
        p50, p99 = np.percentile(values, [50, 99])
        return float(p50), float(p99)

    def all_of_status(self, status: int) -> list[float]:
        return [v for key, values in self.latencies_ms.items() if key.endswith(f" {status}") for v in values]


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def monotonic_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def histogram_counts(metrics_text: str, name: str) -> dict[float, float]:
    """Cumulative bucket counts {upper bound: count} of one unlabelled Prometheus histogram."""
    for family in text_string_to_metric_families(metrics_text):
        if family.name == name:
            return {float(s.labels["le"]): s.value for s in family.samples if s.name == name + "_bucket"}
    return {}


def histogram_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float | None:
    """The upper bound of the bucket holding quantile ``q`` of what was observed between two
    scrapes (like PromQL's histogram_quantile, without interpolation); None without samples."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    if not counts or counts[-1] <= 0:
        return None
    return next(b for b, c in zip(bounds, counts, strict=True) if c >= q * counts[-1])


def server_tree(pgid: int) -> dict[int, int]:
    """pid -> user + system CPU ticks of every live process in process group ``pgid`` (a server
    this benchmark started with its own group: LitServe's workers included) and of every
    process descended from one (BentoML's process manager starts each worker in a session of
    its own), from /proc."""
    procs: dict[int, tuple[int, int, int]] = {}  # pid -> (ppid, pgrp, ticks)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        # fields after the name: state, ppid, pgrp, ..., utime (11), stime (12)
        procs[int(stat.parent.name)] = (int(fields[1]), int(fields[2]), int(fields[11]) + int(fields[12]))
    counted = {pid for pid, (_, pgrp, _) in procs.items() if pgrp == pgid}
    while more := {pid for pid, (ppid, _, _) in procs.items() if ppid in counted and pid not in counted}:
        counted |= more
    return {pid: procs[pid][2] for pid in counted}


def group_cpu_s(pgid: int) -> float:
    """CPU seconds of the server started as process group ``pgid``, all its processes (:func:`server_tree`)."""
    return sum(server_tree(pgid).values()) / os.sysconf("SC_CLK_TCK")
