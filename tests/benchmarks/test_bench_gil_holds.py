"""Smoke test of benchmarks/bench_gil_holds.py: every step is timed with its longest gap."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_step_reports_its_time_and_longest_gap(tmp_path):
    out = tmp_path / "gil.json"
    command = [sys.executable, str(REPO / "benchmarks" / "bench_gil_holds.py"), "--side", "400", "--repeats", "1"]
    done = subprocess.run([*command, "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| step | time ms | longest ticker gap ms |" in done.stdout
    rows = json.loads(out.read_text())["rows"]
    assert {row["step"] for row in rows} >= {"alpha_composite, one call (before)", "over_white, in strips (now)"}
    assert all(row["ms"] > 0 and row["longest_gap_ms"] >= 0 for row in rows)
