"""Smoke test of benchmarks/bench_small_uploads.py: it runs end to end and prints its figures.

Timings are not checked (meaningless on a shared box); the table rows, the counts and what
align=auto did with a 64 px upload on the shipped model are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_small_uploads_quick_run(tmp_path):
    out = tmp_path / "small.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    env.setdefault("OMP_NUM_THREADS", "1")
    command = [sys.executable, str(REPO / "benchmarks" / "bench_small_uploads.py"), "--sizes", "64"]
    done = subprocess.run(
        [*command, "--faces", "4", "--repeats", "3", "--json", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| 64 px synthfaces | 4 |" in done.stdout and "| 64 px photos | 4 |" in done.stdout
    figures = json.loads(out.read_text())
    assert [(r["size"], r["kind"], r["images"]) for r in figures["rows"]] == [(64, "synthfaces", 4), (64, "photos", 4)]
    assert all(0 <= r["usable"] <= r["found"] <= r["images"] and r["detect_p50_ms"] > 0 for r in figures["rows"])
    edit = figures["edit"]
    assert edit["auto_alignment"] == "centre" and edit["auto_reason"].startswith("a 64x64 upload fits")
    assert edit["centre_reason"] == "align=centre" and edit["edit_auto_p50_ms"] > 0
