"""The ONNX serving path never imports torch nor the training package (ARCHITECTURE.md rule).

Checked in a fresh interpreter: this test process has torch loaded already (the tiny-model
fixtures export with it), so only a subprocess can tell what the service itself imports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import io, sys
    from fastapi.testclient import TestClient
    from PIL import Image
    from service.app import create_app
    from service.settings import Settings

    app = create_app(
        Settings(models_dir=sys.argv[1], default_model="tiny", providers=["CPUExecutionProvider"], background_load=False)
    )
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), (200, 30, 30)).save(buffer, format="PNG")
    with TestClient(app) as client:
        assert client.get("/ready").status_code == 200
        edit = client.post("/edit?attribute=eyeglasses", files={"image": ("a.png", buffer.getvalue(), "image/png")})
        assert edit.status_code == 200, edit.text
        assert client.get("/generate?steps=5&seed=1").status_code == 200
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "training", "torchvision"))
    print("LOADED:", loaded)
    sys.exit(1 if loaded else 0)
    """
)


def test_serving_does_not_import_torch_or_training(tiny_models_root):
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTROVAC_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tiny_models_root)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "LOADED: []" in result.stdout
