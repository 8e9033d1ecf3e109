"""The 32-bomb burst stays within the decode budget (benchmarks/bomb_burst.py, live uvicorn).

32 concurrent /edit (and /faces) uploads of a 3000x3000 PNG of zeros (~99 MB of decoding each, 3.2 GB
for all of them at once) against a server whose decode budget holds two: the server's RSS
(sampled every 20 ms from /proc) must never grow by more than the budget, every answer must
be 200, 503 with Retry-After or 504, and the memory must go back after the burst.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from service.imaging.decode import COST_BYTES_PER_PIXEL, WORST_COST_BYTES_PER_PIXEL

REPO = Path(__file__).resolve().parents[2]
SIDE = 3000
MAX_PIXELS = SIDE * SIDE
BUDGET = MAX_PIXELS * WORST_COST_BYTES_PER_PIXEL  # the smallest the settings allow: two RGB bombs fit


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
@pytest.mark.parametrize("route", ["edit", "faces"])
def test_32_concurrent_bombs_stay_within_the_decode_budget(tiny_models_root, tmp_path, route):
    out = tmp_path / "burst.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    command = [sys.executable, str(REPO / "benchmarks" / "bomb_burst.py"), "--models-dir", str(tiny_models_root)]
    command += ["--model", "tiny", "--count", "32", "--side", str(SIDE), "--max-pixels", str(MAX_PIXELS)]
    command += ["--budget-bytes", str(BUDGET), "--route", route, "--json", str(out)]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(out.read_text())
    assert figures["within_budget"] and figures["peak_growth_kib"] * 1024 <= BUDGET, figures
    assert set(figures["statuses"]) <= {"200", "503", "504"} and figures["statuses"].get("200", 0) >= 2, figures
    # Without the budget, 32 decodes at once would need 32 x the cost of one; it held about two.
    one_bomb = MAX_PIXELS * COST_BYTES_PER_PIXEL
    assert figures["peak_growth_kib"] * 1024 < 4 * one_bomb, figures
    assert figures["rss_after_kib"] - figures["rss_before_kib"] < BUDGET / 4 / 1024, figures  # memory went back
    assert "within the budget" in result.stdout
