"""service.imaging.encode: outputs round-trip through PNG and grids keep torchvision's layout."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from service.imaging import decode as decode_mod
from service.imaging import encode
from service.imaging.decode import (
    decode_image,
)
from tests.support import images

S = 16
CAP = 1_000_000
RED, BLUE, GREEN, WHITE = (np.array(c, np.float32) / 255 for c in (images.RED, images.BLUE, images.GREEN, images.WHITE))


def decode(data: bytes, **kwargs) -> decode_mod.DecodedImage:
    kwargs.setdefault("size", S)
    kwargs.setdefault("max_pixels", CAP)
    return decode_image(data, **kwargs)


def colour_at(decoded: decode_mod.DecodedImage, row: int, col: int) -> np.ndarray:
    return decoded.model_input[:, row, col]


def test_png_round_trip_is_exact():
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (3, 12, 12)).astype(np.float32) / 255
    decoded = np.asarray(Image.open(io.BytesIO(encode.to_image_bytes(pixels))))
    np.testing.assert_array_equal(decoded, np.rint(pixels * 255).astype(np.uint8).transpose(1, 2, 0))
    # and back through the decoder, in another value range
    again = decode(encode.to_image_bytes(pixels * 2 - 1, value_range=(-1, 1)), size=12, value_range=(-1, 1))
    np.testing.assert_allclose(again.model_input, pixels * 2 - 1, atol=1e-5)


def test_to_uint8_clips_and_handles_nan():
    values = np.array([-0.5, 0.0, 0.5, 1.0, 1.5, np.nan], np.float32).reshape(1, 1, 6).repeat(3, axis=0)
    np.testing.assert_array_equal(encode.to_uint8(values)[0, :, 0], [0, 0, 128, 255, 255, 0])
    with pytest.raises(ValueError):
        encode.to_uint8(np.zeros((4, 8, 8)))


def test_grid_layout():
    batch = np.random.default_rng(2).random((5, 3, 8, 8)).astype(np.float32)
    grid = encode.make_grid(batch, nrow=3, padding=2, pad_value=0.25)
    assert grid.shape == (3, 2 * 10 + 2, 3 * 10 + 2)
    np.testing.assert_array_equal(grid[:, 12:20, 2:10], batch[3])  # second row, first column
    assert np.all(grid[:, :2] == 0.25) and np.all(grid[:, 12:20, 32 - 12 :] == 0.25)  # padding, empty slot
    assert Image.open(io.BytesIO(encode.grid_image_bytes(batch, nrow=3))).size == (32, 22)
    assert Image.open(io.BytesIO(encode.to_image_bytes(batch))).size == (5 * 10 + 2, 12)  # default 8 per row
    np.testing.assert_array_equal(encode.make_grid(batch[:1]), batch[0])  # one image: unpadded


def test_png_level_is_cheap_for_small_images_and_default_for_large():
    from service.imaging.encode import SMALL_PNG_LEVEL, encode_png

    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    large = rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)
    assert encode_png(small) == encode_png(small, compress_level=SMALL_PNG_LEVEL)
    assert encode_png(large) == encode_png(large, compress_level=6)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode_png(small)))), small)  # lossless either way


@pytest.mark.parametrize(("fmt", "pillow_name"), [("jpeg", "JPEG"), ("webp", "WEBP")])
def test_lossy_encodings_are_close_and_honour_quality(fmt, pillow_name):
    ramp = np.linspace(0, 255, 96, dtype=np.float32)
    rgb = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], 128.0 + 0 * ramp[None, :]), -1)
    rgb = (rgb + np.random.default_rng(0).normal(0, 12, rgb.shape)).clip(0, 255).astype(np.uint8)
    low = encode.encode_image(rgb, encode.ImageEncoding(fmt, 20))
    high = encode.encode_image(rgb, encode.ImageEncoding(fmt, 95))
    decoded = Image.open(io.BytesIO(high))
    assert decoded.format == pillow_name and decoded.size == (96, 96)
    assert np.abs(np.asarray(decoded.convert("RGB"), np.int16) - rgb).mean() < 8
    assert len(low) < len(high)
    assert encode.ImageEncoding(fmt).media_type == f"image/{fmt}"


def test_png_encoding_stays_lossless_and_bad_encodings_are_refused():
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode.encode_image(rgb)))), rgb)
    with pytest.raises(ValueError, match="format"):
        encode.ImageEncoding("gif")
    with pytest.raises(ValueError, match="quality"):
        encode.ImageEncoding("jpeg", 0)
    webp = encode.ImageEncoding("webp")
    assert webp.fits(encode.WEBP_MAX_SIDE, 10) and not webp.fits(encode.WEBP_MAX_SIDE + 1, 10)
    assert encode.ImageEncoding("jpeg").fits(encode.WEBP_MAX_SIDE + 1, 10)


@pytest.mark.parametrize("count", [1, 2, 3, 5, 9])
def test_grid_size_is_the_size_image_of_batch_writes(count):
    batch = np.zeros((count, 3, 8, 8), np.float32)
    out = Image.open(io.BytesIO(encode.image_of_batch(batch, (0.0, 1.0), encode.ImageEncoding("jpeg"))))
    assert out.size == encode.grid_size(count, 8)
