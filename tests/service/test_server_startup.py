"""uvicorn itself refuses to start on a corrupt model: exit code non-zero, the file named in the log."""

from __future__ import annotations

import shutil

from tests.support.live_server import START_TIMEOUT_S, free_port, start_uvicorn


def test_server_exits_non_zero_naming_a_corrupt_model_file(tiny_models_root, tmp_path):
    root = shutil.copytree(tiny_models_root, tmp_path / "models")
    with open(root / "tiny" / "decoder.onnx", "ab") as handle:
        handle.write(b"junk")
    log = tmp_path / "uvicorn.log"
    process = start_uvicorn(root, free_port(), log)
    try:
        returncode = process.wait(timeout=START_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
    assert returncode != 0
    first_error = next(line for line in log.read_text().splitlines() if "ERROR" in line)
    assert "start-up failed" in first_error and str(root / "tiny" / "decoder.onnx") in first_error
