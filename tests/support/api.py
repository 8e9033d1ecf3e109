"""Helpers shared by the API tests (tests/service/api/ and tests/service/test_*.py)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from service.settings import Settings

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class IsolatedSettings(Settings):
    """Settings that read only their keyword arguments: a developer's INTROVAC_* variables
    must not change what the tests see."""

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **other_sources):
        return (init_settings,)


def make_settings(models_root: Path, **overrides: Any) -> Settings:
    """Settings for the shared tiny models: CPU only, small limits so tests stay fast."""
    values: dict[str, Any] = {
        "models_dir": models_root,
        "default_model": "tiny",
        "providers": ["CPUExecutionProvider"],
        "max_batch_wait_ms": 1.0,
        "max_generate_n": 8,
        "max_langevin_steps": 500,
        # Load before the lifespan returns, so `with TestClient(app)` is ready at once; the
        # background loading of production is tested on its own (tests/service/test_lifecycle.py).
        "background_load": False,
    }
    values.update(overrides)
    return IsolatedSettings(**values)


def upload(data: bytes, field: str = "image", name: str = "face.png", mime: str = "image/png") -> dict:
    return {field: (name, data, mime)}


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE), data[:16]
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def png_pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    """The response is the API's one error shape with this status and code; returns ``error``."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"]), body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"], body
    return body["error"]


def parse_kv(header: str) -> dict[str, float]:
    """``"a=1,b=2"`` -> ``{"a": 1.0, "b": 2.0}`` (the X-Delta-Used / X-Probabilities-* format)."""
    pairs = (item.split("=", 1) for item in header.split(",") if item)
    return {name: float(value) for name, value in pairs}
