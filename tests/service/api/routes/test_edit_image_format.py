"""/edit and /edit/json with `image_format` and `quality`: PNG by default, JPEG or WebP on request.

Every path that produces the edited image is covered: the fused model-resolution edit, the
centre-square residual, the face-aligned paste-back at the photo's size, and the JSON body.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from service.imaging.encode import WEBP_MAX_SIDE
from tests.support import images
from tests.support.api import PNG_SIGNATURE, assert_error, png_pixels, upload
from tests.support.faces import astronaut, png_bytes

SIZE = 16
EDIT = "/edit?attribute=eyeglasses&delta=3"


def _opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(_opened(data).convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize(("fmt", "pillow_name"), [("jpeg", "JPEG"), ("webp", "WEBP")])
def test_model_resolution_edit_in_a_lossy_format_is_close_to_the_png(client, fmt, pillow_name):
    data = images.png_bytes()
    lossless = client.post(EDIT, files=upload(data))
    lossy = client.post(f"{EDIT}&image_format={fmt}&quality=95", files=upload(data))
    assert lossy.status_code == 200, lossy.text
    assert lossy.headers["content-type"] == f"image/{fmt}"
    assert lossy.headers["X-Delta-Used"] == lossless.headers["X-Delta-Used"]
    assert _opened(lossy.content).format == pillow_name and _opened(lossy.content).size == (SIZE, SIZE)
    assert np.abs(_pixels(lossy.content) - png_pixels(lossless.content)).mean() < 12


def test_png_stays_the_default_and_quality_changes_the_bytes(client):
    data = images.noise((48, 48))
    data = images.encode(data, "PNG")
    default = client.post(f"{EDIT}&detail=residual", files=upload(data))
    assert default.headers["content-type"] == "image/png" and default.content.startswith(PNG_SIGNATURE)
    small = client.post(f"{EDIT}&detail=residual&image_format=jpeg&quality=10", files=upload(data))
    large = client.post(f"{EDIT}&detail=residual&image_format=jpeg&quality=100", files=upload(data))
    assert _opened(small.content).size == _opened(large.content).size == (48, 48)
    assert len(small.content) < len(large.content)


def test_centre_residual_in_jpeg_keeps_the_upload_size_and_its_outside(client):
    data = images.png_bytes((40, 30))
    response = client.post(f"{EDIT}&detail=residual&align=centre&image_format=jpeg&quality=100", files=upload(data))
    assert response.status_code == 200, response.text
    result, original = _pixels(response.content), png_pixels(data).astype(np.int16)
    assert result.shape == (30, 40, 3)
    assert np.abs(result[:, :3] - original[:, :3]).max() < 16  # outside the crop, up to JPEG's loss


def test_face_paste_back_in_webp_is_the_photo_at_its_own_size(client):
    photo = astronaut()
    response = client.post(
        "/edit?attribute=eyeglasses&delta=100&detail=residual&image_format=webp&quality=90",
        files=upload(png_bytes(photo)),
    )
    assert response.status_code == 200, response.text
    assert response.headers["X-Alignment"] == "face"
    assert response.headers["content-type"] == "image/webp"
    result = _pixels(response.content)
    assert result.shape == photo.shape
    assert np.abs(result - photo).mean() < 4  # lossy, but the same photo


def test_json_body_says_the_media_type_and_keeps_png_for_old_clients(client):
    data = images.png_bytes()
    png = client.post("/edit/json?attribute=eyeglasses&delta=2", files=upload(data)).json()
    assert png["media_type"] == "image/png" and png["image_png_base64"] == png["image_base64"]
    jpeg = client.post("/edit/json?attribute=eyeglasses&delta=2&image_format=jpeg", files=upload(data)).json()
    assert jpeg["media_type"] == "image/jpeg" and jpeg["image_png_base64"] is None
    decoded = _opened(base64.b64decode(jpeg["image_base64"]))
    assert decoded.format == "JPEG" and decoded.size == (jpeg["width"], jpeg["height"]) == (SIZE, SIZE)


@pytest.mark.parametrize("query", ["image_format=gif", "image_format=jpeg&quality=0", "quality=101", "quality=x"])
def test_bad_format_or_quality_is_a_422(client, query):
    assert_error(client.post(f"{EDIT}&{query}", files=upload(images.png_bytes())), 422, "validation_error")


def test_webp_refuses_a_residual_wider_than_its_limit_and_jpeg_takes_it(client):
    wide = images.encode(Image.new("RGB", (WEBP_MAX_SIDE + 1, 8), (90, 120, 150)), "PNG")
    residual = f"{EDIT}&detail=residual&align=centre"
    assert_error(client.post(f"{residual}&image_format=webp", files=upload(wide)), 422, "image_too_large_for_format")
    assert client.post(f"{EDIT}&image_format=webp", files=upload(wide)).status_code == 200  # model size: fits
    jpeg = client.post(f"{residual}&image_format=jpeg", files=upload(wide))
    assert jpeg.status_code == 200 and _opened(jpeg.content).size == (WEBP_MAX_SIDE + 1, 8)
