"""End to end through a real server and a generated SDK.

Starts uvicorn (``--factory service.app:create_app``) on a free local port with the tiny
models, fetches /openapi.json, generates a Python client with openapi-python-client and
sdk/openapi-python-client.yaml (as the README's "Client SDKs" section describes), imports it and calls the API
through it: what SDK users get must work, not just what the in-process tests see.
"""

from __future__ import annotations

import importlib
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import images
from tests.support.api import PNG_SIGNATURE, png_size

REPO = Path(__file__).resolve().parents[3]
SDK_CONFIG = REPO / "sdk" / "openapi-python-client.yaml"
PACKAGE = "introvac_client"
START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _generator() -> str:
    """The CLI installed next to this interpreter (the project's .venv/bin)."""
    candidate = Path(sys.executable).parent / "openapi-python-client"
    assert candidate.exists(), f"openapi-python-client is not installed next to {sys.executable} (dev extra)"
    return str(candidate)


def _uvicorn(models_root: Path, port: int, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    env.update(
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
        INTROVAC_MODELS_DIR=str(models_root),
        INTROVAC_DEFAULT_MODEL="tiny",
        INTROVAC_PROVIDERS="CPUExecutionProvider",
        INTROVAC_MAX_LANGEVIN_STEPS="100",
    )
    with open(log, "wb") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "service.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture(scope="module")
def server(tiny_models_root, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "uvicorn.log"
    process = _uvicorn(tiny_models_root, port, log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{base_url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not ready after {START_TIMEOUT_S}s:\n{log.read_text()}")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def sdk(server, tmp_path_factory):
    """Generate the client from the live server's document and import it."""
    work = tmp_path_factory.mktemp("sdk")
    spec = work / "spec.json"
    spec.write_bytes(httpx.get(f"{server}/openapi.json", timeout=10).content)
    out = work / "client"
    result = subprocess.run(
        [_generator(), "generate", "--path", str(spec), "--config", str(SDK_CONFIG), "--output-path", str(out)],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_generated_sdk_edits_generates_and_lists_models(server, sdk):
    from introvac_client.api.editing import edit
    from introvac_client.api.generation import generate
    from introvac_client.api.models import list_models
    from introvac_client.models import BodyEdit, ErrorBody, ModelList
    from introvac_client.types import File

    client = sdk.Client(base_url=server, timeout=httpx.Timeout(60))

    body = BodyEdit(image=File(payload=io.BytesIO(images.png_bytes()), file_name="face.png", mime_type="image/png"))
    edited = edit.sync(client=client, body=body, attribute=["eyeglasses"], delta=["3"])
    assert isinstance(edited, File)
    png = edited.payload.read()
    assert png.startswith(PNG_SIGNATURE) and png_size(png) == (16, 16)

    sample = generate.sync(client=client, attribute=["eyeglasses"], n=1, seed=1, steps=20)  # fitted prior
    assert isinstance(sample, File) and sample.payload.read().startswith(PNG_SIGNATURE)

    models = list_models.sync(client=client)
    assert isinstance(models, ModelList) and models.default == "tiny"
    assert [a.name for a in models.models[0].attributes] == ["eyeglasses", "facial_hair"]

    # errors come back typed, with the API's code
    bad = BodyEdit(image=File(payload=io.BytesIO(images.png_bytes()), file_name="face.png", mime_type="image/png"))
    error = edit.sync(client=client, body=bad, attribute=["wings"])
    assert isinstance(error, ErrorBody) and error.error.code == "unknown_attribute"


def test_server_exits_non_zero_naming_a_corrupt_model_file(tiny_models_root, tmp_path):
    root = shutil.copytree(tiny_models_root, tmp_path / "models")
    with open(root / "tiny" / "decoder.onnx", "ab") as handle:
        handle.write(b"junk")
    log = tmp_path / "uvicorn.log"
    process = _uvicorn(root, _free_port(), log)
    try:
        returncode = process.wait(timeout=START_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
    assert returncode != 0
    first_error = next(line for line in log.read_text().splitlines() if "ERROR" in line)
    assert "start-up failed" in first_error and str(root / "tiny" / "decoder.onnx") in first_error
