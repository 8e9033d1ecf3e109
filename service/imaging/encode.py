"""Model outputs -> image bytes: uint8 conversion, torchvision-style grids, PNG/JPEG/WebP encoding."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Literal

import imagecodecs
import numpy as np
from PIL import Image

from service.imaging.decode import check_value_range


def to_uint8(images: np.ndarray, value_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """Channels-first floats in ``value_range`` -> channels-last uint8 (clipped, rounded).
    ``(3, H, W) -> (H, W, 3)`` and ``(N, 3, H, W) -> (N, H, W, 3)``; NaN becomes the low end."""
    images = np.asarray(images)
    if not ((images.ndim == 3 and images.shape[0] == 3) or (images.ndim == 4 and images.shape[1] == 3)):
        raise ValueError(f"expected (3, H, W) or (N, 3, H, W) images, got shape {images.shape}")
    low, high = check_value_range(value_range)
    unit = (np.nan_to_num(images.astype(np.float32), nan=low) - low) / (high - low)
    pixels = np.rint(np.clip(unit, 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.ascontiguousarray(np.moveaxis(pixels, -3, -1))


# zlib level for images up to SMALL_PNG_PIXELS: measured on a 64x64 model output (2-core
# CPU, benchmarks/RESULTS.md), level 1 takes 0.38 ms and 7.5 KB against 0.82 ms and 6.8 KB
# at Pillow's default 6; at 128x128, 1.4 ms / 22.6 KB against 13.4 ms / 19.2 KB. Larger
# images (full-resolution residual edits) keep level 6, where bytes on the wire weigh more.
SMALL_PNG_LEVEL = 1
SMALL_PNG_PIXELS = 256 * 256
DEFAULT_PNG_LEVEL = 6


def encode_png(rgb: np.ndarray, compress_level: int | None = None) -> bytes:
    """uint8 ``(H, W, 3)`` -> PNG bytes; ``compress_level`` None: 1 for small images, else 6.

    libpng through imagecodecs, not Pillow: on a 64x64 output 0.22 ms against 0.40 ms at
    level 1, on a 512x512 photo 39 ms against 63 ms at level 6, and it releases the GIL while
    it compresses (benchmarks/RESULTS.md, "PNG pixels through libpng"). libpng's decoder is not
    used: see :mod:`service.imaging.png_pixels`."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
    if compress_level is None:
        small = rgb.shape[0] * rgb.shape[1] <= SMALL_PNG_PIXELS
        compress_level = SMALL_PNG_LEVEL if small else DEFAULT_PNG_LEVEL
    return imagecodecs.png_encode(np.ascontiguousarray(rgb), level=compress_level)


# What an encoded 4000x4000 photo costs (astronaut upscaled, 2-core CPU, benchmarks/RESULTS.md):
# PNG level 6 3.3 s / 8.1 MB, JPEG q90 0.10 s / 1.2 MB, WebP q90 method 0 0.46 s / 0.67 MB
# (method 4, libwebp's default, 1.2 s / 0.57 MB: 15% fewer bytes for 2.6x the time).
WEBP_METHOD = 0
WEBP_MAX_SIDE = 16383  # libwebp's format limit, in pixels per side
ImageFormat = Literal["png", "jpeg", "webp"]
MEDIA_TYPES: dict[str, str] = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True)
class ImageEncoding:
    """How a response image is encoded: lossless PNG (the default) or lossy JPEG/WebP at ``quality``
    (1-100), which for a full-resolution photo is many times faster to encode and to send."""

    format: ImageFormat = "png"
    quality: int = 90

    def __post_init__(self) -> None:
        if self.format not in MEDIA_TYPES:
            raise ValueError(f"format must be one of {', '.join(MEDIA_TYPES)}, got {self.format!r}")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality must be in [1, 100], got {self.quality}")

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

    def fits(self, width: int, height: int) -> bool:
        """Whether an image of this size can be written in this format (WebP caps each side)."""
        return self.format != "webp" or max(width, height) <= WEBP_MAX_SIDE


PNG = ImageEncoding()


