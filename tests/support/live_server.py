"""A real uvicorn server on a free local port, for tests that go through the network like users do.

``live_server(models_root, log)`` starts ``uvicorn --factory service.app:create_app`` with the
tiny models (CPU, short Langevin budget), waits for ``/ready`` and yields the base URL; the
SDK tests call it through generated clients, the start-up tests watch it fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_uvicorn(models_root: Path, port: int, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """uvicorn in a subprocess; ``INTROVAC_*`` of the calling shell are dropped, ``env`` added."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    full_env.update(
        PYTHONPATH=str(REPO) + os.pathsep + full_env.get("PYTHONPATH", ""),
        INTROVAC_MODELS_DIR=str(models_root),
        INTROVAC_DEFAULT_MODEL="tiny",
        INTROVAC_PROVIDERS="CPUExecutionProvider",
        INTROVAC_MAX_LANGEVIN_STEPS="100",
        **(env or {}),
    )
    command = [sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with open(log, "wb") as out:
        return subprocess.Popen(command, cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT)


def _wait_ready(process: subprocess.Popen, base_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"server not ready after {START_TIMEOUT_S}s:\n{log.read_text()}")
        time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def live_process(
    models_root: Path, log: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """The base URL and process of a ready server (stopped on exit), for tests that signal it."""
    port = free_port()
    process = start_uvicorn(models_root, port, log, env)
    try:
        _wait_ready(process, f"http://127.0.0.1:{port}", log)
        yield f"http://127.0.0.1:{port}", process
    finally:
        stop(process)


@contextmanager
def live_server(models_root: Path, log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """The base URL of a ready server (stopped on exit)."""
    with live_process(models_root, log, env) as (url, _):
        yield url
