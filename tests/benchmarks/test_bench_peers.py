"""Smoke test of benchmarks/bench_peers.py: every installed server starts, answers and is compared.

Run as a user runs it (a subprocess starting real servers on 127.0.0.1) on the shared tiny
model with --quick and tiny settings. Timings are NOT checked (they mean nothing on a shared
CI box); what is checked: exit code, every server answered every request with 200, every
ratio line the issue asks for is printed and present in the JSON, and the servers are gone.
LitServe is compared when this environment can import it (the dev extra installs it); BentoML
only from its own environment (``make bentoml-peer``), so here it is skipped with a reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "bench_peers.py"


def litserve_installed() -> bool:
    probe = [sys.executable, "-c", "import litserve"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="module")
def quick_run(tiny_models_root: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("peers") / "peers.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    command = [sys.executable, str(SCRIPT), "--quick", "--model-dir", str(tiny_models_root / "tiny")]
    command += ["--seconds", "0.5", "--clients", "1", "3", "--pool", "4", "--json", str(out)]
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    return proc, (json.loads(out.read_text()) if out.exists() else None)


def test_every_server_answers_and_every_ratio_is_printed(quick_run):
    proc, results = quick_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    servers = {"service", "service-unbatched", "naive"} | ({"litserve"} if litserve_installed() else set())
    rows = results["rows"]
    assert {r["server"] for r in rows} == servers
    assert {(r["upload"], r["clients"]) for r in rows} == {(u, c) for u in ("portrait512", "small64") for c in (1, 3)}
    for row in rows:
        assert row["ok"] > 0 and set(row["statuses"]) == {"200"}, row
        assert 0 < row["p50_ms"] <= row["p99_ms"]
        # CPU of the server's process group and of the client, per answered request
        assert row["server_cpu_ms"] > 0 and row["client_cpu_ms"] > 0, row
    expected = {"throughput vs naive", "p50 vs naive", "throughput batched vs unbatched"}
    expected |= {"server CPU per request, naive / service (info)"}
    if litserve_installed():
        expected |= {"throughput vs LitServe", "server CPU per request, LitServe / service (info)"}
    assert {v["target"] for v in results["targets"]} == expected
    assert {v["clients"] for v in results["targets"]} == {1, 3}  # "many" is the run's largest count
    for verdict in results["targets"]:
        line = f"{verdict['target']:32s} tiny"
        assert line in proc.stdout, f"ratio line missing: {line!r}"


def test_litserve_is_compared_or_skipped_with_a_reason(quick_run):
    proc, results = quick_run
    if litserve_installed():
        assert any(r["server"] == "litserve" for r in results["rows"])
    else:
        assert "skipping litserve: litserve is not importable" in proc.stdout
        pytest.skip("litserve is not installed in this environment (pip install -e '.[dev]' installs it)")


def test_bentoml_is_skipped_with_a_reason_without_its_environment(quick_run):
    """BentoML runs from its own environment (``make bentoml-peer``, ``--bentoml-python``)."""
    proc, results = quick_run
    probe = [sys.executable, "-c", "import bentoml"]
    if subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        pytest.skip("bentoml is importable here, so the default run compares it")
    assert "skipping bentoml: bentoml is not importable" in proc.stdout
    assert not any(r["server"] == "bentoml" for r in results["rows"])