def encode_image(rgb: np.ndarray, encoding: ImageEncoding = PNG) -> bytes:
    """uint8 ``(H, W, 3)`` -> bytes in ``encoding`` (PNG with :func:`encode_png`'s levels)."""
    if encoding.format == "png":
        return encode_png(rgb)
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
    if not encoding.fits(rgb.shape[1], rgb.shape[0]):
        raise ValueError(f"a {rgb.shape[1]}x{rgb.shape[0]} image exceeds WebP's {WEBP_MAX_SIDE}-pixel side")
    buffer = io.BytesIO()
    image = Image.fromarray(np.ascontiguousarray(rgb))
    if encoding.format == "jpeg":
        image.save(buffer, format="JPEG", quality=encoding.quality)
    else:
        image.save(buffer, format="WEBP", quality=encoding.quality, method=WEBP_METHOD)
    return buffer.getvalue()


def make_grid(batch: np.ndarray, nrow: int = 8, padding: int = 2, pad_value: float = 0.0) -> np.ndarray:
    """Tile ``(N, 3, H, W)`` into one ``(3, H', W')`` image with torchvision's
    ``make_grid`` layout: ``nrow`` images per row, ``padding`` pixels of ``pad_value``
    around every tile (a single image comes back as it is)."""
    batch = np.asarray(batch)
    if batch.ndim != 4 or batch.shape[1] != 3 or batch.shape[0] == 0:
        raise ValueError(f"expected a non-empty (N, 3, H, W) batch, got shape {batch.shape}")
    if nrow <= 0 or padding < 0:
        raise ValueError(f"nrow must be positive and padding non-negative, got {nrow}, {padding}")
    count, _, height, width = batch.shape
    if count == 1:  # like torchvision: a single image is returned unpadded
        return batch[0].astype(np.float32)
    cols = min(nrow, count)
    rows = math.ceil(count / cols)
    cell_h, cell_w = height + padding, width + padding
    grid = np.full((3, rows * cell_h + padding, cols * cell_w + padding), pad_value, dtype=np.float32)
    for index in range(count):
        top = (index // cols) * cell_h + padding
        left = (index % cols) * cell_w + padding
        grid[:, top : top + height, left : left + width] = batch[index]
    return grid


def to_image_bytes(
    images: np.ndarray, value_range: tuple[float, float] = (0.0, 1.0), encoding: ImageEncoding = PNG
) -> bytes:
    """One ``(3, S, S)`` image -> bytes in ``encoding`` (PNG by default); a ``(N, 3, S, S)`` batch
    -> its grid (:func:`grid_image_bytes` defaults: 8 per row, 2 px padding)."""
    images = np.asarray(images)
    if images.ndim == 4:
        return grid_image_bytes(images, value_range=value_range, encoding=encoding)
    return encode_image(to_uint8(images, value_range), encoding)


def grid_image_bytes(
    batch: np.ndarray,
    nrow: int = 8,
    value_range: tuple[float, float] = (0.0, 1.0),
    padding: int = 2,
    pad_value: float | None = None,
    encoding: ImageEncoding = PNG,
) -> bytes:
    """``(N, 3, S, S)`` -> one encoded grid image; padding defaults to the low end of the range (black)."""
    low, _ = check_value_range(value_range)
    grid = make_grid(batch, nrow=nrow, padding=padding, pad_value=low if pad_value is None else pad_value)
    return encode_image(to_uint8(grid, value_range), encoding)


def image_of_batch(images: np.ndarray, value_range: tuple[float, float], encoding: ImageEncoding = PNG) -> bytes:
    """One image as itself; several as a near-square grid (2 px black padding)."""
    if len(images) == 1:
        return to_image_bytes(images[0], value_range, encoding)
    grid_nrow = math.ceil(math.sqrt(len(images)))
    return grid_image_bytes(images, nrow=grid_nrow, value_range=value_range, encoding=encoding)


def grid_size(count: int, side: int, padding: int = 2) -> tuple[int, int]:
    """(width, height) of :func:`image_of_batch`'s output for ``count`` images of ``side`` pixels."""
    if count == 1:
        return side, side
    cols = min(math.ceil(math.sqrt(count)), count)
    rows = math.ceil(count / cols)
    return cols * (side + padding) + padding, rows * (side + padding) + padding
