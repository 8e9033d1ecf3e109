"""Smoke test of benchmarks/soak.py: it runs end to end with tiny settings and reports what it
promises (statuses per kind, latencies, connection errors, RSS at start, after warm-up, peak
and end, and the targets). Figures are not checked against the targets' numbers here beyond
what holds on any machine: only 200/503/504, every 503 with Retry-After, no connection error;
the separate prober's kinds are there and its latency target is reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_the_soak_script_runs_and_reports(tiny_models_root, tmp_path):
    out = tmp_path / "soak.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    command = [sys.executable, str(REPO / "benchmarks" / "soak.py"), "--quick", "--models-dir", str(tiny_models_root)]
    command += ["--model", "tiny", "--clients", "4", "--seconds", "2", "--json", str(out)]
    command += ["--worker-niceness", "5", "--client-niceness", "1"]  # both knobs accepted and used
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    figures = json.loads(out.read_text())
    assert figures["requests"] > 0 and set(figures["statuses"]) <= {"200", "503", "504"}, result.stdout
    assert figures["statuses"].get("200", 0) > 0 and figures["connection_errors"] == {}, result.stdout
    assert set(figures["per_kind"]) >= {"edit photo", "generate", "health"}, figures["per_kind"]
    # The prober in its own process timed /health and the photo edit beside the load.
    assert figures["per_kind"]["probe health"].get("200", 0) > 0, figures["per_kind"]
    assert sum(figures["per_kind"]["probe edit"].values()) > 0, figures["per_kind"]
    assert "/health p99 < 50 ms (prober)" in figures["targets"]
    # The server's own loop-lag histogram was scraped before and after the run.
    assert figures["server_loop_lag"]["p99 <= ms"] is not None, figures["server_loop_lag"]
    # Both knobs as measured: the clients' process one nice level lower than this one, and the
    # server's worker threads 5 below its event loop (read from /proc, not echoed from the flags).
    assert figures["client_priority"] == {"niceness": min(19, os.nice(0) + 1), "sched_idle": False}
    base = os.nice(0)  # nice values stop at 19 (service.runtime.priority clamps the same way)
    assert {base, min(19, base + 5)} <= set(figures["server_thread_niceness"]), figures["server_thread_niceness"]
    assert set(figures["rss_kib"]) == {"start", "after_warmup", "peak", "end"}
    assert all(value > 0 for value in figures["rss_kib"].values())
    assert "rss_back_within_10pct_after_s" in figures and "RSS within 10% of after-warm-up" in result.stdout
    targets = figures["targets"]
    assert targets["only 200, 503 and 504"] and targets["every 503 has Retry-After"]
    assert targets["zero connection errors"], result.stdout
    assert "server RSS: start" in result.stdout and "target: zero connection errors: met" in result.stdout
    assert result.returncode == (0 if all(targets.values()) else 1), result.stdout + result.stderr


@pytest.mark.skipif(not hasattr(os, "SCHED_IDLE"), reason="SCHED_IDLE is Linux's")
def test_sched_idle_puts_the_load_clients_thread_under_sched_idle():
    # In a child process: a thread's scheduling policy cannot be raised back without privileges.
    code = (
        "import argparse, os, sys; sys.path.insert(0, 'benchmarks'); import soak; "
        "print(os.sched_getscheduler(0) == os.SCHED_IDLE, end=' '); "
        "soak.lower_client_priority(argparse.Namespace(client_niceness=0, client_sched_idle=True)); "
        "print(os.sched_getscheduler(0) == os.SCHED_IDLE)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["False", "True"], result.stdout + result.stderr
