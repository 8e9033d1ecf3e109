"""Smoke test of benchmarks/bench_faces.py: it runs end to end on the shipped model and prints its table.

Timings are not checked (meaningless on a shared box); the exit code, the table rows and
the JSON figures are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_faces_quick_run(tmp_path):
    out = tmp_path / "faces.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    env.setdefault("OMP_NUM_THREADS", "1")
    command = [sys.executable, str(REPO / "benchmarks" / "bench_faces.py"), "--sizes", "256", "600", "--quick"]
    done = subprocess.run(
        [*command, "--json", str(out)], cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| 256 px |" in done.stdout and "| 600 px |" in done.stdout
    figures = json.loads(out.read_text())
    assert [row["size"] for row in figures["rows"]] == [256, 600]
    for row in figures["rows"]:
        assert all(
            row[key] > 0 for key in ("detect_ms", "detect_largest_ms", "align_ms", "paste_ms", "edit_auto_residual_ms")
        )
