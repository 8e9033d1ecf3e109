"""A real uvicorn server in a subprocess, for tests that need a socket (browsers, SDKs)."""

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

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60


class ServerFailed(RuntimeError):
    """The server exited or never became ready; the message carries its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(process: subprocess.Popen, base_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise ServerFailed(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise ServerFailed(f"server not ready after {START_TIMEOUT_S}s:\n{log.read_text()}")
        time.sleep(0.2)


@contextmanager
def running_server(log: Path, *, uvicorn_log_level: str = "warning", **settings: str) -> Iterator[str]:
    """``uvicorn --factory service.app:create_app`` with ``INTROVAC_<KEY>=value`` for each
    keyword (and no other INTROVAC_ variable); yields the base URL once /ready is 200."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update({f"INTROVAC_{key.upper()}": value for key, value in settings.items()})
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", uvicorn_log_level]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(process, base_url, log)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
