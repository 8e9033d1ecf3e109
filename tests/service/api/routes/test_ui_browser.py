"""The web page at / in a real browser (headless Debian chromium through Playwright).

One live server with the tiny models and an API key, as a user would run it; every request
the page makes outside that server is refused (no CDN). The page must take the key, upload
an image once, follow the slider with debounced /edit/latent calls, and show exactly the
bytes the API returns for the slider's delta.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import parse_kv, png_pixels
from tests.support.browser import chromium, only_local, require_browser, shown_image_bytes
from tests.support.server import REPO, running_server

API_KEY = "page-test-key"
SAMPLE = REPO / "samples" / "synthface-glasses.png"
KEY_PRESSES = 25  # slider steps of 0.1: the delta moves by 2.5
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def browser_path() -> str:
    return require_browser()


@pytest.fixture(scope="module")
def server(tiny_models_root, tmp_path_factory, browser_path):
    log = tmp_path_factory.mktemp("ui-server") / "uvicorn.log"
    settings = {
        "models_dir": str(tiny_models_root),
        "default_model": "tiny",
        "providers": "CPUExecutionProvider",
        "max_langevin_steps": "200",
        "api_key": API_KEY,
    }
    with running_server(log, **settings) as base_url:
        yield base_url


@pytest.fixture()
def page(browser_path, server):
    with chromium(browser_path) as browser:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.refused = only_local(page, server)
        yield page
        context.close()


def _api(server: str) -> httpx.Client:
    return httpx.Client(base_url=server, headers={"X-API-Key": API_KEY}, timeout=60)


def _open_with_key(page, server: str) -> None:
    page.goto(server + "/")
    page.fill("#api-key", API_KEY)
    page.dispatch_event("#api-key", "change")
    page.wait_for_selector("#attributes input[type=checkbox]")


def _wait_edit_for_slider(page) -> str:
    """Wait until the shown edit is the answer for the slider's current value; returns it."""
    page.wait_for_function(
        """() => {
            const img = document.getElementById('edited');
            const delta = Number(document.getElementById('delta').value);
            return img.dataset.state === 'done' && Number(img.dataset.delta) === delta;
        }"""
    )
    return page.input_value("#delta")


def test_the_page_shows_the_servers_error_until_the_key_is_given(page, server):
    page.goto(server + "/")
    page.wait_for_selector("#error:not([hidden])")
    assert "missing or wrong X-API-Key" in page.inner_text("#error")
    assert "request " in page.inner_text("#error")  # the request id, to quote in a report
    _open_with_key(page, server)
    assert page.is_hidden("#error")
    assert page.eval_on_selector_all("#attributes input", "els => els.map(e => e.value)") == [
        "eyeglasses",
        "facial_hair",
    ]
    assert page.refused == []


def test_upload_then_slider_shows_what_the_api_returns_for_that_delta(page, server):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url.split("?")[0].removeprefix(server)))
    _open_with_key(page, server)
    page.set_input_files("#file", str(SAMPLE))
    first_delta = _wait_edit_for_slider(page)
    first = shown_image_bytes(page, "#edited")

    page.focus("#delta")
    for _ in range(KEY_PRESSES):
        page.keyboard.press("ArrowRight")
    delta = _wait_edit_for_slider(page)
    shown = shown_image_bytes(page, "#edited")
    assert float(delta) >= float(first_delta) + 2, (first_delta, delta)  # the slider moved by about 2.5
    assert shown != first, "the edit did not change when the slider moved"

    with _api(server) as api:
        image = {"image": (SAMPLE.name, SAMPLE.read_bytes(), "image/png")}
        encoded = api.post("/encode", files=image).json()
        mean = encoded["mean"]
        expected = api.post("/edit/latent", json={"z": mean, "attribute": ["eyeglasses"], "delta": [float(delta)]})
        assert expected.status_code == 200, expected.text
        assert shown == expected.content
        by_upload = api.post("/edit", params={"attribute": "eyeglasses", "delta": delta}, files=image)
        assert (png_pixels(shown) == png_pixels(by_upload.content)).all()
        reconstruction = api.post("/reconstruct", files=image).content
    assert (png_pixels(shown_image_bytes(page, "#reconstruction")) == png_pixels(reconstruction)).all()

    # The page states the model's out-of-domain verdict on the upload (tiny is calibrated).
    verdict = encoded["typicality"]["in_distribution"]
    assert page.get_attribute("#domain", "data-in-distribution") == str(verdict).lower()
    assert ("outside what the model was trained on" in page.inner_text("#domain")) is (not verdict)
    assert requests.count("/encode") == 1, "moving the slider must not re-upload the image"
    edits = requests.count("/edit/latent")
    assert 2 <= edits < KEY_PRESSES, f"{edits} edit requests for {KEY_PRESSES} slider steps: not debounced"
    assert page.is_hidden("#error")
    assert page.refused == []


