"""/metrics labels FastAPI's own routes and the static mounts by their template, not `unmatched`."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Route

from service.api.metrics import UNMATCHED, route_template
from service.app import create_app
from tests.support.api import make_settings


def _count(text: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("introvac_http_requests_total{"):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.rsplit(" ", 1)[0]))
            if all(found.get(k) == v for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture(scope="module")
def client(tiny_models_root):
    with TestClient(create_app(make_settings(tiny_models_root))) as test_client:
        yield test_client


@pytest.mark.parametrize(
    "path,route",
    [
        ("/docs", "/docs"),
        ("/redoc", "/redoc"),
        ("/openapi.json", "/openapi.json"),
        ("/docs/oauth2-redirect", "/docs/oauth2-redirect"),
        ("/", "/"),
        ("/ui/samples", "/ui/samples"),
        ("/ui/app.js", "/ui/{path}"),
        ("/static/docs/swagger-ui.css", "/static/docs/{path}"),
        ("/ui/no-such-file.js", "/ui/{path}"),
    ],
)
def test_own_routes_and_mounts_get_their_template(client, path, route):
    response = client.get(path)
    text = client.get("/metrics").text
    assert _count(text, method="GET", route=route, status=str(response.status_code)) >= 1, (path, route)
    if route != path:  # a mount's files share its template; their paths never become labels
        assert f'route="{path}"' not in text


def test_unknown_paths_still_share_one_label(client):
    client.get("/totally/unknown/1")
    client.get("/totally/unknown/2")
    text = client.get("/metrics").text
    assert _count(text, route=UNMATCHED, status="404") >= 2
    assert "/totally/unknown" not in text


def test_route_template_matches_the_scope_as_it_was_before_routing():
    async def endpoint(request):  # pragma: no cover - never called
        return None

    class App:
        class router:
            routes = [Route("/openapi.json", endpoint)]

    original = {"type": "http", "path": "/openapi.json", "method": "GET", "app": App, "root_path": ""}
    assert route_template({}, original) == "/openapi.json"
    assert route_template({}, {**original, "path": "/other"}) == UNMATCHED


def test_a_body_refused_before_routing_is_counted(tiny_models_root):
    """BodyLimitMiddleware answers 413 before the router runs, so no route is known yet: the
    request is counted under `unmatched` (FastAPI's included routers have no path to match)."""
    from tests.support.api import upload

    with TestClient(create_app(make_settings(tiny_models_root, max_upload_bytes=1000))) as client:
        assert client.post("/encode", files=upload(b"x" * 200_000)).status_code == 413
        text = client.get("/metrics").text
    assert _count(text, method="POST", route=UNMATCHED, status="413") == 1
