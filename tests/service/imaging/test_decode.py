"""service.imaging.decode: every accepted format decodes correctly and hostile input fails with the
right error before costing memory."""

from __future__ import annotations

import asyncio
import io
import time

import numpy as np
import pytest
from PIL import Image, ImageFile

from service.imaging import decode as decode_mod
from service.imaging.decode import (
    CorruptImage,
    EmptyUpload,
    ImageInputError,
    ImageTooLarge,
    PayloadTooLarge,
    UnsupportedImage,
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


# ----------------------------------------------------------------------------- formats
FORMATS = {
    "png": (images.png_bytes, "PNG"),
    "jpeg": (images.jpeg_bytes, "JPEG"),
    "webp": (images.webp_bytes, "WEBP"),
    "bmp": (images.bmp_bytes, "BMP"),
    "gif": (images.gif_bytes, "GIF"),
    "tiff": (images.tiff_bytes, "TIFF"),
    "cmyk_jpeg": (images.cmyk_jpeg_bytes, "JPEG"),
    "png16": (images.png16_bytes, "PNG"),
    "int32_tiff": (images.int32_tiff_bytes, "TIFF"),
    "float_tiff": (images.float_tiff_bytes, "TIFF"),
    "rgba_png": (images.rgba_png_bytes, "PNG"),
    "palette_png": (images.palette_png_bytes, "PNG"),
    "grey_png": (lambda: images.png_bytes(mode="L"), "PNG"),
    "bilevel_png": (lambda: images.png_bytes(mode="1"), "PNG"),
    "la_png": (lambda: images.png_bytes(mode="LA"), "PNG"),
    "exif_jpeg": (images.exif_rotated_jpeg_bytes, "JPEG"),
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_decodes_to_model_input(name):
    make, fmt = FORMATS[name]
    decoded = decode(make())
    assert decoded.format == fmt
    assert decoded.model_input.shape == (3, S, S) and decoded.model_input.dtype == np.float32
    assert decoded.model_input.flags.c_contiguous
    assert 0.0 <= decoded.model_input.min() and decoded.model_input.max() <= 1.0
    assert decoded.original.dtype == np.uint8 and decoded.original.ndim == 3 and decoded.original.shape[2] == 3


@pytest.mark.parametrize(
    "make,tol",
    [
        (images.png_bytes, 0),
        (images.webp_bytes, 0),
        (images.bmp_bytes, 0),
        (images.tiff_bytes, 0),
        (images.jpeg_bytes, 0.03),
    ],
)
def test_colours_and_original_survive(make, tol):
    decoded = decode(make())  # 40x30 halves: left red, right blue
    np.testing.assert_allclose(colour_at(decoded, 8, 0), RED, atol=tol + 1e-6)
    np.testing.assert_allclose(colour_at(decoded, 8, S - 1), BLUE, atol=tol + 1e-6)
    assert decoded.original.shape == (30, 40, 3)
    if tol == 0:
        np.testing.assert_array_equal(decoded.original, np.asarray(images.halves((40, 30))))


def test_value_range_is_applied():
    decoded = decode(images.png_bytes(), value_range=(-1.0, 1.0))
    np.testing.assert_allclose(colour_at(decoded, 8, 0), [1.0, -1.0, -1.0])
    with pytest.raises(ValueError, match="value_range must be finite with high > low"):
        decode(images.png_bytes(), value_range=(1.0, 1.0))


def test_centre_crop_drops_the_sides():
    pixels = np.zeros((20, 60, 3), np.uint8)
    pixels[:, :20], pixels[:, 20:40], pixels[:, 40:] = images.RED, images.GREEN, images.BLUE
    decoded = decode(images.encode(Image.fromarray(pixels), "PNG"))
    assert decoded.crop_box == (20, 0, 40, 20)
    # Exactly green everywhere, edges included: no bleed from the cropped-away sides.
    np.testing.assert_allclose(decoded.model_input, np.broadcast_to(GREEN[:, None, None], (3, S, S)), atol=1e-6)
    assert decoded.original.shape == (20, 60, 3)


def test_tall_image_crop_box():
    assert decode_mod.centre_crop_box(30, 41) == (0, 5, 30, 35)
    assert decode_mod.centre_crop_box(7, 7) == (0, 0, 7, 7)


# orientation -> (displayed height, width, colour at top-left quadrant, colour at bottom-right quadrant)
@pytest.mark.parametrize(
    "orientation,shape,top_left,bottom_right",
    [
        (1, (20, 40), "red", "blue"),  # stored: left red, right blue
        (3, (20, 40), "blue", "red"),  # 180 degrees
        (6, (40, 20), "red", "blue"),  # 90 degrees clockwise: left half goes to the top
        (8, (40, 20), "blue", "red"),  # 90 degrees counter-clockwise: left half goes to the bottom
    ],
)
def test_exif_orientation_is_applied(orientation, shape, top_left, bottom_right):
    decoded = decode(images.exif_rotated_jpeg_bytes(orientation, size=(40, 20)))
    height, width = shape
    assert decoded.original.shape == (height, width, 3)
    colours = {"red": images.RED, "blue": images.BLUE}
    np.testing.assert_allclose(decoded.original[height // 4, width // 4], colours[top_left], atol=12)
    np.testing.assert_allclose(decoded.original[3 * height // 4, 3 * width // 4], colours[bottom_right], atol=12)


def test_exif_orientation_reaches_the_model_input():
    decoded = decode(images.exif_rotated_jpeg_bytes(6, size=(40, 20)))  # displayed 20 wide, 40 tall
    assert decoded.crop_box == (0, 10, 20, 30)
    np.testing.assert_allclose(colour_at(decoded, 2, 8), RED, atol=0.05)  # top of the crop: red
    np.testing.assert_allclose(colour_at(decoded, S - 3, 8), BLUE, atol=0.05)  # bottom: blue


def test_transparent_rgba_becomes_white():
    np.testing.assert_allclose(decode(images.rgba_png_bytes(alpha=0)).model_input, 1.0)
    half = colour_at(decode(images.rgba_png_bytes(color=images.RED, alpha=128)), 8, 8)
    np.testing.assert_allclose(half, [1.0, 127 / 255, 127 / 255], atol=1.5 / 255)


def test_transparent_la_becomes_white():
    data = images.encode(Image.new("LA", (20, 20), (0, 0)), "PNG")
    np.testing.assert_allclose(decode(data).model_input, 1.0)


@pytest.mark.parametrize("transparent,left", [(False, RED), (True, WHITE)])
def test_palette_with_and_without_transparency(transparent, left):
    decoded = decode(images.palette_png_bytes(transparent=transparent))
    np.testing.assert_allclose(colour_at(decoded, 8, 0), left, atol=1e-6)
    np.testing.assert_allclose(colour_at(decoded, 8, S - 1), BLUE, atol=1e-6)


def test_cmyk_jpeg_is_converted():
    decoded = decode(images.cmyk_jpeg_bytes(cmyk=(0, 255, 255, 0)))
    np.testing.assert_allclose(colour_at(decoded, 8, 8), RED, atol=0.03)


@pytest.mark.parametrize("value", [65535, 32768, 1000, 0])
def test_16_bit_grey_is_scaled_not_clipped(value):
    decoded = decode(images.png16_bytes(value=value))
    np.testing.assert_allclose(decoded.model_input, value / 65535, atol=0.6 / 255)


def test_32_bit_int_and_float_grey():
    np.testing.assert_allclose(decode(images.int32_tiff_bytes(value=32768)).model_input, 0.5, atol=1 / 255)
    np.testing.assert_allclose(decode(images.float_tiff_bytes(value=0.25)).model_input, 0.25, atol=1 / 255)
    np.testing.assert_allclose(decode(images.float_tiff_bytes(value=128.0)).model_input, 128 / 255, atol=1e-6)


@pytest.mark.parametrize("colours", [(images.RED, images.BLUE), (images.BLUE, images.RED)])
def test_gif_uses_the_first_frame(colours):
    decoded = decode(images.gif_bytes(frames=2, colors=colours))
    np.testing.assert_allclose(colour_at(decoded, 8, 8), np.array(colours[0]) / 255, atol=1e-6)


# ----------------------------------------------------------------------------- caps
def test_pixel_cap_is_checked_from_the_header_before_decoding():
    bomb = images.bomb_png_bytes(50_000_000)  # ~6 KB declaring 7072x7072
    assert len(bomb) < 20_000 and Image.open(io.BytesIO(bomb)).size == (7072, 7072)
    start = time.process_time()
    with pytest.raises(ImageTooLarge) as info:
        decode(bomb, max_pixels=CAP)
    # Decoding it fully costs ~0.8 s of CPU and >200 MB; refusing it from the header is ~instant.
    assert time.process_time() - start < 0.2
    assert (info.value.code, info.value.status) == ("image_too_large", 413)


def test_the_bomb_helper_makes_a_real_decodable_png():
    decoded = decode(images.bomb_png_bytes(10_000))  # same construction, small enough to decode
    assert decoded.original.shape == (100, 100, 3) and decoded.original.max() == 0


def test_pixel_cap_boundary():
    data = images.png_bytes(size=(40, 30))
    assert decode(data, max_pixels=1200).original.shape == (30, 40, 3)
    with pytest.raises(ImageTooLarge):
        decode(data, max_pixels=1199)


@pytest.mark.parametrize("pixels", [1_500_000, 3_000_000])  # Pillow's warning, then its error
def test_pillow_bomb_checks_become_image_too_large(monkeypatch, pixels):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000_000)
    with pytest.raises(ImageTooLarge):
        decode(images.bomb_png_bytes(pixels), max_pixels=10**9)


class FakeUpload:
    """Starlette-UploadFile-like: async read(size), counting what it hands out."""

    def __init__(self, total: int, chunk: int):
        self.data, self.chunk, self.served = bytes(total), chunk, 0

    async def read(self, size: int = -1) -> bytes:
        size = self.chunk if size < 0 else min(size, self.chunk)
        piece = self.data[self.served : self.served + size]
        self.served += len(piece)
        return piece


def test_read_upload_stops_soon_after_the_cap():
    upload = FakeUpload(total=10_000_000, chunk=10_000)
    with pytest.raises(PayloadTooLarge) as info:
        asyncio.run(decode_mod.read_upload(upload, max_bytes=100_000))
    assert (info.value.code, info.value.status) == ("payload_too_large", 413)
    assert isinstance(info.value, ImageTooLarge)
    assert upload.served == 100_001


@pytest.mark.parametrize("total", [0, 99_999, 100_000])
def test_read_upload_returns_everything_under_the_cap(total):
    assert asyncio.run(decode_mod.read_upload(FakeUpload(total, chunk=7_000), max_bytes=100_000)) == bytes(total)


def test_read_upload_accepts_sync_files():
    assert asyncio.run(decode_mod.read_upload(io.BytesIO(b"abc"), max_bytes=3)) == b"abc"
    with pytest.raises(PayloadTooLarge):
        asyncio.run(decode_mod.read_upload(io.BytesIO(b"abcd"), max_bytes=3))


def test_read_limited_stops_consuming_the_stream():
    consumed = []

    async def stream():
        for index in range(1000):
            consumed.append(index)
            yield bytes(1000)

    with pytest.raises(PayloadTooLarge):
        asyncio.run(decode_mod.read_limited(stream(), max_bytes=5_500))
    assert len(consumed) == 6

    async def small():
        yield b"ab"
        yield b"cd"

    assert asyncio.run(decode_mod.read_limited(small(), max_bytes=4)) == b"abcd"


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("make", [images.truncated_png_bytes, images.truncated_jpeg_bytes])
@pytest.mark.parametrize("keep", [0.3, 0.7, 0.97])
def test_truncated_images_are_corrupt(make, keep):
    with pytest.raises(CorruptImage) as info:
        decode(make(keep=keep))
    assert (info.value.code, info.value.status) == ("corrupt_image", 422)


def test_broken_header_with_a_valid_signature_is_corrupt():
    with pytest.raises(CorruptImage):
        decode(b"\x89PNG\r\n\x1a\n" + bytes(64))


@pytest.mark.parametrize(
    "data",
    [
        images.random_bytes(),
        b"hello, this is text, not an image\n" * 10,
        images.pdf_bytes(),
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    ],
)
def test_non_images_are_unsupported(data):
    with pytest.raises(UnsupportedImage) as info:
        decode(data)
    assert (info.value.code, info.value.status) == ("unsupported_image_format", 415)


@pytest.mark.parametrize("fmt", ["ICO", "PCX", "PPM", "TGA"])
def test_formats_pillow_reads_but_we_do_not_accept(fmt):
    data = images.encode(images.halves((32, 32)), fmt)
    Image.open(io.BytesIO(data)).load()  # plain Pillow would decode it...
    with pytest.raises(UnsupportedImage):
        decode(data)  # ...but that decoder is not reachable from the service


def test_empty_upload():
    with pytest.raises(EmptyUpload) as info:
        decode(b"")
    assert (info.value.code, info.value.status) == ("empty_upload", 422)


def test_refuses_to_run_with_truncated_loading_enabled(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        decode(images.png_bytes())


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's TIFF metadata warnings on garbage tags
def test_mutated_files_only_raise_image_input_errors():
    """A small seeded fuzz: bytes flipped in valid files of every format."""
    rng = np.random.default_rng(0)
    seeds = [images.encode(images.noise((16, 16)), fmt) for fmt in ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")]
    outcomes = set()
    for data in seeds:
        for _ in range(40):
            mutated = bytearray(data)
            for position in rng.integers(0, min(len(data), 96), size=3):  # headers are where parsers break
                mutated[position] = int(rng.integers(0, 256))
            try:
                decode(bytes(mutated))
                outcomes.add("ok")
            except ImageInputError as exc:
                outcomes.add(exc.code)
    assert "corrupt_image" in outcomes  # the fuzz does reach the error paths


def test_only_small_uploads_with_small_headers_are_cheap_to_decode():
    from service.imaging.decode import INLINE_MAX_PIXELS, cheap_to_decode

    assert cheap_to_decode(images.png_bytes((64, 64)))
    assert cheap_to_decode(images.jpeg_bytes((128, 128)))
    assert not cheap_to_decode(images.png_bytes((129, 128)))  # over INLINE_MAX_PIXELS
    assert 129 * 128 > INLINE_MAX_PIXELS
    assert not cheap_to_decode(images.bomb_png_bytes(10_000 * 10_000))  # small file, huge header
    assert not cheap_to_decode(images.bomb_png_bytes())  # past Pillow's own bomb limit
    assert not cheap_to_decode(images.pdf_bytes())  # not an allowed format
    assert not cheap_to_decode(images.random_bytes())
    assert not cheap_to_decode(b"")
    assert not cheap_to_decode(images.png_bytes((64, 64)) + b"\0" * (64 * 1024))  # too many bytes


def test_the_pixel_array_of_the_upload_is_made_only_when_asked_for():
    """Only the paste-back reads `original`: a plain decode keeps Pillow's image and no array copy."""
    decoded = decode(images.png_bytes((40, 30)))
    assert "original" not in decoded.__dict__
    assert decoded.rgb.mode == "RGB" and decoded.rgb.size == (40, 30)
    np.testing.assert_array_equal(decoded.original, np.asarray(decoded.rgb))
    assert decoded.original is decoded.original  # made once, then kept
