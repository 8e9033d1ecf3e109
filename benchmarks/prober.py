"""A latency prober in its own process, as an orchestrator's health check or a fresh client is.

The soak's load clients share one asyncio loop: 64 of them building multi-megabyte multipart
bodies and reading responses keep that loop busy, so a request timed from inside it waits for
the client's own loop before and after the server answers, and the load generator's lag is
counted as the server's. A kubelet probe or a new user's request comes from another process
(another machine, in production). This prober is such a process: it sleeps between requests,
so its loop is idle when an answer arrives, and what it times is the server plus the
operating system's scheduling of a mostly idle process.

``probe(url, seconds, ...)`` runs in a spawned process (``run_prober``) and sends, each on its
own schedule, ``GET /health`` and one ``POST /edit`` of the same photo the load sends (which a
saturated server refuses with 503 at admission), ``interval_s`` after each answer.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import Future, ProcessPoolExecutor

import httpx
from load_tools import Tally, monotonic_ms


async def _every(client: httpx.AsyncClient, kind: str, request: dict, stop_at: float, interval_s: float, tally: Tally):
    """Send ``request`` again and again until ``stop_at``, ``interval_s`` after each answer."""
    while time.monotonic() < stop_at:
        began = time.perf_counter()
        try:
            response = await client.request(**request)
            tally.add(kind, response.status_code, monotonic_ms(began), response.headers)
        except httpx.HTTPError as exc:
            tally.error(kind, exc)
        await asyncio.sleep(interval_s)


async def _probe(url: str, seconds: float, interval_s: float, edit: dict, timeout_s: float) -> Tally:
    """/health and the edit on their own schedules: an admitted edit may take seconds, and the
    health checks must not wait for it (an orchestrator's probe does not)."""
    tally = Tally()
    stop_at = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(timeout_s)) as client:
        health = {"method": "GET", "url": "/health"}
        await asyncio.gather(
            _every(client, "probe health", health, stop_at, interval_s, tally),
            _every(client, "probe edit", edit, stop_at, interval_s, tally),
        )
    return tally


def probe(url: str, seconds: float, interval_s: float, edit: dict, timeout_s: float) -> Tally:
    """Probe ``url`` for ``seconds``; the tally of every probe (runs in the prober process)."""
    return asyncio.run(_probe(url, seconds, interval_s, edit, timeout_s))


def run_prober(url: str, seconds: float, edit: dict, *, interval_s: float = 0.1, timeout_s: float = 60.0):
    """Start the prober in a fresh (spawned) process; returns (executor, future of its Tally).
    The caller drives the load, then takes ``future.result()`` and shuts the executor down."""
    executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    future: Future = executor.submit(probe, url, seconds, interval_s, edit, timeout_s)
    return executor, future


def merge(into: Tally, other: Tally) -> Tally:
    """Add ``other``'s counts and latencies to ``into`` (kinds do not overlap)."""
    for kind, counts in other.statuses.items():
        into.statuses.setdefault(kind, type(counts)()).update(counts)
    for key, values in other.latencies_ms.items():
        into.latencies_ms.setdefault(key, []).extend(values)
    into.connection_errors.update(other.connection_errors)
    into.missing_retry_after += other.missing_retry_after
    return into
