"""POST /edit/latent: /edit's parameters applied to a latent the client already has."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.support import images
from tests.support.api import PNG_SIGNATURE, assert_error, make_settings, parse_kv, png_size, upload


def _mean(client, data: bytes, model: str = "tiny") -> list[float]:
    return client.post("/encode", params={"model": model}, files=upload(data)).json()["mean"]


@pytest.fixture(scope="module")
def face() -> bytes:
    return images.png_bytes((40, 30))


@pytest.mark.parametrize(
    "params",
    [
        {"attribute": ["eyeglasses"], "delta": ["2.5"]},
        {"attribute": ["eyeglasses", "facial_hair"], "delta": ["-1.5"]},
        {"attribute": ["eyeglasses"], "delta": ["auto"], "target": 0.1},
        {"attribute": ["facial_hair"], "delta": ["3"], "preserve": ["eyeglasses"]},
        {"attribute": ["facial_hair"]},  # the model's recommended delta
    ],
)
def test_the_encoder_mean_gives_the_bytes_and_headers_of_edit(client, face, params):
    body = {"z": _mean(client, face), **params}
    body["delta"] = [d if d == "auto" else float(d) for d in params.get("delta", [])]
    latent = client.post("/edit/latent", json=body)
    by_upload = client.post("/edit", params=params, files=upload(face))
    assert latent.status_code == 200, latent.text
    assert latent.headers["content-type"] == "image/png" and latent.content.startswith(PNG_SIGNATURE)
    assert png_size(latent.content) == (16, 16)
    assert latent.content == by_upload.content
    for name in ("X-Delta-Used", "X-Probabilities-Before", "X-Probabilities-After"):
        assert latent.headers[name] == by_upload.headers[name], name


def test_preserve_keeps_the_logit_and_auto_reaches_the_target(client, face):
    body = {"z": _mean(client, face), "attribute": ["eyeglasses"], "delta": ["auto"], "target": 0.2}
    response = client.post("/edit/latent", json={**body, "preserve": ["facial_hair"]})
    before = parse_kv(response.headers["X-Probabilities-Before"])
    after = parse_kv(response.headers["X-Probabilities-After"])
    assert after["eyeglasses"] == pytest.approx(0.2, rel=1e-4)
    assert after["facial_hair"] == pytest.approx(before["facial_hair"], rel=1e-4)


def test_another_model_is_chosen_by_the_query(client, face):
    z = _mean(client, face, model="tiny2")
    response = client.post("/edit/latent", params={"model": "tiny2"}, json={"z": z, "attribute": ["male"]})
    assert response.status_code == 200, response.text
    assert parse_kv(response.headers["X-Delta-Used"]) == {"male": 3.0}


@pytest.mark.parametrize(
    "body,code",
    [
        ({"z": [0.0] * 3, "attribute": ["eyeglasses"]}, "invalid_latent"),
        ({"z": [0.0] * 8, "attribute": ["glasses"]}, "unknown_attribute"),
        ({"z": [0.0] * 8, "attribute": ["eyeglasses"], "preserve": ["hat"]}, "unknown_attribute"),
        ({"z": [0.0] * 8, "attribute": ["eyeglasses"], "delta": [101.0]}, "invalid_delta"),
        ({"z": [0.0] * 8, "attribute": ["eyeglasses"], "delta": [1.0, 2.0]}, "invalid_delta"),
        ({"z": [0.0] * 8, "attribute": ["eyeglasses"], "preserve": ["eyeglasses"]}, "invalid_parameters"),
        ({"z": [0.0] * 8, "attribute": ["eyeglasses"], "delta": ["big"]}, "validation_error"),
        ({"z": [0.0] * 8, "attribute": ["eyeglasses"], "target": 1.0}, "validation_error"),
        ({"z": [0.0] * 8, "attribute": []}, "validation_error"),
        ({"z": [1e9] * 8, "attribute": ["eyeglasses"]}, "validation_error"),
        ({"z": [0.0] * 5000, "attribute": ["eyeglasses"]}, "validation_error"),
        ({"z": [0.0] * 8, "attribute": ["eyeglasses"], "colour": "red"}, "validation_error"),
        ({"attribute": ["eyeglasses"]}, "validation_error"),
    ],
)
def test_bad_requests_are_clear_422s(client, body, code):
    assert_error(client.post("/edit/latent", json=body), 422, code)


def test_unknown_model_is_404(client):
    response = client.post("/edit/latent", params={"model": "nope"}, json={"z": [0.0] * 8, "attribute": ["eyeglasses"]})
    assert_error(response, 404, "unknown_model")


def test_the_api_key_guards_it(tiny_models_root):
    with TestClient(create_app(make_settings(tiny_models_root, api_key="sesame"))) as client:
        body = {"z": [0.0] * 8, "attribute": ["eyeglasses"]}
        assert_error(client.post("/edit/latent", json=body), 401, "unauthorized")
        assert client.post("/edit/latent", json=body, headers={"X-API-Key": "sesame"}).status_code == 200


def test_openapi_has_one_png_response_and_a_typed_body(client):
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/edit/latent"]["post"]
    assert operation["operationId"] == "edit_latent"
    assert list(operation["responses"]["200"]["content"]) == ["image/png"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    body = schema["components"]["schemas"][ref]
    assert set(body["required"]) == {"z", "attribute"}
    delta_items = body["properties"]["delta"]["items"]["anyOf"]
    assert {"type": "number"} in delta_items and any(item.get("const") == "auto" for item in delta_items)
