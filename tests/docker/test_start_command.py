"""The serving image's start command, run outside Docker with the image's environment:
it brings the service to ready (what the HEALTHCHECK waits for), serves EXTRA_MODELS_DIR's
models next to the shipped ones, and keeps connections alive longer than load balancers do.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.deploy import START_SCRIPT, image_env

ROOT = Path(__file__).resolve().parents[2]
# uvicorn's default is 5 s; AWS ALB idles connections out after 60 s. Ours must be longer.
KEEP_ALIVE_S = 75


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _script_env(bin_dir: Path, **overrides: str) -> dict[str, str]:
    """The image's environment, with our venv (or a stand-in uvicorn) on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_") and k != "EXTRA_MODELS_DIR"}
    env.update({k: v for k, v in image_env().items() if k not in {"PATH", "VIRTUAL_ENV"}})
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", **overrides)
    return env


def _wait_ready(process: subprocess.Popen, port: int) -> httpx.Response:
    deadline = time.monotonic() + 90
    response = None
    while time.monotonic() < deadline and process.poll() is None:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2)
            if response.status_code == 200:
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    output = process.stdout.read().decode(errors="replace") if process.poll() is not None and process.stdout else ""
    raise AssertionError(f"service did not become ready (last {response}); {output}")


def test_start_command_reaches_ready_with_extra_models_beside_the_shipped_ones(
    tiny_models_root: Path, tmp_path: Path
) -> None:
    assert image_env()["INTROVAC_MODELS_DIR"] == "/app/models"
    shipped, extra = tmp_path / "shipped", tmp_path / "volume"
    shutil.copytree(tiny_models_root / "tiny", shipped / "tiny")
    shutil.copytree(tiny_models_root / "tiny2", extra / "tiny2")
    port = _free_port()
    # Outside Docker the models live elsewhere and the venv is ours; everything else as in the image.
    env = _script_env(
        Path(sys.executable).parent,
        INTROVAC_MODELS_DIR=str(shipped),
        EXTRA_MODELS_DIR=str(extra),
        INTROVAC_DEFAULT_MODEL="tiny",
        INTROVAC_PROVIDERS="CPUExecutionProvider",
        TMPDIR=str(tmp_path),
        HOST="127.0.0.1",
        PORT=str(port),
    )
    process = subprocess.Popen(
        ["sh", str(START_SCRIPT)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        body = _wait_ready(process, port).json()
        assert body["default_model"] == "tiny"
        assert sorted(m["name"] for m in body["models"]) == ["tiny", "tiny2"]
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def fake_uvicorn(tmp_path: Path) -> Path:
    """A uvicorn stand-in that prints its arguments and the models folder it was given."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "uvicorn"
    script.write_text(
        '#!/bin/sh\necho "ARGS $*"\necho "MODELS_DIR $INTROVAC_MODELS_DIR"\n'
        'for link in "$INTROVAC_MODELS_DIR"/*; do [ -e "$link" ] && echo "MODEL $(basename "$link") $(readlink -f "$link")"; done\n'
        "exit 0\n"
    )
    script.chmod(0o755)
    return bin_dir


def _run_script(bin_dir: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(START_SCRIPT)], env=_script_env(bin_dir, **env), capture_output=True, text=True, timeout=30
    )


def _arg(stdout: str, flag: str) -> str:
    args = next(line for line in stdout.splitlines() if line.startswith("ARGS ")).split()
    return args[args.index(flag) + 1]


def test_keep_alive_defaults_to_75_s_and_is_overridable(fake_uvicorn: Path) -> None:
    env = {"INTROVAC_MODELS_DIR": "/nowhere"}
    assert image_env()["TIMEOUT_KEEP_ALIVE"] == str(KEEP_ALIVE_S)
    assert _arg(_run_script(fake_uvicorn, **env).stdout, "--timeout-keep-alive") == str(KEEP_ALIVE_S)
    assert _arg(_run_script(fake_uvicorn, **env, TIMEOUT_KEEP_ALIVE="120").stdout, "--timeout-keep-alive") == "120"
    unset = _script_env(fake_uvicorn, **env)
    del unset["TIMEOUT_KEEP_ALIVE"]  # outside the image: the script's own default
    result = subprocess.run(["sh", str(START_SCRIPT)], env=unset, capture_output=True, text=True, timeout=30)
    assert _arg(result.stdout, "--timeout-keep-alive") == str(KEEP_ALIVE_S)


def _models(stdout: str) -> dict[str, str]:
    return {line.split()[1]: line.split()[2] for line in stdout.splitlines() if line.startswith("MODEL ")}


def test_extra_models_join_the_shipped_ones_and_never_replace_one(fake_uvicorn: Path, tmp_path: Path) -> None:
    """An extra folder named like a shipped model (an old copy, as a volume seeded by an older
    image holds) must not hide the image's own: it is skipped, with a warning."""
    shipped, extra = tmp_path / "shipped", tmp_path / "extra"
    for folder in (shipped / "a", shipped / "b", extra / "b", extra / "c", extra / ".hidden"):
        folder.mkdir(parents=True)
    (extra / "notes.txt").write_text("not a model")
    result = _run_script(
        fake_uvicorn, INTROVAC_MODELS_DIR=str(shipped), EXTRA_MODELS_DIR=str(extra), TMPDIR=str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert _models(result.stdout) == {"a": str(shipped / "a"), "b": str(shipped / "b"), "c": str(extra / "c")}
    assert f"skipping {extra / 'b'}: b is the image's shipped model" in result.stderr


def test_a_missing_extra_models_dir_falls_back_to_the_shipped_models(fake_uvicorn: Path, tmp_path: Path) -> None:
    shipped = tmp_path / "shipped"
    (shipped / "a").mkdir(parents=True)
    missing = tmp_path / "not-mounted"
    result = _run_script(
        fake_uvicorn, INTROVAC_MODELS_DIR=str(shipped), EXTRA_MODELS_DIR=str(missing), TMPDIR=str(tmp_path)
    )
    assert result.returncode == 0, result.stderr
    assert _models(result.stdout) == {"a": str(shipped / "a")}
    assert f"EXTRA_MODELS_DIR={missing} does not exist" in result.stderr


def test_without_extra_models_the_models_dir_is_used_as_is(fake_uvicorn: Path) -> None:
    result = _run_script(fake_uvicorn, INTROVAC_MODELS_DIR="/app/models")
    assert "MODELS_DIR /app/models" in result.stdout.splitlines()


def _make_serve(*overrides: str) -> str:
    result = subprocess.run(["make", "-n", "serve", *overrides], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    (command,) = [line for line in result.stdout.splitlines() if "uvicorn service.app:create_app" in line]
    return command


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed")
def test_make_serve_uses_the_same_keep_alive() -> None:
    assert f"--timeout-keep-alive {KEEP_ALIVE_S}" in _make_serve()
    assert "--timeout-keep-alive 120" in _make_serve("TIMEOUT_KEEP_ALIVE=120")
