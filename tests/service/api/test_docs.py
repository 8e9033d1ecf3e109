"""/docs and /redoc come from assets the app serves (offline); a browser renders them."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from service.api.docs import assets_dir
from service.app import create_app
from tests.support.api import make_settings
from tests.support.browser import chromium, only_local, require_browser
from tests.support.server import running_server

TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def client(tiny_models_root):
    with TestClient(create_app(make_settings(tiny_models_root))) as test_client:
        yield test_client


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_doc_pages_reference_only_local_assets(client, page):
    html = client.get(page).text
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", html)
    assert urls, html
    for url in urls:
        assert not re.match(r"(https?:)?//", url), url
        if url.startswith("/static/"):
            assert client.get(url).status_code == 200, url


def test_the_assets_are_swagger_ui_5_and_redoc_2():
    folder = assets_dir()
    assert {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"} <= {p.name for p in folder.iterdir()}
    # Swagger UI 4 cannot render OpenAPI 3.1 (FastAPI's version): the bundle must be 5.x.
    assert re.search(rb'PACKAGE_VERSION:"5\.\d+\.\d+"', (folder / "swagger-ui-bundle.js").read_bytes())
    assert re.search(rb'ReDoc Version: ","2\.\d+\.\d+"', (folder / "redoc.standalone.js").read_bytes())


def test_docs_and_redoc_render_offline_in_a_browser(tiny_models_root, tmp_path):
    executable = require_browser()
    settings = {"models_dir": str(tiny_models_root), "default_model": "tiny", "providers": "CPUExecutionProvider"}
    with running_server(tmp_path / "uvicorn.log", **settings) as base_url, chromium(executable) as browser:
        page = browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        refused = only_local(page, base_url)
        page.goto(base_url + "/docs")
        page.wait_for_selector(".opblock-summary-path")
        paths = set(page.eval_on_selector_all(".opblock-summary-path", "els => els.map(e => e.textContent.trim())"))
        assert {"/edit", "/edit/latent", "/generate", "/models"} <= {p.replace("\u200b", "") for p in paths}

        assert refused == [], f"Swagger UI tried to reach other hosts: {refused}"

        page.goto(base_url + "/redoc")
        page.wait_for_selector("h2:has-text('Edit attributes of an encoded latent')")
        assert "IntroVAC attribute editing API" in page.title()
        # ReDoc 2's "API docs by Redocly" footer logo is the one thing it loads from its CDN;
        # without it the page renders in full (above), the footer shows no picture.
        others = [url for url in refused if not url.endswith("cdn.redoc.ly/redoc/logo-mini.svg")]
        assert others == [], f"ReDoc tried to reach other hosts: {others}"
