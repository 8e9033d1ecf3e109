"""service.imaging.png_pixels: which PNGs libspng decodes, that their pixels are Pillow's, and
that broken pixel data is a 422, never a raw libspng error."""

from __future__ import annotations

import io
import struct
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from service.imaging import png_pixels
from service.imaging.decode import CorruptImage, decode_image, open_image
from service.imaging.png_pixels import plain_png_bytes

CAP = 10_000_000


def png(image: Image.Image, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **save)
    return buffer.getvalue()


def noise(mode: str, size=(37, 23), seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": None, "LA": 2}[mode]
    shape = (size[1], size[0]) if channels is None else (size[1], size[0], channels)
    return Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))


def pillow_pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body, CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def with_chunk_after_header(data: bytes, kind: bytes, body: bytes) -> bytes:
    end_of_ihdr = 8 + 8 + 13 + 4
    return data[:end_of_ihdr] + chunk(kind, body) + data[end_of_ihdr:]


def with_chunk_before_iend(data: bytes, kind: bytes, body: bytes) -> bytes:
    return data[:-12] + chunk(kind, body) + data[-12:]


@pytest.mark.parametrize(
    "data",
    [png(noise("RGB")), png(noise("L")), png(noise("RGB"), optimize=True)],
    ids=["rgb", "grey", "optimised"],
)
def test_plain_pngs_decode_through_libspng_to_pillows_pixels(data, monkeypatch):
    assert plain_png_bytes(open_image(data, CAP)) == data
    calls = []
    original = png_pixels.imagecodecs.spng_decode
    monkeypatch.setattr(png_pixels.imagecodecs, "spng_decode", lambda b: calls.append(1) or original(b))
    decoded = decode_image(data, size=16, max_pixels=CAP)
    assert calls == [1]
    np.testing.assert_array_equal(decoded.original, pillow_pixels(data))


def adam7_png(pixels: np.ndarray) -> bytes:
    """An interlaced (Adam7) 8-bit RGB PNG; Pillow only writes non-interlaced ones."""
    height, width, _ = pixels.shape
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = pixels[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\0" + row.tobytes() for row in sub)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_an_interlaced_rgb_png_decodes_through_libspng_like_pillow():
    pixels = np.asarray(noise("RGB", (19, 11)))
    data = adam7_png(pixels)
    np.testing.assert_array_equal(pillow_pixels(data), pixels)  # the helper writes a valid file
    assert plain_png_bytes(open_image(data, CAP)) is not None
    np.testing.assert_array_equal(decode_image(data, size=8, max_pixels=CAP).original, pixels)


@pytest.mark.parametrize(
    "make",
    [
        lambda: png(noise("RGBA")),
        lambda: png(noise("LA")),
        lambda: png(noise("RGB").convert("P", palette=Image.Palette.ADAPTIVE)),
        lambda: png(noise("RGB"), transparency=(0, 0, 0)),
        lambda: png(Image.fromarray(np.full((9, 9), 40000, np.uint16))),
        lambda: png(noise("L").convert("1")),
        lambda: png(noise("RGB"), save_all=True, append_images=[noise("RGB", seed=1)]),
        lambda: png(noise("RGB"), exif=_rotated_exif()),
        lambda: with_chunk_before_iend(png(noise("RGB")), b"eXIf", _exif_chunk_body()),
        lambda: with_chunk_after_header(png(noise("RGB")), b"acTL", struct.pack(">II", 1, 0)),
    ],
    ids=[
        "rgba",
        "la",
        "palette",
        "colour-key",
        "16-bit",
        "bilevel",
        "apng",
        "exif",
        "exif-after-idat",
        "one-frame-apng",
    ],
)
def test_every_other_png_stays_with_pillow(make):
    assert plain_png_bytes(open_image(make(), CAP)) is None


def _rotated_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    return exif


def _exif_chunk_body() -> bytes:
    """An eXIf chunk holds the TIFF structure without JPEG's "Exif\\0\\0" prefix."""
    return _rotated_exif().tobytes().removeprefix(b"Exif\x00\x00")


def test_an_exif_orientation_after_the_pixels_is_still_applied():
    data = with_chunk_before_iend(png(noise("RGB", (30, 20))), b"eXIf", _exif_chunk_body())
    assert decode_image(data, size=8, max_pixels=CAP).rgb.size == (20, 30)


def test_a_truncated_plain_png_is_a_corrupt_image():
    data = png(noise("RGB", (64, 64)))
    with pytest.raises(CorruptImage) as caught:
        decode_image(data[: len(data) // 2], size=16, max_pixels=CAP)
    assert caught.value.status == 422  # the service answers corrupt images with 422


def test_a_file_libspng_refuses_but_pillow_reads_still_decodes():
    """The pixel chunk declares more bytes than the file holds: libspng stops at the missing
    bytes, Pillow reads the complete zlib stream inside it, and Pillow decides, as before."""
    data = bytearray(png(noise("RGB", (64, 48))))
    idat = data.index(b"IDAT")
    data[idat - 4] ^= 1  # the chunk's length field grows by 16 MiB
    data = bytes(data)
    with pytest.raises(png_pixels.PngPixelError):
        png_pixels.decode_plain_png(open_image(data, CAP), data)
    np.testing.assert_array_equal(decode_image(data, size=16, max_pixels=CAP).original, pillow_pixels(data))


def test_broken_compressed_pixels_are_a_corrupt_image():
    data = bytearray(png(noise("RGB", (64, 64))))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF  # inside the compressed pixels; the chunk's CRC no longer matches
    with pytest.raises(CorruptImage, match="cannot decode the PNG image"):
        decode_image(bytes(data), size=16, max_pixels=CAP)


def test_an_image_not_opened_from_bytes_in_memory_stays_with_pillow(tmp_path):
    path = tmp_path / "face.png"
    path.write_bytes(png(noise("RGB")))
    with Image.open(path) as image:
        assert plain_png_bytes(image) is None


def test_failed_decodes_leave_the_reference_count_of_none_alone():
    """imagecodecs' libpng decoder dropped a reference to None on every failure, which on
    Python 3.11 ends in a fatal error after enough corrupt uploads; this one must not."""
    data = bytearray(png(noise("RGB", (64, 64))))
    data[data.index(b"IDAT") + 10] ^= 0xFF
    before = sys.getrefcount(None)
    for _ in range(500):
        with pytest.raises(CorruptImage):
            decode_image(bytes(data), size=16, max_pixels=CAP)
    assert sys.getrefcount(None) - before > -100
