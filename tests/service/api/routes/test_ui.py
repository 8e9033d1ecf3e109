"""The web page's routes (in process): /, its static files, the sample list, no CDN, no schema."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from service.api.routes.ui import SAMPLES_DIR, STATIC_DIR
from service.app import create_app
from tests.support.api import make_settings
from tests.support.server import REPO

EXTERNAL_URL = re.compile(
    r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|import\s*\(\s*["']https?:"""
)
ASSETS = ("index.html", "app.js", "style.css")


def test_the_page_is_served_at_the_root(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    for asset in ("ui/app.js", "ui/style.css"):
        assert asset in response.text
        served = client.get("/" + asset)
        assert served.status_code == 200 and served.content == (STATIC_DIR / asset.split("/")[1]).read_bytes()


@pytest.mark.parametrize("asset", ASSETS)
def test_no_asset_loads_anything_from_another_host(asset):
    text = (STATIC_DIR / asset).read_text()
    assert not EXTERNAL_URL.search(text), EXTERNAL_URL.search(text)
    if asset == "app.js":  # every API call is relative, so the page works behind a path prefix too
        assert not re.search(r"""fetch\(\s*["'`]/""", text)


def test_the_external_url_check_would_catch_a_cdn():
    assert EXTERNAL_URL.search('<script src="https://cdn.example/x.js">')
    assert EXTERNAL_URL.search("background: url(//fonts.example/a.woff)")
    assert not EXTERNAL_URL.search('<script src="ui/app.js">')


def test_the_page_routes_are_not_in_the_openapi_document(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert not {"/", "/ui/samples", "/docs", "/redoc"} & set(paths)


def test_samples_are_listed_served_and_decodable(client):
    listed = client.get("/ui/samples").json()["samples"]
    names = {s["name"] for s in listed}
    assert {"synthface-glasses", "synthface-beard", "astronaut"} <= names
    for sample in listed:
        response = client.get("/" + sample["url"])
        assert response.status_code == 200, sample
        with Image.open(SAMPLES_DIR / sample["url"].rsplit("/", 1)[1]) as image:
            assert image.size[0] == image.size[1] >= 64


def test_the_repository_samples_are_the_pages_samples():
    """samples/ (the quick start's) and the served copy are written together by make_samples.py."""
    repo = {p.name: p.read_bytes() for p in (REPO / "samples").iterdir() if p.suffix in (".png", ".jpg")}
    served = {p.name: p.read_bytes() for p in SAMPLES_DIR.iterdir()}
    assert repo and repo == served
    assert (REPO / "samples" / "README.md").read_text().count("public domain") >= 1


def test_a_sample_face_can_be_edited(client):
    data = (SAMPLES_DIR / "synthface-glasses.png").read_bytes()
    response = client.post("/edit", params={"attribute": "eyeglasses", "delta": "-3"}, files={"image": ("s.png", data)})
    assert response.status_code == 200, response.text


def test_the_page_needs_no_key_but_the_api_does(tiny_models_root):
    with TestClient(create_app(make_settings(tiny_models_root, api_key="sesame"))) as client:
        for path in ("/", "/ui/app.js", "/ui/samples", "/docs", "/redoc"):
            assert client.get(path).status_code == 200, path
        assert client.get("/models").status_code == 401
