"""Live servers for the SDK tests: one open, one that requires an API key (both on the tiny models)."""

from __future__ import annotations

import pytest

from tests.support.live_server import live_server

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
