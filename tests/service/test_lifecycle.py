"""Model lifecycle: listen at once and load in the background, one-line start-up failure with
exit code 3 (a real uvicorn subprocess), and reloading the model folders without a restart."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

import service.app as app_module
from service.api.lifecycle import EXIT_STARTUP_FAILURE
from service.app import create_app
from tests.support import images
from tests.support.api import assert_error, make_settings, upload

REPO = Path(__file__).resolve().parents[2]
KEY = {"X-API-Key": "s3cret"}


@asynccontextmanager
async def running(app):
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


def slow_loader(monkeypatch, gate: threading.Event):
    """Make every registry load wait for ``gate`` (set it to let loading finish)."""
    real = app_module.load_registry

    def load(settings, metrics):
        assert gate.wait(10), "the test never opened the gate"
        return real(settings, metrics)

    monkeypatch.setattr(app_module, "load_registry", load)


def test_the_app_answers_while_models_load_in_the_background(tiny_models_root, monkeypatch):
    gate = threading.Event()
    slow_loader(monkeypatch, gate)

    async def main():
        app = create_app(make_settings(tiny_models_root, models=["tiny"], background_load=True))
        async with running(app) as client:  # the lifespan returned although nothing is loaded
            assert (await client.get("/health")).status_code == 200
            not_ready = await client.get("/ready")
            assert_error(not_ready, 503, "not_ready")
            assert not_ready.headers["Retry-After"] == "1"
            assert_error(await client.get("/models"), 503, "not_ready")
            assert_error(await client.get("/generate?steps=5"), 503, "not_ready")
            gate.set()
            for _ in range(200):
                if (await client.get("/ready")).status_code == 200:
                    break
                await asyncio.sleep(0.05)
            assert (await client.get("/ready")).json()["default_model"] == "tiny"
            edit = await client.post("/edit?attribute=eyeglasses", files=upload(images.png_bytes()))
            assert edit.status_code == 200

    asyncio.run(main())


def test_a_start_up_failure_is_one_log_line_and_exit_code_3(tiny_models_root, tmp_path):
    root = shutil.copytree(tiny_models_root, tmp_path / "models")
    encoder = root / "tiny2" / "encoder.onnx"
    encoder.write_bytes(encoder.read_bytes()[:-10] + b"0123456789")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    env.update(INTROVAC_MODELS_DIR=str(root), INTROVAC_PROVIDERS="CPUExecutionProvider", PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory", "--host", "127.0.0.1"]
    cmd += ["--port", "0", "--log-level", "warning"]
    result = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == EXIT_STARTUP_FAILURE == 3, output
    assert "Traceback" not in output, output
    failures = [line for line in output.splitlines() if "start-up failed" in line]
    assert len(failures) == 1 and "tiny2/encoder.onnx" in failures[0], output
    assert len([line for line in output.splitlines() if line.strip()]) <= 3, output  # no multi-line dump


def test_reload_switches_to_the_new_folders_and_a_bad_one_changes_nothing(tiny_models_root, tmp_path):
    root = shutil.copytree(tiny_models_root, tmp_path / "models")

    async def main():
        app = create_app(make_settings(root, api_key="s3cret"))
        async with running(app) as client:
            names = await _model_names(client)
            assert names == ["tiny", "tiny2"]
            assert_error(await client.post("/admin/reload"), 401, "unauthorized")
            shutil.copytree(root / "tiny2", root / "tiny3")
            reloaded = await client.post("/admin/reload", headers=KEY)
            assert reloaded.status_code == 200, reloaded.text
            assert {m["name"] for m in reloaded.json()["models"]} == {"tiny", "tiny2", "tiny3"}
            assert await _model_names(client) == ["tiny", "tiny2", "tiny3"]
            serving = app.state.service.registry
            encoder = root / "tiny3" / "encoder.onnx"
            encoder.write_bytes(encoder.read_bytes()[:-10] + b"0123456789")
            failed = await client.post("/admin/reload", headers=KEY)
            assert "tiny3/encoder.onnx" in assert_error(failed, 422, "reload_failed")["message"]
            assert app.state.service.registry is serving  # the old models still serve
            edit = await client.post(
                "/edit?model=tiny3&attribute=eyeglasses", files=upload(images.png_bytes()), headers=KEY
            )
            assert edit.status_code == 200

    asyncio.run(main())


def test_the_old_models_serve_until_the_new_ones_have_loaded(tiny_models_root, monkeypatch):
    gate = threading.Event()

    async def main():
        app = create_app(make_settings(tiny_models_root, models=["tiny"], api_key="s3cret"))
        async with running(app) as client:
            old = app.state.service.registry
            lifecycle = app.state.service.lifecycle
            real_load = lifecycle._load

            def slow_load():
                assert gate.wait(10), "the test never opened the gate"
                return real_load()

            monkeypatch.setattr(lifecycle, "_load", slow_load)
            reload = asyncio.create_task(client.post("/admin/reload", headers=KEY))
            await asyncio.sleep(0.2)
            assert not reload.done()  # still loading the new registry
            began = time.perf_counter()
            edit = await client.post("/edit?attribute=eyeglasses", files=upload(images.png_bytes()), headers=KEY)
            assert edit.status_code == 200 and time.perf_counter() - began < 5
            assert (await client.get("/ready")).status_code == 200
            assert app.state.service.registry is old
            gate.set()
            assert (await reload).status_code == 200
            assert app.state.service.registry is not old
            edit = await client.post("/edit?attribute=eyeglasses", files=upload(images.png_bytes()), headers=KEY)
            assert edit.status_code == 200

    asyncio.run(main())


def test_reload_needs_an_api_key_on_the_server(tiny_models_root):
    async def main():
        async with running(create_app(make_settings(tiny_models_root, models=["tiny"]))) as client:
            assert_error(await client.post("/admin/reload"), 403, "admin_disabled")

    asyncio.run(main())


async def _model_names(client) -> list[str]:
    response = await client.get("/models", headers=KEY)
    return sorted(m["name"] for m in response.json()["models"])


def test_any_background_load_failure_is_one_line_and_the_failure_action(tiny_models_root, monkeypatch, caplog):
    def broken(settings, metrics):
        raise RuntimeError("runtime exploded\nwith a second line")

    monkeypatch.setattr(app_module, "load_registry", broken)
    failures = []

    async def main():
        app = create_app(make_settings(tiny_models_root, background_load=True), on_startup_failure=failures.append)
        async with running(app) as client:
            for _ in range(100):
                if failures:
                    break
                await asyncio.sleep(0.02)
            assert_error(await client.get("/ready"), 503, "not_ready")

    asyncio.run(main())
    assert len(failures) == 1 and "RuntimeError: runtime exploded with a second line" in str(failures[0])
    lines = [r.getMessage() for r in caplog.records if "start-up failed" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0] and not any(r.exc_info for r in caplog.records), lines
