"""Similarity alignment of a face to the model's training crop (pure numpy and Pillow).

Coordinates everywhere are continuous pixel coordinates: x to the right, y down, ``(0, 0)``
the top-left corner of the top-left pixel, so pixel ``i`` covers ``[i, i + 1)`` and its centre
is ``i + 0.5``. Pillow's ``Image.transform`` samples in the same convention, which keeps a
landmark, its template point and the warped pixels in register to a fraction of a pixel.

A transform is a ``(2, 3)`` float64 matrix ``A`` with ``[u, v] = A @ [x, y, 1]``: photo
coordinates -> model-input coordinates (what :func:`similarity` estimates from landmarks).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from service.imaging.decode import REDUCING_GAP, RESAMPLE, check_value_range

# Extra source pixels around the crop's preimage, so the resampling filters near the crop's
# edges read real pixels (Lanczos reaches 3 pixels out).
FILTER_MARGIN = 4


def similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + translation mapping ``src`` onto ``dst``.

    Umeyama's closed form (IEEE TPAMI 13(4), 1991), with the reflection guard, in a dozen
    lines of numpy: exact for two points (the eye centres), least squares for more. Written
    here rather than taken from scikit-image's ``SimilarityTransform`` (which the tests
    compare against) because scikit-image and its SciPy dependency are not serving
    dependencies. ``src``/``dst``: ``(N, 2)`` with N >= 2 distinct points. Returns ``(2, 3)``.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or src.shape[0] < 2:
        raise ValueError(f"need two (N, 2) point sets with N >= 2, got {src.shape} and {dst.shape}")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = float((src_c**2).sum()) / len(src)
    if src_var <= 1e-12:
        raise ValueError("source points coincide; no similarity transform is defined")
    u, singular, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0  # the best orthogonal map would be a reflection: take the best rotation
    rotation = u @ np.diag(sign) @ vt
    scale = float((singular * sign).sum()) / src_var
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - matrix[:, :2] @ src_mean
    return matrix


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``(N, 2)`` points through a ``(2, 3)`` transform."""
    points = np.asarray(points, dtype=np.float64)
    return points @ np.asarray(matrix)[:, :2].T + np.asarray(matrix)[:, 2]


def invert(matrix: np.ndarray) -> np.ndarray:
    """The inverse ``(2, 3)`` transform."""
    linear = np.linalg.inv(np.asarray(matrix)[:, :2])
    return np.concatenate([linear, -(linear @ np.asarray(matrix)[:, 2])[:, None]], axis=1)


def scale_of(matrix: np.ndarray) -> float:
    """The uniform scale of a similarity (model pixels per photo pixel)."""
    return math.sqrt(abs(float(np.linalg.det(np.asarray(matrix)[:, :2]))))


def centre_crop_matrix(crop_box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """The transform of today's centre square: ``crop_box`` scaled onto ``size x size``."""
    left, top, right, _ = crop_box
    scale = size / (right - left)
    return np.array([[scale, 0.0, -left * scale], [0.0, scale, -top * scale]])


def preimage_box(matrix: np.ndarray, size: int, margin: float = 0.0) -> tuple[float, float, float, float]:
    """Bounding box (left, top, right, bottom) in the photo of the model's ``size x size`` square."""
    corners = apply(invert(matrix), np.array([[0, 0], [size, 0], [0, size], [size, size]], dtype=np.float64))
    (left, top), (right, bottom) = corners.min(axis=0) - margin, corners.max(axis=0) + margin
    return float(left), float(top), float(right), float(bottom)


def as_rgb_image(photo: Image.Image | np.ndarray) -> Image.Image:
    """``photo`` as an RGB Pillow image: a uint8 ``(H, W, 3)`` array is wrapped, an image checked."""
    if isinstance(photo, Image.Image):
        if photo.mode != "RGB":
            raise ValueError(f"expected an RGB image, got mode {photo.mode!r}")
        return photo
    photo = np.asarray(photo)
    if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
        raise ValueError(f"expected uint8 (H, W, 3), got {photo.dtype} {photo.shape}")
    return Image.fromarray(np.ascontiguousarray(photo), "RGB")


def _source(photo: Image.Image, matrix: np.ndarray, size: int) -> tuple[Image.Image, np.ndarray]:
    """The part of the photo the crop reads, shrunk (anti-aliased) to about the model's scale
    and edge-padded where the crop reaches past the border; returns it and the transform from
    its coordinates to the model input."""
    width, height = photo.size
    scale = scale_of(matrix)
    shrink = min(1.0, scale)  # only ever shrink here; an enlargement is left to the warp itself
    margin = FILTER_MARGIN / shrink
    left, top, right, bottom = preimage_box(matrix, size, margin)
    x0, y0 = max(0, math.floor(left)), max(0, math.floor(top))
    x1, y1 = min(width, math.ceil(right)), min(height, math.ceil(bottom))
    if x1 <= x0 or y1 <= y0:
        raise ValueError("the aligned crop does not overlap the photo")
    region = photo.crop((x0, y0, x1, y1))
    new_size = (max(1, round((x1 - x0) * shrink)), max(1, round((y1 - y0) * shrink)))
    if new_size != region.size:
        region = region.resize(new_size, RESAMPLE, reducing_gap=REDUCING_GAP)
    fx, fy = new_size[0] / (x1 - x0), new_size[1] / (y1 - y0)
    pad = [max(0, math.ceil((x0 - left) * fx)), max(0, math.ceil((y0 - top) * fy))]
    after = [max(0, math.ceil((right - x1) * fx)), max(0, math.ceil((bottom - y1) * fy))]
    pixels = np.pad(np.asarray(region), ((pad[1], after[1]), (pad[0], after[0]), (0, 0)), mode="edge")
    # source coords (s) -> photo: x = (s_x - pad_x) / fx + x0; then the photo -> model matrix.
    to_photo = np.array([[1 / fx, 0.0, x0 - pad[0] / fx], [0.0, 1 / fy, y0 - pad[1] / fy]])
    to_model = np.asarray(matrix)[:, :2] @ to_photo[:, :2]
    offset = np.asarray(matrix)[:, :2] @ to_photo[:, 2] + np.asarray(matrix)[:, 2]
    return Image.fromarray(pixels), np.concatenate([to_model, offset[:, None]], axis=1)


def warp_face(photo: Image.Image | np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The model's ``size x size`` view of ``photo`` through ``matrix`` (uint8 ``(size, size, 3)``).

    Shrinking goes through Pillow's Lanczos resize first (area-correct, alias-free: a bare
    affine warp samples only a few source pixels per output pixel and aliases fine detail),
    then a bicubic affine warp does the rotation and the remaining scale near 1. Where the
    crop reaches past the photo's border the edge pixels are repeated (FFHQ-style padding)
    rather than shown as black, which a model never saw in training.
    """
    source, to_model = _source(as_rgb_image(photo), matrix, size)
    coefficients = invert(to_model).ravel()  # Pillow wants output (model) -> input (source)
    warped = source.transform((size, size), Image.Transform.AFFINE, tuple(coefficients), Image.Resampling.BICUBIC)
    return np.asarray(warped)


def to_model_array(rgb: np.ndarray, value_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """uint8 ``(S, S, 3)`` -> float32 ``(3, S, S)`` in ``value_range`` (as ``decode.model_array``)."""
    low, high = check_value_range(value_range)
    pixels = np.asarray(rgb, dtype=np.float32) * np.float32((high - low) / 255.0) + np.float32(low)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))
