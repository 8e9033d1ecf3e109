"""benchmarks/load_tools.py's Prometheus histogram reading, used by the soak for the server's loop lag."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Histogram, generate_latest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from load_tools import group_cpu_s, histogram_counts, histogram_quantile, server_tree  # noqa: E402


def scrape(registry: CollectorRegistry) -> str:
    return generate_latest(registry).decode()


def test_quantiles_count_only_what_was_observed_between_two_scrapes():
    registry = CollectorRegistry()
    lag = Histogram("lag_seconds", "lag", buckets=(0.01, 0.05, 0.1), registry=registry)
    for _ in range(100):
        lag.observe(0.2)  # before the run: must not count
    before = scrape(registry)
    for value in [0.005] * 98 + [0.07] * 2:
        lag.observe(value)
    old, new = histogram_counts(before, "lag_seconds"), histogram_counts(scrape(registry), "lag_seconds")
    assert new[0.01] == 98 and new[float("inf")] == 200
    assert histogram_quantile(old, new, 0.5) == 0.01
    assert histogram_quantile(old, new, 0.99) == 0.1  # 2% of the run's samples sit in (0.05, 0.1]


def test_no_samples_and_no_series_give_none():
    assert histogram_counts("", "lag_seconds") == {}
    assert histogram_quantile({}, {}, 0.99) is None
    assert histogram_quantile({0.1: 3.0, float("inf"): 3.0}, {0.1: 3.0, float("inf"): 3.0}, 0.5) is None


def test_a_server_tree_holds_its_group_and_descendants_in_sessions_of_their_own():
    """BentoML's process manager starts each worker with setsid: its CPU must still count."""
    spin = "import time\nt = time.time()\nwhile time.time() - t < 4: pass"
    spawn_worker = (
        f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {spin!r}], start_new_session=True);"
        " time.sleep(5)"
    )
    parent = subprocess.Popen([sys.executable, "-c", spawn_worker], start_new_session=True)
    tree = {}
    try:
        time.sleep(1.5)  # the worker has spun about a second of CPU in its own session
        tree = server_tree(parent.pid)
        assert parent.pid in tree and len(tree) == 2, tree
        assert group_cpu_s(parent.pid) > 0.5  # the parent only sleeps: the worker's CPU is counted
    finally:
        for pid in tree or [parent.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        parent.wait()
