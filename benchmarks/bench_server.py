"""Start the service in a uvicorn subprocess on 127.0.0.1 and always stop it (for benchmarks).

The benchmark talks only to its own server: the host is fixed, the port is a free one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # never anything else


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def wait_ready(proc: subprocess.Popen, url: str, timeout_s: float, log_path: Path, path: str = "/ready") -> dict:
    """Poll ``path`` until 200 (/ready is 503 while the models load in the background); fail fast
    if the process dies, give up after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before {path}:\n{_tail(log_path)}")
        try:
            response = httpx.get(f"{url}{path}", timeout=2.0)
            if response.status_code == 200:
                return response.json() if "json" in response.headers.get("content-type", "") else {}
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.1)
    raise RuntimeError(f"server not ready after {timeout_s:.0f} s:\n{_tail(log_path)}")


def stop(proc: subprocess.Popen, grace_s: float = 10.0, group: bool = False) -> int:
    """SIGTERM (uvicorn's graceful shutdown), then SIGKILL after ``grace_s``. ``group``: signal
    the process group the server leads (a server that forks workers, e.g. LitServe)."""

    def signal_it(sig: int) -> None:
        if group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)  # the group of the process this module started
        elif proc.poll() is None:
            proc.send_signal(sig)

    if proc.poll() is None or group:
        signal_it(signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            signal_it(signal.SIGKILL)
            proc.wait()
        if group:
            time.sleep(0.5)
            signal_it(signal.SIGKILL)  # workers that outlived their parent
    return proc.returncode


@contextlib.contextmanager
def process_server(
    cmd: list[str],
    env: dict[str, str],
    log_path: Path,
    startup_timeout_s: float,
    record: dict,
    *,
    port: int,
    cwd: Path = REPO,
    ready_path: str = "/ready",
) -> Iterator[str]:
    """Run ``cmd`` (a server listening on 127.0.0.1:``port``) in its own process group, yield
    its URL once ``ready_path`` answers 200, always stop the whole group."""
    url = f"http://{HOST}:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    record.update(port=port, pid=proc.pid)
    try:
        record["ready"] = wait_ready(proc, url, startup_timeout_s, log_path, ready_path)
        yield url
    finally:
        record["returncode"] = stop(proc, group=True)


@contextlib.contextmanager
def uvicorn_server(env: dict[str, str], log_path: Path, startup_timeout_s: float, record: dict) -> Iterator[str]:
    """Start the app with environment ``env``, yield its URL once /ready, always stop it.
    ``record`` receives port, pid, the /ready body and the return code."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "service.app:create_app",
        "--factory",
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        # Longer than common load-balancer idle timeouts: uvicorn's 5 s default races pooled
        # clients into connection resets (issue 12).
        "--timeout-keep-alive",
        "75",
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    record.update(port=port, pid=proc.pid)
    try:
        record["ready"] = wait_ready(proc, url, startup_timeout_s, log_path)
        yield url
    finally:
        record["returncode"] = stop(proc)


def mean_batches(metrics_text: str, model: str) -> dict[str, tuple[float, float]]:
    """op -> (sum, count) of the server's introvac_batch_size histogram for ``model``."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, list[float]] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != "introvac_batch_size":
            continue
        for sample in family.samples:
            if sample.labels.get("model") == model and sample.name.endswith(("_sum", "_count")):
                pair = out.setdefault(sample.labels["op"], [0.0, 0.0])
                pair[sample.name.endswith("_count")] += sample.value
    return {op: (s, c) for op, (s, c) in out.items()}
