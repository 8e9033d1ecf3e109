"""The servers bench_peers.py compares, and the random 128x128 paper-architecture model.

Every server gets the same model files, ``OMP_NUM_THREADS=1`` and the same ONNX Runtime
intra-op thread count, listens on 127.0.0.1 on a free port and is started in its own
process group (``bench_server.process_server``), so it is always stopped with all it forked.

- ``service``: this service (uvicorn, one process), continuous batching up to 16 rows;
- ``service-unbatched``: the same with ``max_batch_size=1`` (the batching baseline);
- ``naive``: ``peers/naive_app.py``, the 40-line FastAPI handler (uvicorn, one process);
- ``litserve``: ``peers/litserve_app.py``, LitServe with its dynamic batching (16 rows);
  LitServe always runs its inference loop in a worker process beside the HTTP process;
- ``bentoml``: ``peers/bentoml_app.py``, BentoML with its adaptive batching (16 rows), from the
  environment ``make bentoml-peer`` builds (its own pins would move the service's);
- ``service-before``: ``service`` run from another checkout (``--baseline-root``), for a
  before/after in the same run.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench_server import free_port

REPO = Path(__file__).resolve().parents[1]
PEERS = Path(__file__).resolve().parent / "peers"
KINDS = ("service", "service-unbatched", "naive", "litserve", "bentoml", "service-before")
# What each peer needs to import in its python (the peers run from their own environments).
PEER_MODULES = {"litserve": "litserve", "bentoml": "bentoml"}
BATCH = 16


@dataclass
class ServerSpec:
    """How to start one server: its command, environment, folder and readiness path."""

    kind: str
    cmd: list[str]
    env: dict[str, str]
    port: int
    cwd: Path = REPO
    ready_path: str = "/ready"
    record: dict = field(default_factory=dict)


def uvicorn_cmd(python: str, app: str, port: int, factory: bool = False) -> list[str]:
    cmd = [python, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port)]
    return cmd + ["--log-level", "warning", "--no-access-log"] + (["--factory"] if factory else [])


def base_env(threads: int) -> dict[str, str]:
    """The caller's environment without INTROVAC_* settings, with one OpenMP thread."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("INTROVAC_")}
    env.update(OMP_NUM_THREADS="1", PEER_THREADS=str(threads))
    return env


def server_spec(
    kind: str,
    model_dir: Path,
    threads: int,
    litserve_python: str | None = None,
    service_root: Path = REPO,
    baseline_root: Path | None = None,
    bentoml_python: str | None = None,
) -> ServerSpec:
    """``service_root``: the checkout the service kinds run from; ``baseline_root``: the one
    ``service-before`` runs from (an older commit)."""
    port = free_port()
    env = base_env(threads)
    if kind.startswith("service"):
        env.update(
            INTROVAC_MODELS_DIR=str(model_dir.parent),
            INTROVAC_MODELS=model_dir.name,
            INTROVAC_PROVIDERS="CPUExecutionProvider",
            INTROVAC_INTRA_OP_THREADS=str(threads),
            INTROVAC_MAX_BATCH_SIZE="1" if kind == "service-unbatched" else str(BATCH),
            INTROVAC_MAX_BATCH_WAIT_MS="0",
            INTROVAC_MAX_QUEUE_DEPTH="256",
            INTROVAC_LOG_LEVEL="warning",
        )
        cmd = uvicorn_cmd(sys.executable, "service.app:create_app", port, factory=True)
        if kind == "service-before" and baseline_root is None:
            raise ValueError("service-before needs a baseline checkout (--baseline-root)")
        root = baseline_root if kind == "service-before" else service_root
        return ServerSpec(kind, cmd, env, port, Path(root))
    env["PEER_MODEL_DIR"] = str(model_dir)
    if kind == "naive":
        return ServerSpec(kind, uvicorn_cmd(sys.executable, "naive_app:app", port), env, port, PEERS, "/docs")
    if kind == "litserve":
        env.update(PEER_PORT=str(port), PEER_MAX_BATCH=str(BATCH), PEER_BATCH_TIMEOUT="0")
        cmd = [litserve_python or sys.executable, "litserve_app.py"]
        return ServerSpec(kind, cmd, env, port, PEERS, "/health")
    if kind == "bentoml":
        env.update(PEER_MAX_BATCH=str(BATCH))
        cmd = [bentoml_python or sys.executable, "-m", "bentoml", "serve", "bentoml_app:EditService"]
        return ServerSpec(kind, cmd + ["--host", "127.0.0.1", "--port", str(port)], env, port, PEERS, "/readyz")
    raise ValueError(f"unknown server kind {kind!r}; use one of {KINDS}")


def peer_available(kind: str, python: str | None) -> str | None:
    """None when ``python`` can import what the peer ``kind`` needs, else the reason it cannot."""
    import subprocess

    module = PEER_MODULES[kind]
    probe = subprocess.run(
        [python or sys.executable, "-c", f"import {module}, onnxruntime, PIL, numpy"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode == 0:
        return None
    return f"{module} is not importable by {python or sys.executable}: {probe.stderr.strip().splitlines()[-1:]}"


def export_paper_model(out_dir: Path, name: str = "paper128") -> Path:
    """A VAC with the paper's architecture (128x128, channels 32-64-128-256-512, latent 256)
    and random weights, exported like a trained one (ONNX + manifest); returns its folder."""
    import torch

    from training.config import ModelConfig
    from training.export import export_model
    from training.model import VAC

    attributes = ("eyeglasses", "facial_hair", "male", "smiling")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = VAC(
            ModelConfig(image_size=128, channels=(32, 64, 128, 256, 512), latent_dim=256, attributes=attributes)
        )
    provenance = {"mode": "introvac", "dataset": "synthfaces", "epochs": 0.0, "steps": 0, "git_commit": None}
    provenance["training_config"] = {"note": "benchmarks/peer_servers.py: random weights, never trained"}
    return export_model(model.eval(), Path(out_dir), name, provenance=provenance)