def test_auto_delta_preserve_and_a_bundled_sample(page, server):
    _open_with_key(page, server)
    page.click("#samples button[data-sample=synthface-beard]")
    _wait_edit_for_slider(page)
    with page.expect_response(lambda r: r.url.endswith("/edit/latent?model=tiny")) as answer:
        page.check("#preserve input[value=facial_hair]")
        page.check("#auto")
        page.eval_on_selector("#target", "el => { el.value = '0.05'; el.dispatchEvent(new Event('input')); }")
    page.wait_for_function("() => document.getElementById('edited').dataset.state === 'done'")
    body = answer.value.request.post_data_json
    assert body["delta"] == ["auto"] and body["preserve"] == ["facial_hair"]
    before, after = (
        parse_kv(part) for part in page.inner_text("#probabilities")[len("P before: ") :].split(" · after: ")
    )
    assert after["eyeglasses"] == pytest.approx(0.05, rel=1e-4)
    assert after["facial_hair"] == pytest.approx(before["facial_hair"], rel=1e-4)  # preserved


def test_generate_panel_matches_the_api_for_a_seed(page, server):
    _open_with_key(page, server)
    page.select_option("#gen-attributes select[data-attribute=eyeglasses]", "present")
    page.fill("#seed", "7")
    page.click("#generate")
    page.wait_for_function("() => document.getElementById('generated').dataset.state === 'done'")
    with _api(server) as api:
        expected = api.get("/generate", params={"attribute": "eyeglasses", "seed": 7, "n": 1})
    assert shown_image_bytes(page, "#generated") == expected.content
    assert page.inner_text("#gen-info").startswith("seed 7")


def test_face_boxes_are_drawn_when_the_server_detects_faces(page, server):
    """The page asks POST /faces for every image and draws each box it returns. The served
    answer for a drawn face is whatever dlib finds; then an answer with one known box is mocked
    in the browser (two faces, so its note differs from any real one), and must be drawn where it says."""
    _open_with_key(page, server)
    page.set_input_files("#file", str(SAMPLE))
    _wait_edit_for_slider(page)
    page.wait_for_function("() => /^\\(\\d+ faces?\\)$/.test(document.getElementById('faces-note').textContent)")
    assert page.is_hidden("#error")

    page.route(
        "**/faces?*",
        lambda route: route.fulfill(json={"faces": [{"box": [20, 30, 100, 110], "score": 0.99}] * 2}),
    )
    page.click("#samples button[data-sample=synthface-plain]")
    page.wait_for_function("() => document.getElementById('faces-note').textContent === '(2 faces)'")
    green = page.eval_on_selector("#faces", "c => Array.from(c.getContext('2d').getImageData(20, 30, 1, 1).data)")
    assert green[1] > 200 and green[3] == 255, green


def test_the_edited_attribute_cannot_be_preserved_from_the_start(page, server):
    """The first attribute is ticked for editing on load; its Preserve box must be locked then,
    not only after the user changes the selection (edit and preserve together is a 422)."""
    _open_with_key(page, server)
    first = page.get_attribute("#attributes input:checked", "value")
    assert page.is_disabled(f"#preserve input[value={first}]")
    assert all(not page.is_disabled(f"#preserve input[value={b}]") for b in _unticked(page))


def _unticked(page) -> list[str]:
    return page.eval_on_selector_all("#attributes input:not(:checked)", "boxes => boxes.map(b => b.value)")


def test_a_server_without_face_detection_shows_no_face_note_and_no_error(page, server):
    _open_with_key(page, server)
    unavailable = {"error": {"code": "face_detection_unavailable", "message": "off", "request_id": "x"}}
    asked = []
    page.route("**/faces?*", lambda route: (asked.append(True), route.fulfill(status=503, json=unavailable)))
    with page.expect_response("**/faces?*") as faces:
        page.set_input_files("#file", str(SAMPLE))
    assert faces.value.status == 503 and asked  # the page did ask, and got the 503
    _wait_edit_for_slider(page)
    assert page.text_content("#faces-note") == "" and page.is_hidden("#error")


def test_a_page_opened_while_models_load_retries_until_they_are_ready(page, server):
    """The first GET /models answers 503 not_ready (Retry-After: 1), as during start-up; the
    page must try again on its own and show the attributes, without a reload."""
    page.goto(server + "/")
    answered = []

    def loading_once(route) -> None:
        if answered:
            route.continue_()
            return
        answered.append(True)
        body = {"error": {"code": "not_ready", "message": "models are still loading", "request_id": "x"}}
        route.fulfill(status=503, json=body, headers={"Retry-After": "1"})

    page.route("**/models*", loading_once)
    page.fill("#api-key", API_KEY)
    page.dispatch_event("#api-key", "change")
    page.wait_for_selector("#attributes input[type=checkbox]")
    assert answered == [True] and page.is_hidden("#error")


def test_the_page_fits_a_phone_screen(browser_path, server):
    with chromium(browser_path) as browser:
        context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        _open_with_key(page, server)
        page.set_input_files("#file", str(SAMPLE))
        _wait_edit_for_slider(page)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than a phone screen"
        for selector in ("#original", "#reconstruction", "#edited", "#delta", "#generate"):
            box = page.locator(selector).bounding_box()
            assert box and box["width"] > 0 and box["x"] >= 0 and box["x"] + box["width"] <= 375, (selector, box)
        context.close()
