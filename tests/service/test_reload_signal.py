"""SIGHUP reloads the model folders of a real uvicorn server, like POST /admin/reload."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import threading
import time

import httpx
import pytest

from service.api.lifecycle import Lifecycle
from tests.support.live_server import live_process

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no SIGHUP on Windows")


def names(url: str) -> list[str]:
    return sorted(m["name"] for m in httpx.get(f"{url}/models", timeout=10).json()["models"])


def wait_for(predicate, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_sighup_loads_a_new_folder_and_a_bad_one_changes_nothing(tiny_models_root, tmp_path):
    root = shutil.copytree(tiny_models_root, tmp_path / "models")
    log = tmp_path / "uvicorn.log"
    env = {"INTROVAC_LOG_LEVEL": "info"}
    with live_process(root, log, env) as (url, process):
        assert names(url) == ["tiny", "tiny2"]
        shutil.copytree(root / "tiny2", root / "tiny3")
        process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: names(url) == ["tiny", "tiny2", "tiny3"]), log.read_text()

        encoder = root / "tiny3" / "encoder.onnx"
        encoder.write_bytes(encoder.read_bytes()[:-10] + b"0123456789")
        process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reload failed" in log.read_text()), log.read_text()
        assert process.poll() is None  # still running ...
        assert names(url) == ["tiny", "tiny2", "tiny3"]  # ... on the models it had
        assert httpx.get(f"{url}/ready", timeout=10).status_code == 200
    failure = next(line for line in log.read_text().splitlines() if "reload failed" in line)
    assert "tiny3/encoder.onnx" in failure


def test_without_a_main_thread_loop_no_handler_is_installed():
    """Under a test client the app's loop runs in a worker thread: no signal, no error."""
    result = []

    def run():
        async def main():
            result.append(Lifecycle(state=None, load=lambda: None).reload_on_signal())

        asyncio.run(main())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert result == [False]
