"""Live servers for the SDK tests (one open, one that requires an API key; both on the tiny models),
and sdk/generate.py loaded as a module."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.support.live_server import live_server

REPO = Path(__file__).resolve().parents[2]
API_KEY = "sdk-test-key"


@pytest.fixture(scope="session")
def server(tiny_models_root, tmp_path_factory):
    """Base URL of a server without ``INTROVAC_API_KEY``."""
    with live_server(tiny_models_root, tmp_path_factory.mktemp("server") / "uvicorn.log") as base_url:
        yield base_url


@pytest.fixture(scope="session")
def keyed_server(tiny_models_root, tmp_path_factory):
    """Base URL of a server with ``INTROVAC_API_KEY=API_KEY``."""
    log = tmp_path_factory.mktemp("keyed-server") / "uvicorn.log"
    with live_server(tiny_models_root, log, {"INTROVAC_API_KEY": API_KEY}) as base_url:
        yield base_url


def load_generator():
    """sdk/generate.py as a module (it is a script, not part of an installed package)."""
    path = REPO / "sdk" / "generate.py"
    spec = importlib.util.spec_from_file_location("introvac_sdk_generate", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
