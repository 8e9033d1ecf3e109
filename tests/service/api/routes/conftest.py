"""Fixtures for the route tests: one app on the shared tiny models, started once per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.support.api import make_settings


@pytest.fixture(scope="module")
def client(tiny_models_root) -> Iterator[TestClient]:
    """A started app (lifespan run: models loaded, batchers running) on ``tiny`` + ``tiny2``."""
    with TestClient(create_app(make_settings(tiny_models_root))) as test_client:
        yield test_client
