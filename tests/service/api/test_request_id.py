"""X-Request-ID: accepted or made, echoed, and in every JSON error body."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from service.api.logs import valid_request_id
from service.app import create_app
from tests.support import images
from tests.support.api import assert_error, make_settings, upload


@pytest.fixture(scope="module")
def client(tiny_models_root):
    with TestClient(create_app(make_settings(tiny_models_root, max_upload_bytes=2000))) as test_client:
        yield test_client


def test_a_request_without_one_gets_a_fresh_id(client):
    first = client.get("/health").headers["X-Request-ID"]
    second = client.get("/health").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


@pytest.mark.parametrize("incoming", ["abc-123", "0af7651916cd43dd8448eb211c80319c", "trace.1:span_2"])
def test_a_plain_incoming_id_is_echoed(client, incoming):
    assert client.get("/health", headers={"X-Request-ID": incoming}).headers["X-Request-ID"] == incoming


@pytest.mark.parametrize("incoming", ["has space", "x" * 129, "new\\nline", "<script>"])
def test_an_id_that_could_forge_log_lines_is_replaced(client, incoming):
    echoed = client.get("/health", headers={"X-Request-ID": incoming}).headers["X-Request-ID"]
    assert echoed != incoming and re.fullmatch(r"[0-9a-f]{32}", echoed)


def test_the_validator_bounds():
    assert valid_request_id("a") and valid_request_id("a" * 128)
    assert not valid_request_id("") and not valid_request_id("a" * 129) and not valid_request_id("a b")


def test_route_errors_carry_the_id(client):
    response = client.post(
        "/edit", params={"attribute": "hat"}, files=upload(images.png_bytes()), headers={"X-Request-ID": "req-1"}
    )
    assert assert_error(response, 422, "unknown_attribute")["request_id"] == "req-1"
    assert response.headers["X-Request-ID"] == "req-1"


@pytest.mark.parametrize(
    "call,status,code",
    [
        (lambda c, h: c.get("/no/such/route", headers=h), 404, "not_found"),
        (lambda c, h: c.post("/health", headers=h), 405, "method_not_allowed"),
        (lambda c, h: c.post("/encode", files=upload(b"x" * 5000), headers=h), 413, "payload_too_large"),
        (
            lambda c, h: c.post("/decode", content=b"{", headers={**h, "content-type": "application/json"}),
            422,
            "validation_error",
        ),
    ],
)
def test_framework_and_middleware_errors_carry_the_id(client, call, status, code):
    response = call(client, {"X-Request-ID": "req-2"})
    assert assert_error(response, status, code)["request_id"] == "req-2"
    assert response.headers["X-Request-ID"] == "req-2"


def test_a_server_bug_500_carries_the_id(tiny_models_root, monkeypatch):
    from service.runtime import pipeline

    async def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "encode", boom)
    with TestClient(create_app(make_settings(tiny_models_root))) as client:
        response = client.post("/encode", files=upload(images.png_bytes()), headers={"X-Request-ID": "req-3"})
    assert assert_error(response, 500, "internal_error")["request_id"] == "req-3"
    assert response.headers["X-Request-ID"] == "req-3"


def test_cors_exposes_the_header(tiny_models_root):
    with TestClient(create_app(make_settings(tiny_models_root, cors_origins=["https://app.example"]))) as client:
        response = client.get("/health", headers={"Origin": "https://app.example"})
    assert "X-Request-ID" in response.headers["access-control-expose-headers"]
    assert response.headers["X-Request-ID"]
