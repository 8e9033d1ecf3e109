"""Smoke test of benchmarks/bench_paste.py: both modes run, and the regions shrink the eyeglasses change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(tmp_path: Path, *flags: str) -> dict:
    out = tmp_path / f"paste{'-'.join(flags)}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    env.setdefault("OMP_NUM_THREADS", "1")
    command = [sys.executable, str(REPO / "benchmarks" / "bench_paste.py"), *flags, "--json", str(out)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| eyeglasses (3) |" in done.stdout
    return {row["attribute"]: row for row in json.loads(out.read_text())["rows"]}


def test_regions_confine_the_eyeglasses_edit(tmp_path):
    on, off = run(tmp_path), run(tmp_path, "--no-regions")
    assert all(row["outside_changed_px"] == 0 for row in [*on.values(), *off.values()])
    assert on["eyeglasses"]["face_over_10"] < 0.7 * off["eyeglasses"]["face_over_10"]  # measured 26.3% vs 49.6%
    assert on["male"] == off["male"]  # no region for male: the same edit either way
    # The aligned crop holds the face box, so it changes less, in share, than the box does.
    for row in on.values():
        assert 0 < row["crop_over_10"] < row["face_over_10"], row  # eyeglasses measured 4.1% vs 26.3%
