"""Smoke test of benchmarks/bench_generate.py: it runs end to end on the shipped model with
tiny settings and reports what it promises. Timings are NOT checked (they mean nothing on a
shared CI box); what is checked: exit code, the printed lines, and JSON figures that are
present and consistent with each other."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "bench_generate.py"


def run_bench(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    env.setdefault("OMP_NUM_THREADS", "1")
    command = [sys.executable, str(SCRIPT), *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path_factory.mktemp("bench") / "generate.json"
    proc = run_bench(
        "--steps", "20", "--repeats", "2", "--reference-repeats", "1", "--decode-repeats", "3", "--json", str(out)
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc, json.loads(out.read_text())


def test_prints_every_figure(quick_run) -> None:
    stdout = quick_run[0].stdout
    assert re.search(r"^model: synthfaces-introvac-64, langevin 20 steps of alpha 0.0002", stdout, re.MULTILINE)
    assert re.search(
        r"^one decode \(onnx, CPUExecutionProvider, 1 intra-op thread, batch 1\): p50 [\d.]+ ms \(CPU [\d.]+ ms\)",
        stdout,
        re.M,
    )
    for prior in ("fitted", "standard"):
        for n in (1, 8):
            pattern = (
                rf"^prior {prior} +n={n} +reference p50 +[\d.]+ ms = +[\d.]+x decode \| fast p50 +[\d.]+ ms = +[\d.]+x "
                r"decode \| speed-up [\d.]+x \| acceptance [\d.]+ / [\d.]+\n +CPU time: reference +[\d.]+ ms = +[\d.]+x "
                r"decode CPU \| fast +[\d.]+ ms = +[\d.]+x decode CPU$"
            )
            assert re.search(pattern, stdout, re.MULTILINE), f"no line matching {pattern!r} in:\n{stdout}"


def test_json_figures_are_consistent(quick_run) -> None:
    results = quick_run[1]
    assert results["steps"] == 20 and results["decode_p50_ms"] > 0
    assert [(row["prior"], row["n"]) for row in results["rows"]] == [
        ("fitted", 1),
        ("fitted", 8),
        ("standard", 1),
        ("standard", 8),
    ]
    for row in results["rows"]:
        for label, repeats in (("reference", 1), ("fast", 2)):
            fig = row[label]
            assert fig["p50_ms"] > 0 and fig["repeats"] == repeats and 0.0 < fig["mean_acceptance"] <= 1.0
            assert math.isclose(fig["vs_decode"], fig["p50_ms"] / results["decode_p50_ms"])
            assert math.isclose(fig["cpu_vs_decode"], fig["cpu_p50_ms"] / results["decode_cpu_p50_ms"])
        assert math.isclose(row["speedup"], row["reference"]["p50_ms"] / row["fast"]["p50_ms"])


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    proc = run_bench("--repeats", "0", timeout=60)
    assert proc.returncode == 2 and "--repeats must be at least 1" in proc.stderr
    proc = run_bench("--model-dir", str(tmp_path / "nope"), "--steps", "1", timeout=60)
    assert proc.returncode == 1 and "bench_generate: error:" in proc.stderr and "Traceback" not in proc.stderr
