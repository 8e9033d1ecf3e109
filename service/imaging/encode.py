"""Model outputs -> PNG bytes: uint8 conversion, torchvision-style grids, PNG encoding."""

from __future__ import annotations

import io
import math

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
    """uint8 ``(H, W, 3)`` -> PNG bytes; ``compress_level`` None: 1 for small images, else 6."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 (H, W, 3), got {rgb.dtype} {rgb.shape}")
    if compress_level is None:
        small = rgb.shape[0] * rgb.shape[1] <= SMALL_PNG_PIXELS
        compress_level = SMALL_PNG_LEVEL if small else DEFAULT_PNG_LEVEL
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG", compress_level=compress_level)
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


def to_png_bytes(images: np.ndarray, value_range: tuple[float, float] = (0.0, 1.0)) -> bytes:
    """One ``(3, S, S)`` image -> PNG; a ``(N, 3, S, S)`` batch -> PNG of its grid
    (:func:`grid_png_bytes` defaults: 8 per row, 2 px padding)."""
    images = np.asarray(images)
    if images.ndim == 4:
        return grid_png_bytes(images, value_range=value_range)
    return encode_png(to_uint8(images, value_range))


def grid_png_bytes(
    batch: np.ndarray,
    nrow: int = 8,
    value_range: tuple[float, float] = (0.0, 1.0),
    padding: int = 2,
    pad_value: float | None = None,
) -> bytes:
    """``(N, 3, S, S)`` -> PNG of a grid; padding defaults to the low end of the range (black)."""
    low, _ = check_value_range(value_range)
    grid = make_grid(batch, nrow=nrow, padding=padding, pad_value=low if pad_value is None else pad_value)
    return encode_png(to_uint8(grid, value_range))


def png_of_batch(images: np.ndarray, value_range: tuple[float, float]) -> bytes:
    """One image as itself; several as a near-square grid (2 px black padding)."""
    if len(images) == 1:
        return to_png_bytes(images[0], value_range)
    return grid_png_bytes(images, nrow=math.ceil(math.sqrt(len(images))), value_range=value_range)
