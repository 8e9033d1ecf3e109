"""The serving image's start command, run outside Docker with the image's environment,
brings the service to ready (what the HEALTHCHECK waits for)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "docker" / "service.Dockerfile"


def _image_env() -> dict[str, str]:
    """The ENV values the serving image sets (continuation lines joined)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for key, value in re.findall(r"(\w+)=(\S+)", line[4:]):
                env[key] = value
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_start_command_reaches_ready(tiny_models_root: Path) -> None:
    image_env = _image_env()
    assert image_env["INTROVAC_MODELS_DIR"] == "/app/models"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    env.update({k: v for k, v in image_env.items() if k not in {"PATH", "VIRTUAL_ENV"}})
    # Outside Docker the models live elsewhere and the venv is ours; everything else as in the image.
    env.update(
        INTROVAC_MODELS_DIR=str(tiny_models_root),
        INTROVAC_DEFAULT_MODEL="tiny",
        HOST="127.0.0.1",
        PORT=str(port),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    process = subprocess.Popen(
        ["sh", str(ROOT / "docker" / "start-service.sh")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2)
                status = response.status_code
                if status == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        assert process.poll() is None, process.stdout.read().decode(errors="replace") if process.stdout else ""
        assert status == 200, f"service did not become ready (last status {status})"
        body = response.json()
        assert body["default_model"] == "tiny"
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        assert health.status_code == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
