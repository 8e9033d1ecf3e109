"""/encode, /reconstruct, /edit, /decode on the tiny model: results checked against the math."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from service.artifact import read_manifest
from tests.support import images
from tests.support.api import PNG_SIGNATURE, assert_error, parse_kv, png_pixels, png_size, upload

SIZE, LATENT = 16, 8


@pytest.fixture(scope="module")
def manifest(tiny_model_dir):
    return read_manifest(tiny_model_dir)


@pytest.fixture(scope="module")
def encoded(client):
    """/encode of the standard test image (left red, right blue, 40x30)."""
    response = client.post("/encode", files=upload(images.png_bytes()))
    assert response.status_code == 200, response.text
    return response.json()


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _decode(client, z) -> bytes:
    response = client.post("/decode", json={"z": [float(v) for v in z]})
    assert response.status_code == 200, response.text
    return response.content


# ----------------------------------------------------------------------------- /encode
def test_encode_returns_latents_probabilities_and_realness_from_the_manifest_rows(encoded, manifest):
    assert encoded["model"] == "tiny"
    mean = np.array(encoded["mean"])
    assert mean.shape == (LATENT,) and len(encoded["logvar"]) == LATENT
    for spec in manifest.attributes:  # probabilities are sigmoid(w_k . mean + b_k)
        expected = _sigmoid(np.dot(spec.weight, mean) + spec.bias)
        assert encoded["attributes"][spec.name] == pytest.approx(expected, rel=1e-6)
    assert set(encoded["attributes"]) == {"eyeglasses", "facial_hair"}
    fake = _sigmoid(np.dot(manifest.fake_logit.weight, mean) + manifest.fake_logit.bias)
    assert encoded["realness"] == pytest.approx(1.0 - fake, rel=1e-6)
    typicality = encoded["typicality"]  # tiny's fit-prior also calibrated it
    assert typicality["threshold_percentile"] == manifest.typicality.threshold_percentile
    assert typicality["percentile"] == min(typicality["density_percentile"], 100 - typicality["error_percentile"])


def test_typicality_headers_only_for_a_calibrated_model(client):
    calibrated = client.post("/encode", files=upload(images.png_bytes()))
    assert calibrated.headers["X-In-Distribution"] in ("true", "false")
    assert float(calibrated.headers["X-Typicality-Percentile"]) == pytest.approx(
        calibrated.json()["typicality"]["percentile"], abs=1e-3
    )
    uncalibrated = client.post("/encode?model=tiny2", files=upload(images.png_bytes()))
    assert uncalibrated.json()["typicality"] is None and "X-In-Distribution" not in uncalibrated.headers
    edit = client.post("/edit?attribute=eyeglasses&model=tiny2", files=upload(images.png_bytes()))
    assert edit.status_code == 200 and "X-In-Distribution" not in edit.headers


@pytest.mark.parametrize(
    "data, mime",
    [
        (images.jpeg_bytes(), "image/jpeg"),
        (images.webp_bytes(), "image/webp"),
        (images.gif_bytes(), "image/gif"),
        (images.bmp_bytes(), "image/bmp"),
        (images.tiff_bytes(), "image/tiff"),
        (images.rgba_png_bytes(alpha=128), "image/png"),
    ],
)
def test_encode_accepts_every_supported_format(client, data, mime):
    response = client.post("/encode", files=upload(data, mime=mime))
    assert response.status_code == 200, response.text
    assert len(response.json()["mean"]) == LATENT


def test_second_model_is_selected_with_the_model_parameter(client):
    response = client.post("/encode?model=tiny2", files=upload(images.png_bytes()))
    assert response.status_code == 200, response.text
    assert response.json()["model"] == "tiny2"
    assert set(response.json()["attributes"]) == {"eyeglasses", "facial_hair", "male"}


# ----------------------------------------------------------------------------- /reconstruct, /decode
def test_reconstruct_is_the_decoded_encoder_mean(client, encoded):
    response = client.post("/reconstruct", files=upload(images.png_bytes()))
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert png_size(response.content) == (SIZE, SIZE)
    # float32 round trip through JSON is exact enough for identical 8-bit pixels
    assert np.abs(png_pixels(response.content).astype(int) - png_pixels(_decode(client, encoded["mean"]))).max() <= 1


def test_decode_one_latent_or_a_grid(client):
    one = client.post("/decode", json={"z": [0.0] * LATENT})
    assert one.status_code == 200 and png_size(one.content) == (SIZE, SIZE)
    grid = client.post("/decode", json={"z": [[0.0] * LATENT, [1.0] * LATENT, [-1.0] * LATENT]})
    assert grid.status_code == 200
    # 3 tiles, 2 per row, 2 px padding: (2 * 16 + 3 * 2) square
    assert png_size(grid.content) == (38, 38)


@pytest.mark.parametrize(
    "body, code",
    [
        ({"z": [0.0] * (LATENT - 1)}, "invalid_latent"),
        ({"z": []}, "invalid_latent"),
        ({"z": [[0.0] * LATENT, [0.0] * 3]}, "invalid_latent"),
        ({"z": [[0.0] * LATENT] * 9}, "out_of_range"),  # max_generate_n is 8 in the tests
        ({"z": [1e6] * LATENT}, "validation_error"),
        ({"z": "zeros"}, "validation_error"),
        ({"latent": [0.0] * LATENT}, "validation_error"),
    ],
)
def test_decode_rejects_bad_latents(client, body, code):
    assert_error(client.post("/decode", json=body), 422, code)


def test_decode_rejects_nan_and_infinity_literals(client):
    for literal in ("NaN", "Infinity", "-Infinity"):
        content = f'{{"z": [{literal}, 0, 0, 0, 0, 0, 0, 0]}}'
        response = client.post("/decode", content=content, headers={"content-type": "application/json"})
        assert_error(response, 422, "validation_error")


def test_a_decode_body_of_a_million_bad_values_is_one_short_error(client):
    """256 x 4096 out-of-range values (5 MB, under the body cap): one problem, not a million listed."""
    row = "[" + ",".join(["2000"] * 4096) + "]"
    content = '{"z": [' + ",".join([row] * 256) + "]}"
    response = client.post("/decode", content=content, headers={"content-type": "application/json"})
    error = assert_error(response, 422, "validation_error")
    assert "within +-1000" in error["message"] and len(response.content) < 2000
    too_many = '{"z": [' + ",".join(["[0]"] * 257) + "]}"
    response = client.post("/decode", content=too_many, headers={"content-type": "application/json"})
    assert "at most 256 vectors" in assert_error(response, 422, "validation_error")["message"]


def test_validation_errors_list_at_most_20_problems_and_count_them(client):
    body = {"z": [5000.0] * 100, "attribute": ["eyeglasses"]}  # /edit/latent checks each value
    error = assert_error(client.post("/edit/latent", json=body), 422, "validation_error")
    assert len(error["details"]) == 20 and "(100 problems; the first 20 are listed)" in error["message"]


# ----------------------------------------------------------------------------- /edit
def test_edit_moves_the_mean_along_the_unit_attribute_direction(client, encoded, manifest):
    response = client.post("/edit?attribute=eyeglasses&delta=3", files=upload(images.png_bytes()))
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert png_size(response.content) == (SIZE, SIZE)
    assert parse_kv(response.headers["X-Delta-Used"]) == {"eyeglasses": 3.0}
    before = parse_kv(response.headers["X-Probabilities-Before"])
    after = parse_kv(response.headers["X-Probabilities-After"])
    assert before["eyeglasses"] == pytest.approx(encoded["attributes"]["eyeglasses"], abs=1e-5)
    assert after["eyeglasses"] > before["eyeglasses"]
    w = np.array(manifest.attribute("eyeglasses").weight)
    z_aug = np.array(encoded["mean"]) + 3.0 * w / np.linalg.norm(w)  # the paper's edit
    expected = png_pixels(_decode(client, z_aug)).astype(int)
    assert np.abs(png_pixels(response.content).astype(int) - expected).max() <= 1


def test_edit_defaults_to_the_recommended_delta(client):
    response = client.post("/edit?attribute=facial_hair", files=upload(images.png_bytes()))
    assert response.status_code == 200
    assert parse_kv(response.headers["X-Delta-Used"]) == {"facial_hair": 4.0}  # tiny manifest


def test_edit_several_pairs_and_a_single_delta_for_all(client):
    pairs = client.post(
        "/edit?attribute=eyeglasses&delta=3&attribute=facial_hair&delta=-2", files=upload(images.png_bytes())
    )
    assert pairs.status_code == 200
    assert parse_kv(pairs.headers["X-Delta-Used"]) == {"eyeglasses": 3.0, "facial_hair": -2.0}
    shared = client.post("/edit?attribute=eyeglasses&attribute=facial_hair&delta=1.5", files=upload(images.png_bytes()))
    assert parse_kv(shared.headers["X-Delta-Used"]) == {"eyeglasses": 1.5, "facial_hair": 1.5}


@pytest.mark.parametrize("target", [0.9, 0.05])
def test_edit_auto_delta_reaches_the_target_probability(client, target):
    response = client.post(f"/edit?attribute=eyeglasses&delta=auto&target={target}", files=upload(images.png_bytes()))
    assert response.status_code == 200, response.text
    after = parse_kv(response.headers["X-Probabilities-After"])
    assert after["eyeglasses"] == pytest.approx(target, abs=1e-4)
    used = parse_kv(response.headers["X-Delta-Used"])["eyeglasses"]
    before = parse_kv(response.headers["X-Probabilities-Before"])["eyeglasses"]
    assert (used > 0) == (target > before)


def test_edit_auto_for_two_attributes_reaches_both_targets(client):
    response = client.post(
        "/edit?attribute=eyeglasses&attribute=facial_hair&delta=auto&target=0.8&format=json",
        files=upload(images.png_bytes()),
    )
    assert response.status_code == 200, response.text
    after = response.json()["probabilities_after"]
    assert after["eyeglasses"] == pytest.approx(0.8, abs=1e-4)
    assert after["facial_hair"] == pytest.approx(0.8, abs=1e-4)


def test_edit_preserve_keeps_the_preserved_probability(client):
    plain = client.post("/edit?attribute=eyeglasses&delta=5", files=upload(images.png_bytes()))
    kept = client.post("/edit?attribute=eyeglasses&delta=5&preserve=facial_hair", files=upload(images.png_bytes()))
    assert plain.status_code == kept.status_code == 200
    before = parse_kv(kept.headers["X-Probabilities-Before"])
    plain_after = parse_kv(plain.headers["X-Probabilities-After"])
    kept_after = parse_kv(kept.headers["X-Probabilities-After"])
    assert kept_after["facial_hair"] == pytest.approx(before["facial_hair"], abs=1e-5)
    assert abs(plain_after["facial_hair"] - before["facial_hair"]) > 1e-3  # the rows are not orthogonal
    assert kept_after["eyeglasses"] > before["eyeglasses"]


def test_edit_residual_keeps_the_upload_resolution_and_the_outside_of_the_crop(client):
    data = images.png_bytes((40, 30))
    response = client.post("/edit?attribute=eyeglasses&delta=4&detail=residual", files=upload(data))
    assert response.status_code == 200, response.text
    assert png_size(response.content) == (40, 30)
    result, original = png_pixels(response.content), png_pixels(data)
    # the centred 30x30 crop spans columns 5..34; the model-pixel margin is 30/16 < 2 px
    np.testing.assert_array_equal(result[:, :3], original[:, :3])
    np.testing.assert_array_equal(result[:, 37:], original[:, 37:])


def test_edit_json_operation_and_the_legacy_json_variants_agree(client):
    """POST /edit/json is the documented JSON operation; /edit?format=json and Accept: application/json
    still answer the same for curl users (undocumented, so SDKs see one response type per operation)."""
    by_route = client.post("/edit/json?attribute=eyeglasses&delta=2", files=upload(images.png_bytes()))
    by_param = client.post("/edit?attribute=eyeglasses&delta=2&format=json", files=upload(images.png_bytes()))
    by_accept = client.post(
        "/edit?attribute=eyeglasses&delta=2", files=upload(images.png_bytes()), headers={"accept": "application/json"}
    )
    for response in (by_route, by_param, by_accept):
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        body = response.json()
        assert body["deltas"] == {"eyeglasses": 2.0} and body["model"] == "tiny"
        assert body["probabilities_after"]["eyeglasses"] > body["probabilities_before"]["eyeglasses"]
        png = base64.b64decode(body["image_png_base64"])
        assert png.startswith(PNG_SIGNATURE) and png_size(png) == (body["width"], body["height"]) == (SIZE, SIZE)
        assert parse_kv(response.headers["X-Delta-Used"]) == {"eyeglasses": 2.0}
    assert json.loads(by_param.content) == by_accept.json() == by_route.json()
    as_png = client.post("/edit?attribute=eyeglasses&delta=2", files=upload(images.png_bytes()))
    assert as_png.headers["content-type"] == "image/png"
    assert as_png.content == base64.b64decode(by_route.json()["image_png_base64"])


def test_edit_json_checks_its_parameters_like_edit(client):
    assert_error(client.post("/edit/json?attribute=wings", files=upload(images.png_bytes())), 422, "unknown_attribute")
    assert_error(
        client.post("/edit/json?attribute=eyeglasses&delta=lots", files=upload(images.png_bytes())),
        422,
        "invalid_delta",
    )


# ----------------------------------------------------------------------------- /edit errors
def test_unknown_attribute_lists_the_valid_ones(client):
    error = assert_error(
        client.post("/edit?attribute=wings", files=upload(images.png_bytes())), 422, "unknown_attribute"
    )
    assert error["details"]["valid"] == ["eyeglasses", "facial_hair"] and error["details"]["unknown"] == ["wings"]
    assert "eyeglasses" in error["message"]
    error = assert_error(
        client.post("/edit?attribute=eyeglasses&preserve=wings", files=upload(images.png_bytes())),
        422,
        "unknown_attribute",
    )
    assert error["details"]["parameter"] == "preserve"


@pytest.mark.parametrize("delta", ["nan", "NaN", "inf", "-inf", "Infinity", "abc", "", "1e400", "101", "-1000"])
def test_bad_deltas_are_422(client, delta):
    response = client.post(f"/edit?attribute=eyeglasses&delta={delta}", files=upload(images.png_bytes()))
    assert_error(response, 422, "invalid_delta")


@pytest.mark.parametrize(
    "query, code",
    [
        ("attribute=eyeglasses&attribute=facial_hair&delta=1&delta=2&delta=3", "invalid_delta"),
        ("attribute=eyeglasses&delta=auto&target=1.5", "validation_error"),
        ("attribute=eyeglasses&delta=auto&target=nan", "validation_error"),
        ("attribute=eyeglasses&detail=everything", "validation_error"),
        ("attribute=eyeglasses&format=gif", "validation_error"),
        ("delta=3", "validation_error"),  # attribute is required
        ("attribute=eyeglasses&preserve=eyeglasses", "invalid_parameters"),
        ("attribute=eyeglasses&attribute=eyeglasses", "invalid_parameters"),
    ],
)
def test_bad_edit_parameters_are_422(client, query, code):
    assert_error(client.post(f"/edit?{query}", files=upload(images.png_bytes())), 422, code)


@pytest.mark.parametrize(
    "data, status, code",
    [
        (images.random_bytes(), 415, "unsupported_image_format"),
        (images.pdf_bytes(), 415, "unsupported_image_format"),
        (images.truncated_png_bytes(), 422, "corrupt_image"),
        (b"", 422, "empty_upload"),
        (images.bomb_png_bytes(), 413, "image_too_large"),
    ],
)
def test_broken_uploads_get_json_errors(client, data, status, code):
    for route in ("/encode", "/reconstruct", "/edit?attribute=eyeglasses"):
        assert_error(client.post(route, files=upload(data)), status, code)


def test_missing_file_or_wrong_field_name_is_422(client):
    error = assert_error(
        client.post("/edit?attribute=eyeglasses", files=upload(images.png_bytes(), field="file")),
        422,
        "validation_error",
    )
    assert error["details"][0]["loc"] == ["body", "image"]
    assert_error(client.post("/encode"), 422, "validation_error")
    assert_error(client.post("/encode", data={"image": "not a file"}), 422, "validation_error")


def test_unknown_model_is_404(client):
    error = assert_error(client.post("/encode?model=nope", files=upload(images.png_bytes())), 404, "unknown_model")
    assert error["details"]["available"] == ["tiny", "tiny2"]
    assert_error(client.post("/decode?model=nope", json={"z": [0.0] * LATENT}), 404, "unknown_model")
