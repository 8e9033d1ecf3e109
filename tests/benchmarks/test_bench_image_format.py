"""Smoke test of benchmarks/bench_image_format.py: every format answers, lossy ones are smaller."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_format_answers_the_photo_at_its_size(tmp_path):
    out = tmp_path / "formats.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    env.setdefault("OMP_NUM_THREADS", "1")
    script = REPO / "benchmarks" / "bench_image_format.py"
    command = [sys.executable, str(script), "--side", "320", "--rounds", "1", "--json", str(out)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| image_format | request | vs PNG |" in done.stdout
    rows = {row["format"]: row for row in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"png", "jpeg", "webp"}
    assert all(row["size"] == [320, 320] for row in rows.values())
    assert rows["jpeg"]["bytes"] < rows["png"]["bytes"] and rows["webp"]["bytes"] < rows["png"]["bytes"]
    assert rows["jpeg"]["psnr_db"] > 30 and rows["webp"]["psnr_db"] > 30  # the same photo, lossy
