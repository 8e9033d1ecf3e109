"""What the decode budget relies on: the header-only open, the cost estimate, JPEG draft mode,
and 413 messages that quote the service's own limit."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from service.imaging.decode import (
    COST_BYTES_PER_PIXEL,
    COST_BYTES_PER_PIXEL_ALPHA,
    COST_BYTES_PER_PIXEL_WIDE,
    ImageTooLarge,
    decode_cost_bytes,
    decode_image,
    decode_opened,
    open_image,
)
from tests.support import images


def test_open_image_reads_only_the_header():
    bomb = images.bomb_png_bytes(50_000_000)  # would take ~200 MB decoded
    image = open_image(bomb, 10**8)
    assert image.size == (7072, 7072) and image.tile  # pixel data still to be decoded


@pytest.mark.parametrize(
    "data, per_pixel",
    [
        (images.png_bytes((40, 30)), COST_BYTES_PER_PIXEL),
        (images.jpeg_bytes((40, 30)), COST_BYTES_PER_PIXEL),
        (images.png16_bytes((40, 30)), COST_BYTES_PER_PIXEL_WIDE),
        (images.float_tiff_bytes((40, 30)), COST_BYTES_PER_PIXEL_WIDE),
        (images.rgba_png_bytes((40, 30)), COST_BYTES_PER_PIXEL_ALPHA),
        (images.palette_png_bytes((40, 30), transparent=True), COST_BYTES_PER_PIXEL_ALPHA),
    ],
)
def test_the_cost_depends_on_the_declared_size_and_mode(data, per_pixel):
    assert decode_cost_bytes(open_image(data, 10**6)) == 40 * 30 * per_pixel


def test_a_big_jpeg_decodes_at_reduced_size_when_only_the_model_input_is_needed():
    data = images.jpeg_bytes((1600, 1200), quality=90)
    drafted = open_image(data, 10**7, draft_size=64)
    assert drafted.size == (400, 300)  # 1/4 scale keeps both sides >= 3 x 64
    assert decode_cost_bytes(drafted) == 400 * 300 * COST_BYTES_PER_PIXEL
    small, full = decode_opened(drafted, 64), decode_image(data, 64, 10**7)
    assert small.original.shape == (300, 400, 3) and full.original.shape == (1200, 1600, 3)
    assert small.crop_box == (50, 0, 350, 300)
    assert np.abs(small.model_input - full.model_input).max() < 0.05  # the same picture
    assert decode_image(data, 64, 10**7, draft=True).original.shape == (300, 400, 3)


def test_draft_never_goes_below_the_model_resolution_and_ignores_other_formats():
    assert open_image(images.jpeg_bytes((200, 150)), 10**6, draft_size=64).size == (200, 150)
    assert open_image(images.png_bytes((1600, 1200)), 10**7, draft_size=64).size == (1600, 1200)


def test_pillow_bomb_check_messages_quote_the_service_limit(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    with pytest.raises(ImageTooLarge) as info:
        decode_image(images.bomb_png_bytes(3_000_000), 16, max_pixels=2_500_000)
    message = info.value.message
    assert "2500000" in message and "1000000" not in message and str(1733 * 1733) in message, message


def test_the_header_size_check_quotes_max_pixels():
    with pytest.raises(ImageTooLarge, match="the limit is 1199"):
        open_image(images.png_bytes((40, 30)), 1199)
    assert Image.open(io.BytesIO(images.png_bytes((40, 30)))).size == (40, 30)
