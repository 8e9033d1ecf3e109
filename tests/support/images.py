"""Test images of every accepted format (and some hostile ones), built in memory.

Shared by the imaging tests and the API tests. Unless stated otherwise an image is
``halves(size)``: left half RED, right half BLUE, so orientation and cropping are visible.
Sizes are (width, height) as in Pillow.
"""

from __future__ import annotations

import functools
import io
import math
import struct
import zlib

import numpy as np
from PIL import Image

RED = (255, 0, 0)
BLUE = (0, 0, 255)
GREEN = (0, 255, 0)
WHITE = (255, 255, 255)


def halves(size: tuple[int, int] = (40, 30), left=RED, right=BLUE) -> Image.Image:
    """RGB image, left half ``left``, right half ``right`` (odd widths: the extra column is right)."""
    width, height = size
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[:, : width // 2] = left
    pixels[:, width // 2 :] = right
    return Image.fromarray(pixels)


def noise(size: tuple[int, int] = (64, 64), seed: int = 0) -> Image.Image:
    """RGB noise: incompressible, so truncating the file cuts into pixel data."""
    width, height = size
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- valid formats
def png_bytes(size=(40, 30), mode: str = "RGB") -> bytes:
    """``halves`` converted to ``mode`` (e.g. RGB, L, 1, P, LA, RGBA) as PNG."""
    return encode(halves(size).convert(mode), "PNG")


def jpeg_bytes(size=(40, 30), mode: str = "RGB", quality: int = 95) -> bytes:
    return encode(halves(size).convert(mode), "JPEG", quality=quality)


def webp_bytes(size=(40, 30), lossless: bool = True) -> bytes:
    return encode(halves(size), "WEBP", lossless=lossless)


def bmp_bytes(size=(40, 30)) -> bytes:
    return encode(halves(size), "BMP")


def tiff_bytes(size=(40, 30), mode: str = "RGB") -> bytes:
    return encode(halves(size).convert(mode), "TIFF")


def gif_bytes(size=(40, 30), frames: int = 2, colors=(RED, BLUE, GREEN)) -> bytes:
    """Animated GIF whose frame i is a solid ``colors[i % len(colors)]``."""
    images = [Image.new("RGB", size, colors[i % len(colors)]) for i in range(frames)]
    return encode(images[0], "GIF", save_all=frames > 1, append_images=images[1:], duration=100, loop=0)


def cmyk_jpeg_bytes(size=(40, 30), cmyk=(0, 255, 255, 0)) -> bytes:
    """Solid CMYK JPEG; the default is pure red."""
    return encode(Image.new("CMYK", size, cmyk), "JPEG", quality=95)


def png16_bytes(size=(40, 30), value=65535) -> bytes:
    """16-bit greyscale PNG ('I;16'); ``value`` is an int or a (height, width) array."""
    width, height = size
    pixels = np.broadcast_to(np.asarray(value, dtype=np.uint16), (height, width))
    return encode(Image.fromarray(np.ascontiguousarray(pixels)), "PNG")


def int32_tiff_bytes(size=(40, 30), value: int = 65535) -> bytes:
    """32-bit integer greyscale TIFF (Pillow mode 'I')."""
    return encode(Image.new("I", size, value), "TIFF")


def float_tiff_bytes(size=(40, 30), value: float = 1.0) -> bytes:
    """32-bit float greyscale TIFF (Pillow mode 'F')."""
    return encode(Image.new("F", size, value), "TIFF")


def rgba_png_bytes(size=(40, 30), color=RED, alpha: int = 0) -> bytes:
    """Solid RGBA PNG with the given alpha (0 = fully transparent)."""
    return encode(Image.new("RGBA", size, (*color, alpha)), "PNG")


def palette_png_bytes(size=(40, 30), transparent: bool = False) -> bytes:
    """Palette ('P') PNG: left half index 0 (red), right half index 1 (blue); with
    ``transparent`` index 0 is the transparent colour."""
    width, height = size
    indices = np.zeros((height, width), dtype=np.uint8)
    indices[:, width // 2 :] = 1
    image = Image.frombytes("P", size, indices.tobytes())
    image.putpalette([*RED, *BLUE])
    params = {"transparency": 0} if transparent else {}
    return encode(image, "PNG", **params)


def exif_rotated_jpeg_bytes(orientation: int = 6, size=(40, 20)) -> bytes:
    """``halves(size)`` stored as is, with an EXIF Orientation tag that viewers apply."""
    image = halves(size)
    exif = image.getexif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", quality=95, exif=exif.tobytes())


# ----------------------------------------------------------------------------- hostile input
def truncated_png_bytes(size=(64, 64), keep: float = 0.5) -> bytes:
    """A noise PNG cut to ``keep`` of its length (inside the pixel data)."""
    data = encode(noise(size), "PNG")
    return data[: int(len(data) * keep)]


def truncated_jpeg_bytes(size=(64, 64), keep: float = 0.5) -> bytes:
    data = encode(noise(size), "JPEG", quality=90)
    return data[: int(len(data) * keep)]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


@functools.lru_cache(maxsize=8)
def bomb_png_bytes(pixels: int = 400_000_000) -> bytes:
    """A valid, all-black 1-bit PNG of at least ``pixels`` pixels (square) that compresses to
    a few KB, built by streaming zeros through zlib so the image never exists in memory.
    Decoding it would allocate ~``pixels`` bytes (L) and 3x that as RGB."""
    side = math.isqrt(pixels - 1) + 1
    row = 1 + (side + 7) // 8  # filter byte + packed 1-bit samples
    compressor = zlib.compressobj(9)
    block = bytes(1 << 20)
    remaining = side * row
    compressed = []
    while remaining:
        take = min(remaining, len(block))
        compressed.append(compressor.compress(block[:take]))
        remaining -= take
    compressed.append(compressor.flush())
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(compressed))
        + _png_chunk(b"IEND", b"")
    )


def pdf_bytes() -> bytes:
    """The start of a PDF: a real document type that is not an accepted image format."""
    return b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def random_bytes(count: int = 256, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, count, dtype=np.uint8).tobytes()
