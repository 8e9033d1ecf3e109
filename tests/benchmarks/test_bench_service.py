"""Smoke test of benchmarks/bench_service.py: it runs end to end and reports what it promises.

The script is run as a user runs it (a subprocess, real uvicorn servers, real HTTP on
127.0.0.1) on the shared tiny model with --quick and a handful of requests. Timings are
NOT checked (they mean nothing on a shared CI box); what is checked: exit code, the
printed lines, the JSON figures are present and consistent, every request succeeded,
and both servers were stopped at the end.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "bench_service.py"
CONCURRENCY = (1, 3)
REQUESTS = 6


def run_bench(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    env.setdefault("OMP_NUM_THREADS", "1")
    command = [sys.executable, str(SCRIPT), *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def quick_run(
    tiny_models_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path_factory.mktemp("bench") / "service.json"
    proc = run_bench(
        "--quick",
        "--models-dir",
        str(tiny_models_root),
        "--model",
        "tiny",
        "--providers",
        "CPUExecutionProvider",
        "--requests",
        str(REQUESTS),
        "--concurrency",
        *map(str, CONCURRENCY),
        "--langevin-steps",
        "50",
        "--json",
        str(out),
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc, json.loads(out.read_text())


def test_prints_every_figure(quick_run) -> None:
    stdout = quick_run[0].stdout
    expected = [
        r"^model: tiny \(16x16, latent 8\) onnx on CPUExecutionProvider",
        r"^engine \(no HTTP, batch 1\): encode\+decode p50 [\d.]+ ms, decode p50 [\d.]+ ms",
        r"^\[batched\] max_batch_size=16 max_batch_wait_ms=0$",
        r"^\[unbatched\] max_batch_size=1 max_batch_wait_ms=0$",
        r"^  /edit sequential latency \(1 client\): p50 [\d.]+ ms  p99 [\d.]+ ms  HTTP overhead factor [\d.]+x",
        r"^  /edit throughput +1 client: +[\d.]+ req/s",
        r"^  /edit throughput +3 clients: +[\d.]+ req/s",
        r"^speed-up from dynamic batching \(batched / unbatched req/s\): 1 client [\d.]+x  3 clients [\d.]+x$",
        # tiny has a fitted prior: both priors are measured, the default (fitted) first
        r"^/generate \(langevin 50 steps, alpha 0.0002, n=1, prior fitted, 1/1 ok\): p50 [\d.]+ ms vs one engine "
        r"decode [\d.]+ ms: \d+x\n/generate \(langevin 50 steps, alpha 0.0002, n=1, prior standard, 1/1 ok\)",
    ]
    for pattern in expected:
        assert re.search(pattern, stdout, re.MULTILINE), f"no line matching {pattern!r} in:\n{stdout}"
    # Both configurations report both concurrencies: 2 sequential-latency and 4 throughput lines.
    assert stdout.count("/edit sequential latency") == 2
    assert len(re.findall(r"^  /edit throughput", stdout, re.MULTILINE)) == 2 * len(CONCURRENCY)


def test_json_figures_are_consistent(quick_run) -> None:
    results = quick_run[1]
    engine = results["engine"]
    assert engine["encode_decode_p50_ms"] > 0 and engine["decode_p50_ms"] > 0
    assert set(results["configs"]) == {"batched", "unbatched"}
    for config in results["configs"].values():
        loads = config["edit"]
        assert [load["concurrency"] for load in loads] == list(CONCURRENCY)
        for load in loads:
            assert load["sent"] == load["ok"] == REQUESTS, load
            assert load["statuses"] == {"200": REQUESTS}
            assert load["p50_ms"] <= load["p99_ms"]
            assert math.isclose(load["requests_per_s"], load["ok"] / load["elapsed_s"])
            assert set(load["mean_batch"]) == {"edit"}, "batch sizes not read from /metrics (/edit is one fused call)"
        assert math.isclose(config["overhead_factor"], loads[0]["p50_ms"] / engine["encode_decode_p50_ms"])
        assert config["ready"]["default_model"] == "tiny"
    # Without batching the server can only ever run batches of one.
    for load in results["configs"]["unbatched"]["edit"]:
        assert load["mean_batch"] == {"edit": 1.0}
    unbatched = {load["concurrency"]: load["requests_per_s"] for load in results["configs"]["unbatched"]["edit"]}
    batched = {load["concurrency"]: load["requests_per_s"] for load in results["configs"]["batched"]["edit"]}
    assert set(results["batching_speedup"]) == {str(n) for n in batched}, "a speedup for every concurrency"
    for n, speedup in results["batching_speedup"].items():
        assert math.isclose(speedup, batched[int(n)] / unbatched[int(n)])
    generate = results["generate"]
    assert generate == results["generate_by_prior"]["fitted"] and set(results["generate_by_prior"]) == {
        "fitted",
        "standard",
    }
    for g in results["generate_by_prior"].values():
        assert g["ok"] == g["sent"] == 1
    assert math.isclose(results["generate_vs_decode"], generate["p50_ms"] / engine["decode_p50_ms"])


def test_servers_are_stopped(quick_run) -> None:
    for label, config in quick_run[1]["configs"].items():
        assert config["returncode"] is not None, f"{label} server still running"
        assert not listening(config["port"]), f"{label} server still listening on {config['port']}"


def test_unknown_model_is_a_clear_error(tiny_models_root: Path) -> None:
    proc = run_bench("--quick", "--models-dir", str(tiny_models_root), "--model", "nope", timeout=60)
    assert proc.returncode == 2
    assert "no model 'nope'" in proc.stderr
    assert "Traceback" not in proc.stderr
