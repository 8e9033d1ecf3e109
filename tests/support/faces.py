"""Real face photos for the face tests: scikit-image's astronaut and composites built from it.

A composite places the photo on a canvas through a KNOWN similarity transform (rotation,
scale, shift), so a test can map the landmarks found on the original through the same
transform and compare them with what the detector finds on the composite.
"""

from __future__ import annotations

import functools
import io

import numpy as np
from PIL import Image

from service.imaging.align import invert

GREY = (128, 128, 128)


@functools.cache
def astronaut() -> np.ndarray:
    """Eileen Collins' NASA portrait (512 x 512, public domain), read-only."""
    from skimage import data

    photo = data.astronaut()
    photo.setflags(write=False)
    return photo


def rotation_matrix(
    angle_deg: float, scale: float, centre: tuple[float, float], shift: tuple[float, float]
) -> np.ndarray:
    """(2, 3) similarity: rotate by ``angle_deg`` and scale about ``centre``, then shift."""
    a = np.deg2rad(angle_deg)
    linear = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    offset = np.asarray(centre) + np.asarray(shift) - linear @ np.asarray(centre)
    return np.concatenate([linear, offset[:, None]], axis=1)


def composite(placements: list[tuple[np.ndarray, np.ndarray]], size: tuple[int, int], background=GREY) -> np.ndarray:
    """Paste each ``(photo, matrix photo->canvas)`` onto a ``size`` (w, h) canvas, in order."""
    canvas = Image.new("RGB", size, background)
    for photo, matrix in placements:
        source = Image.fromarray(np.ascontiguousarray(photo))
        coefficients = tuple(invert(matrix).ravel())  # Pillow wants canvas -> photo
        warped = source.transform(size, Image.Transform.AFFINE, coefficients, Image.Resampling.BICUBIC)
        mask = Image.new("L", source.size, 255).transform(size, Image.Transform.AFFINE, coefficients)
        canvas.paste(warped, (0, 0), mask)
    return np.asarray(canvas)


def two_faces() -> tuple[np.ndarray, list[np.ndarray]]:
    """A 900 x 600 canvas with the astronaut twice (the left one larger); returns it and the matrices."""
    photo = astronaut()
    big = rotation_matrix(0.0, 1.0, (256, 256), (-60, 0))
    small = rotation_matrix(-10.0, 0.8, (256, 256), (400, 0))
    return composite([(photo, big), (photo, small)], (900, 600)), [big, small]


def png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG")
    return buffer.getvalue()
